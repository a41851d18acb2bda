"""cnn2: the two-convolution CNN of Lee et al. 2020 (Nat. Commun. 11, 86), "CNN2".

conv1 Conv1D(64, 50, stride 2, ReLU) -> pool1 MaxPool(3, stride 2) -> conv2 Conv1D(64, 25,
stride 3, ReLU) -> pool2 MaxPool(2, stride 3) -> flatten -> dense [2000, 500] (linear) with
Dropout 0.3 before each dense layer and before the softmax output. 19,150,728 parameters at
5000 points and 500 classes.
"""

from __future__ import annotations

import keras

from specbench.models.blocks import hyperparameters, stacked_cnn

#: Per-stage layout (the kernels come from the kernel_size hyperparameter, published [50, 25]).
STAGES = (
    {"filters": 64, "strides": 2, "pool_size": 3, "pool_strides": 2},
    {"filters": 64, "strides": 3, "pool_size": 2, "pool_strides": 3},
)


def build_cnn2(
    n_points: int,
    n_classes: int,
    *,
    kernel_size: int | tuple[int, ...] = (50, 25),
    dense_units: tuple[int, ...] = (2000, 500),
    dropout_rate: float = 0.3,
    dense_activation: str = "linear",
    batch_norm: bool = False,
    conv_dropout: float = 0.0,
) -> keras.Model:
    """Uncompiled cnn2 for (batch, n_points) spectra; see the module docstring."""
    hp = hyperparameters(
        "cnn2",
        n_points,
        n_classes,
        kernel_size=kernel_size,
        dense_units=dense_units,
        dropout_rate=dropout_rate,
        dense_activation=dense_activation,
        batch_norm=batch_norm,
        conv_dropout=conv_dropout,
    )
    return stacked_cnn("cnn2", n_points, n_classes, STAGES, hp)
