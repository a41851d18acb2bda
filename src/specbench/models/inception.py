"""inc3 / inc6: cnn3 with 3 / 6 Inception-v1 blocks, Lee et al. 2020 (registry entries "inc3",
"inc6": the stem, the number of blocks and the defaults).

The stem is a plain CNN's stages (the registry gives cnn3's, conv1..conv3 with their pooling
layers); then n_blocks Inception blocks, each four ReLU branches concatenated on channels:
1x1; 1x1 reduce -> 3; 1x1 reduce -> 5; AveragePooling(3, stride 1, "same") -> 1x1 projection.
Block filters (:data:`BLOCK_FILTERS`) are given in GoogLeNet order [1x1, 3 reduce, 3, 5 reduce,
5, pool projection] (the assignment that reproduces the published parameter counts); then the
dense head. batch_norm adds BatchNormalization after every convolution (stem and branches);
conv_dropout adds Dropout after the stem's pooling layers only.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from specbench.models.blocks import conv_bn_act, conv_stages, dense_head, spectrum_input

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


def build_inception(
    n_points: int,
    n_classes: int,
    *,
    name: str,
    stem: Sequence[dict],
    n_blocks: int,
    kernel_size: int | Sequence[int],
    dense_units: Sequence[int],
    dropout_rate: float,
    dense_activation: str,
    batch_norm: bool,
    conv_dropout: float,
) -> keras.Model:
    """Uncompiled inception CNN `name` (the stem's stages, then `n_blocks` Inception blocks);
    arguments as validated by registry.build."""
    if not 1 <= n_blocks <= len(BLOCK_FILTERS):
        raise ValueError(f"n_blocks={n_blocks!r} must be within [1, {len(BLOCK_FILTERS)}]")
    inputs, x = spectrum_input(n_points)
    x = conv_stages(x, stem, kernel_size, batch_norm=batch_norm, conv_dropout=conv_dropout)
    for block in range(n_blocks):
        x = inception_block(x, f"inception{block + 1}", BLOCK_FILTERS[block], batch_norm=batch_norm)
    outputs = dense_head(
        x,
        n_classes,
        dense_units=dense_units,
        dropout_rate=dropout_rate,
        dense_activation=dense_activation,
    )
    return keras.Model(inputs, outputs, name=name)
