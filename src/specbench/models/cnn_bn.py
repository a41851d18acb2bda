"""cnn_bn: the batch-normalised CNN of Liu et al. 2017 (Analyst 142, 4067).

Three stages conv<i> Conv1D(f, k) -> conv<i>_bn BatchNormalization -> conv<i>_leaky_relu
LeakyReLU(0.1) -> pool<i> MaxPool(2) with (f, k) = (16, 21), (32, 11), (64, 5) -> flatten ->
dense [2048] (linear) with Dropout 0.5 before the dense layer and before the softmax output.
82,963,316 parameters at 5000 points and 500 classes. The convolutions keep their bias next to
BatchNormalization (as the published parameter count requires). The paper's modification is the
override batch_norm=false, dense_activation=relu.
"""

from __future__ import annotations

import keras

from specbench.models.blocks import LEAKY, hyperparameters, stacked_cnn

#: Per-stage layout (kernels from the kernel_size hyperparameter, published [21, 11, 5]).
STAGES = tuple(
    {"filters": filters, "strides": 1, "pool_size": 2, "pool_strides": 2}
    for filters in (16, 32, 64)
)


def build_cnn_bn(
    n_points: int,
    n_classes: int,
    *,
    kernel_size: int | tuple[int, ...] = (21, 11, 5),
    dense_units: tuple[int, ...] = (2048,),
    dropout_rate: float = 0.5,
    dense_activation: str = "linear",
    batch_norm: bool = True,
    conv_dropout: float = 0.0,
) -> keras.Model:
    """Uncompiled cnn_bn for (batch, n_points) spectra; see the module docstring."""
    hp = hyperparameters(
        "cnn_bn",
        n_points,
        n_classes,
        kernel_size=kernel_size,
        dense_units=dense_units,
        dropout_rate=dropout_rate,
        dense_activation=dense_activation,
        batch_norm=batch_norm,
        conv_dropout=conv_dropout,
    )
    return stacked_cnn("cnn_bn", n_points, n_classes, STAGES, hp, activation=LEAKY)
