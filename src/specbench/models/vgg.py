"""vgg: the VGG-like CNN of Wang et al. 2020 (registry entry "vgg": layout and defaults).

Stage i of the layout (filters f, n convolutions): conv<i> (or conv<i>_1 .. conv<i>_n)
Conv1D(f, kernel_size, ReLU) -> pool<i> MaxPool(2) [-> dropout_conv<i> Dropout(conv_dropout)];
then :func:`specbench.models.blocks.dense_head`. kernel_size sets every convolution's kernel.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from specbench.models.blocks import conv_bn_act, dense_head, max_pool, spectrum_input


def build_vgg(
    n_points: int,
    n_classes: int,
    *,
    name: str,
    stages: Sequence[tuple[int, int]],
    kernel_size: int,
    dense_units: Sequence[int],
    dropout_rate: float,
    dense_activation: str,
    batch_norm: bool,
    conv_dropout: float,
) -> keras.Model:
    """Uncompiled vgg for (batch, n_points) spectra; arguments as validated by registry.build."""
    inputs, x = spectrum_input(n_points)
    for stage, (filters, n_convs) in enumerate(stages, start=1):
        for j in range(1, n_convs + 1):
            x = conv_bn_act(
                x,
                f"conv{stage}" if n_convs == 1 else f"conv{stage}_{j}",
                filters=filters,
                kernel_size=kernel_size,
                batch_norm=batch_norm,
            )
        x = max_pool(x, f"pool{stage}", 2)
        if conv_dropout > 0:
            x = layers.Dropout(conv_dropout, name=f"dropout_conv{stage}")(x)
    outputs = dense_head(
        x,
        n_classes,
        dense_units=dense_units,
        dropout_rate=dropout_rate,
        dense_activation=dense_activation,
    )
    return keras.Model(inputs, outputs, name=name)
