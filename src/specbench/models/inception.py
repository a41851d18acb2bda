"""inc3 / inc6: cnn3 with 3 / 6 Inception-v1 blocks, Lee et al. 2020 (Nat. Commun. 11, 86).

The stem is cnn3's three convolutional stages (conv1..conv3 with their pooling layers); then
3 (inc3) or 6 (inc6) Inception blocks, each four ReLU branches concatenated on channels:
1x1; 1x1 reduce -> 3; 1x1 reduce -> 5; AveragePooling(3, stride 1, "same") -> 1x1 projection.
Block filters are given in GoogLeNet order [1x1, 3 reduce, 3, 5 reduce, 5, pool projection]
(the assignment that reproduces the published parameter counts); then flatten -> dense
(inc3 [3700, 740], inc6 [4000, 400], linear) with Dropout 0.3 before each dense layer and
before the softmax output. 78,870,534 (inc3) / 186,817,238 (inc6) parameters at 5000 points and
500 classes. batch_norm adds BatchNormalization after every convolution (stem and branches);
conv_dropout adds Dropout after the three stem pooling layers only.
"""

from __future__ import annotations

import keras
from keras import layers

from specbench.models.blocks import conv_bn_act, conv_stage, dense_head, hyperparameters
from specbench.models.blocks import spectrum_input, stage_kernels

#: The stem: cnn3's stages (kernels from kernel_size, published [20, 15, 10]). Repeated here,
#: not imported from cnn3.py, so that editing cnn3 does not rerun inc3/inc6 jobs (a test checks
#: that both stay equal).
STEM = (
    {"filters": 64, "strides": 1, "pool_size": 3, "pool_strides": 3},
    {"filters": 64, "strides": 1, "pool_size": 2, "pool_strides": 3},
    {"filters": 64, "strides": 2, "pool_size": 1, "pool_strides": 2},
)

#: Filters of the Inception blocks: [1x1, 3 reduce, 3, 5 reduce, 5, pool projection].
BLOCK_FILTERS = (
    (22, 32, 42, 6, 12, 10),
    (28, 43, 56, 7, 14, 14),
    (37, 56, 73, 9, 18, 19),
    (49, 74, 96, 12, 24, 25),
    (65, 97, 126, 16, 32, 32),
    (85, 128, 166, 19, 38, 43),
)


def inception_block(x, name: str, filters, *, batch_norm: bool = False):
    """One Inception-v1 block "<name>" (layers "<name>_1x1", "<name>_3x3_reduce", ...)."""
    f1, r3, f3, r5, f5, fp = filters

    def conv(h, suffix, n, k):
        return conv_bn_act(
            h,
            f"{name}_{suffix}",
            filters=n,
            kernel_size=k,
            activation="relu",
            batch_norm=batch_norm,
        )

    b1 = conv(x, "1x1", f1, 1)
    b3 = conv(conv(x, "3x3_reduce", r3, 1), "3x3", f3, 3)
    b5 = conv(conv(x, "5x5_reduce", r5, 1), "5x5", f5, 5)
    bp = layers.AveragePooling1D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    bp = conv(bp, "pool_proj", fp, 1)
    return layers.Concatenate(axis=-1, name=f"{name}_concat")([b1, b3, b5, bp])


def _build_inception(name: str, n_blocks: int, n_points: int, n_classes: int, hp: dict):
    kernels = stage_kernels(hp["kernel_size"], len(STEM))
    inputs, x = spectrum_input(n_points)
    for index, (stage, kernel) in enumerate(zip(STEM, kernels, strict=True), start=1):
        x = conv_stage(
            x,
            index,
            kernel_size=kernel,
            batch_norm=hp["batch_norm"],
            conv_dropout=hp["conv_dropout"],
            **stage,
        )
    for block in range(n_blocks):
        x = inception_block(
            x, f"inception{block + 1}", BLOCK_FILTERS[block], batch_norm=hp["batch_norm"]
        )
    outputs = dense_head(
        x,
        n_classes,
        dense_units=hp["dense_units"],
        dropout_rate=hp["dropout_rate"],
        dense_activation=hp["dense_activation"],
    )
    return keras.Model(inputs, outputs, name=name)


def build_inc3(
    n_points: int,
    n_classes: int,
    *,
    kernel_size: int | tuple[int, ...] = (20, 15, 10),
    dense_units: tuple[int, ...] = (3700, 740),
    dropout_rate: float = 0.3,
    dense_activation: str = "linear",
    batch_norm: bool = False,
    conv_dropout: float = 0.0,
) -> keras.Model:
    """Uncompiled inc3 for (batch, n_points) spectra; see the module docstring."""
    hp = hyperparameters(
        "inc3",
        n_points,
        n_classes,
        kernel_size=kernel_size,
        dense_units=dense_units,
        dropout_rate=dropout_rate,
        dense_activation=dense_activation,
        batch_norm=batch_norm,
        conv_dropout=conv_dropout,
    )
    return _build_inception("inc3", 3, n_points, n_classes, hp)


def build_inc6(
    n_points: int,
    n_classes: int,
    *,
    kernel_size: int | tuple[int, ...] = (20, 15, 10),
    dense_units: tuple[int, ...] = (4000, 400),
    dropout_rate: float = 0.3,
    dense_activation: str = "linear",
    batch_norm: bool = False,
    conv_dropout: float = 0.0,
) -> keras.Model:
    """Uncompiled inc6 for (batch, n_points) spectra; see the module docstring."""
    hp = hyperparameters(
        "inc6",
        n_points,
        n_classes,
        kernel_size=kernel_size,
        dense_units=dense_units,
        dropout_rate=dropout_rate,
        dense_activation=dense_activation,
        batch_norm=batch_norm,
        conv_dropout=conv_dropout,
    )
    return _build_inception("inc6", 6, n_points, n_classes, hp)
