"""cnn6: the six-convolution CNN of Szymanski et al. 2021 (Chem. Mater. 33, 4204).

Six stages conv<i> Conv1D(64, k, ReLU) -> pool<i> MaxPool(p, stride 2) with k = 35, 30, 25, 20,
15, 10 and p = 3, 3, 2, 1, 1, 1 -> flatten -> dense [3100, 1200] (ReLU) with Dropout 0.7 before
each dense layer and before the softmax output. 20,212,224 parameters at 5000 points and 500
classes. The paper's modifications are overrides: conv_dropout=0.2 with dropout_rate=0.0
(Dropout after each pooling layer instead of in the head) and batch_norm=true (conv -> BN ->
ReLU).
"""

from __future__ import annotations

import keras

from specbench.models.blocks import hyperparameters, stacked_cnn

#: Per-stage layout (kernels from the kernel_size hyperparameter, published 35 ... 10).
STAGES = tuple(
    {"filters": 64, "strides": 1, "pool_size": pool, "pool_strides": 2}
    for pool in (3, 3, 2, 1, 1, 1)
)


def build_cnn6(
    n_points: int,
    n_classes: int,
    *,
    kernel_size: int | tuple[int, ...] = (35, 30, 25, 20, 15, 10),
    dense_units: tuple[int, ...] = (3100, 1200),
    dropout_rate: float = 0.7,
    dense_activation: str = "relu",
    batch_norm: bool = False,
    conv_dropout: float = 0.0,
) -> keras.Model:
    """Uncompiled cnn6 for (batch, n_points) spectra; see the module docstring."""
    hp = hyperparameters(
        "cnn6",
        n_points,
        n_classes,
        kernel_size=kernel_size,
        dense_units=dense_units,
        dropout_rate=dropout_rate,
        dense_activation=dense_activation,
        batch_norm=batch_norm,
        conv_dropout=conv_dropout,
    )
    return stacked_cnn("cnn6", n_points, n_classes, STAGES, hp)
