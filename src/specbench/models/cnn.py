"""cnn2, cnn3, cnn6, cnn_bn: plain CNNs, a stack of convolutional stages and a dense head.

Each stage i is conv<i> Conv1D(filters, kernel, strides) [-> conv<i>_bn BatchNormalization]
-> activation -> pool<i> MaxPool(pool_size, pool_strides) [-> dropout_conv<i>]; then
:func:`specbench.models.blocks.dense_head`. The published stage layouts, kernels, dense layers
and activations of the four architectures are data in the registry
(:data:`specbench.models.registry.ARCHITECTURES`, with their references); the registry's
:func:`~specbench.models.registry.build` validates the hyperparameters and calls
:func:`build_cnn` with them and the layout.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from specbench.models.blocks import conv_stages, dense_head, spectrum_input


def build_cnn(
    n_points: int,
    n_classes: int,
    *,
    name: str,
    stages: Sequence[dict],
    activation,
    kernel_size: int | Sequence[int],
    dense_units: Sequence[int],
    dropout_rate: float,
    dense_activation: str,
    batch_norm: bool,
    conv_dropout: float,
) -> keras.Model:
    """Uncompiled plain CNN `name`: one conv stage per entry of `stages` (filters, strides,
    pool_size, pool_strides) with the kernels of `kernel_size` (one int for all stages or one per
    stage) and the convolutions' `activation` (a Keras name or ("leaky_relu", slope)), then the
    dense head. Arguments are taken as validated (registry.build)."""
    inputs, x = spectrum_input(n_points)
    x = conv_stages(
        x,
        stages,
        kernel_size,
        activation=activation,
        batch_norm=batch_norm,
        conv_dropout=conv_dropout,
    )
    outputs = dense_head(
        x,
        n_classes,
        dense_units=dense_units,
        dropout_rate=dropout_rate,
        dense_activation=dense_activation,
    )
    return keras.Model(inputs, outputs, name=name)
