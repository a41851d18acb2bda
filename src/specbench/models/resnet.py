"""resnet: the 1-D ResNet of Ho et al. 2019 (Nat. Commun. 10, 4927).

conv1 Conv1D(64, 5, linear) -> conv1_bn BatchNormalization -> 6 residual layers of 2 blocks with
100 filters and kernel 5. Block "layer<l>_block<b>": conv1 -> bn1 -> relu1 -> conv2 -> bn2, plus
the shortcut, -> add -> relu. The first block of each layer has stride 2 (in conv1) and a
shortcut Conv1D(100, 1, stride 2) -> BatchNormalization; the second block's shortcut is the
identity. -> flatten -> Dropout 0.5 -> softmax output (dense_units default []). 5,204,540
parameters at 5000 points and 500 classes.

batch_norm=false removes every BatchNormalization (stem, blocks, shortcuts); stem_activation
sets the first convolution's activation; conv_dropout adds Dropout after each residual layer
("dropout_conv<l>"). The paper's modification is batch_norm=false, stem_activation=relu,
dense_units=[3100, 1200], dense_activation=relu, dropout_rate=0.5.
"""

from __future__ import annotations

import keras
from keras import layers

from specbench.models.blocks import conv_bn_act, dense_head, hyperparameters, spectrum_input

N_LAYERS = 6
BLOCKS_PER_LAYER = 2
FILTERS = 100
STEM_FILTERS = 64


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
    kernel_size: int = 5,
    stem_activation: str = "linear",
    dense_units: tuple[int, ...] = (),
    dropout_rate: float = 0.5,
    dense_activation: str = "linear",
    batch_norm: bool = True,
    conv_dropout: float = 0.0,
) -> keras.Model:
    """Uncompiled resnet for (batch, n_points) spectra; see the module docstring."""
    hp = hyperparameters(
        "resnet",
        n_points,
        n_classes,
        kernel_size=kernel_size,
        stem_activation=stem_activation,
        dense_units=dense_units,
        dropout_rate=dropout_rate,
        dense_activation=dense_activation,
        batch_norm=batch_norm,
        conv_dropout=conv_dropout,
    )
    inputs, x = spectrum_input(n_points)
    x = conv_bn_act(
        x,
        "conv1",
        filters=STEM_FILTERS,
        kernel_size=hp["kernel_size"],
        activation=hp["stem_activation"],
        batch_norm=hp["batch_norm"],
    )
    for layer in range(1, N_LAYERS + 1):
        for block in range(1, BLOCKS_PER_LAYER + 1):
            x = residual_block(
                x,
                f"layer{layer}_block{block}",
                filters=FILTERS,
                kernel_size=hp["kernel_size"],
                strides=2 if block == 1 else 1,
                batch_norm=hp["batch_norm"],
            )
        if hp["conv_dropout"] > 0:
            x = layers.Dropout(hp["conv_dropout"], name=f"dropout_conv{layer}")(x)
    outputs = dense_head(
        x,
        n_classes,
        dense_units=hp["dense_units"],
        dropout_rate=hp["dropout_rate"],
        dense_activation=hp["dense_activation"],
    )
    return keras.Model(inputs, outputs, name="resnet")
