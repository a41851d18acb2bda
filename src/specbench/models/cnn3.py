"""cnn3: the three-convolution CNN of Lee et al. 2020 (Nat. Commun. 11, 86), "CNN3".

conv1 Conv1D(64, 20, ReLU) -> pool1 MaxPool(3, stride 3) -> conv2 Conv1D(64, 15, ReLU) ->
pool2 MaxPool(2, stride 3) -> conv3 Conv1D(64, 10, stride 2, ReLU) -> pool3 MaxPool(1,
stride 2) -> flatten -> dense [2500, 1000] (linear) with Dropout 0.3 before each dense layer and
before the softmax output. 25,347,872 parameters at 5000 points and 500 classes.
"""

from __future__ import annotations

import keras

from specbench.models.blocks import hyperparameters, stacked_cnn

#: Per-stage layout (kernels from the kernel_size hyperparameter, published [20, 15, 10]);
#: also the stem of inc3/inc6.
STAGES = (
    {"filters": 64, "strides": 1, "pool_size": 3, "pool_strides": 3},
    {"filters": 64, "strides": 1, "pool_size": 2, "pool_strides": 3},
    {"filters": 64, "strides": 2, "pool_size": 1, "pool_strides": 2},
)


def build_cnn3(
    n_points: int,
    n_classes: int,
    *,
    kernel_size: int | tuple[int, ...] = (20, 15, 10),
    dense_units: tuple[int, ...] = (2500, 1000),
    dropout_rate: float = 0.3,
    dense_activation: str = "linear",
    batch_norm: bool = False,
    conv_dropout: float = 0.0,
) -> keras.Model:
    """Uncompiled cnn3 for (batch, n_points) spectra; see the module docstring."""
    hp = hyperparameters(
        "cnn3",
        n_points,
        n_classes,
        kernel_size=kernel_size,
        dense_units=dense_units,
        dropout_rate=dropout_rate,
        dense_activation=dense_activation,
        batch_norm=batch_norm,
        conv_dropout=conv_dropout,
    )
    return stacked_cnn("cnn3", n_points, n_classes, STAGES, hp)
