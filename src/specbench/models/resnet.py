"""resnet: the 1-D ResNet of Ho et al. 2019 (registry entry "resnet": layout and defaults).

conv1 Conv1D(stem_filters, kernel_size, stem_activation) [-> conv1_bn] -> n_layers residual
layers of blocks_per_layer blocks with `filters` filters. Block "layer<l>_block<b>": conv1 ->
[bn1] -> relu1 -> conv2 -> [bn2], plus the shortcut, -> add -> relu. The first block of each
layer has stride 2 (in conv1) and a shortcut Conv1D(filters, 1, stride 2) [-> BN]; the second
block's shortcut is the identity. -> [dropout_conv<l> after each layer] -> dense head.
batch_norm=false removes every BatchNormalization (stem, blocks, shortcuts).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from specbench.models.blocks import conv_bn_act, dense_head, spectrum_input


def residual_block(x, name: str, *, filters: int, kernel_size: int, strides: int, batch_norm: bool):
    """conv-[BN]-ReLU, conv-[BN], + shortcut (1x1 strided conv [+ BN] when strides > 1 or the
    channels change, else identity), add, ReLU; layers named "<name>_...".
    """
    shortcut = x
    if strides != 1 or x.shape[-1] != filters:
        shortcut = layers.Conv1D(
            filters, 1, strides=strides, padding="same", name=f"{name}_shortcut"
        )(x)
        if batch_norm:
            shortcut = layers.BatchNormalization(name=f"{name}_shortcut_bn")(shortcut)
    y = layers.Conv1D(
        filters,
        kernel_size,
        strides=strides,
        padding="same",
        activation=None if batch_norm else "relu",
        name=f"{name}_conv1",
    )(x)
    if batch_norm:
        y = layers.BatchNormalization(name=f"{name}_bn1")(y)
        y = layers.Activation("relu", name=f"{name}_relu1")(y)
    y = layers.Conv1D(filters, kernel_size, padding="same", name=f"{name}_conv2")(y)
    if batch_norm:
        y = layers.BatchNormalization(name=f"{name}_bn2")(y)
    y = layers.Add(name=f"{name}_add")([y, shortcut])
    return layers.Activation("relu", name=f"{name}_relu")(y)


def build_resnet(
    n_points: int,
    n_classes: int,
    *,
    name: str,
    stem_filters: int,
    filters: int,
    n_layers: int,
    blocks_per_layer: int,
    kernel_size: int,
    stem_activation: str,
    dense_units: Sequence[int],
    dropout_rate: float,
    dense_activation: str,
    batch_norm: bool,
    conv_dropout: float,
) -> keras.Model:
    """Uncompiled resnet for (batch, n_points) spectra; arguments as validated by registry.build."""
    inputs, x = spectrum_input(n_points)
    x = conv_bn_act(
        x,
        "conv1",
        filters=stem_filters,
        kernel_size=kernel_size,
        activation=stem_activation,
        batch_norm=batch_norm,
    )
    for layer in range(1, n_layers + 1):
        for block in range(1, blocks_per_layer + 1):
            x = residual_block(
                x,
                f"layer{layer}_block{block}",
                filters=filters,
                kernel_size=kernel_size,
                strides=2 if block == 1 else 1,
                batch_norm=batch_norm,
            )
        if conv_dropout > 0:
            x = layers.Dropout(conv_dropout, name=f"dropout_conv{layer}")(x)
    outputs = dense_head(
        x,
        n_classes,
        dense_units=dense_units,
        dropout_rate=dropout_rate,
        dense_activation=dense_activation,
    )
    return keras.Model(inputs, outputs, name=name)
