"""vgg: the VGG-like CNN of Wang et al. 2020 (J. Chem. Inf. Model. 60, 2004).

conv1 Conv1D(6, 5, ReLU) -> pool1 MaxPool(2) -> dropout_conv1 Dropout(0.2), then for stage i =
2, 3, 4 with f = 16, 32, 64: conv<i>_1, conv<i>_2 Conv1D(f, 5, ReLU) -> pool<i> MaxPool(2) ->
dropout_conv<i> Dropout(0.2); -> flatten -> dense [120, 84, 186] (linear), no dense dropout ->
softmax output. 2,556,174 parameters at 5000 points and 500 classes. kernel_size sets every
convolution's kernel; the paper's modification is kernel_size=20, conv_dropout=0.0,
dense_units=[2000, 500], dense_activation=relu, dropout_rate=0.3.
"""

from __future__ import annotations

import keras
from keras import layers

from specbench.models.blocks import conv_bn_act, dense_head, hyperparameters, max_pool
from specbench.models.blocks import spectrum_input

#: (filters, number of convolutions) of the four stages.
STAGES = ((6, 1), (16, 2), (32, 2), (64, 2))


def build_vgg(
    n_points: int,
    n_classes: int,
    *,
    kernel_size: int = 5,
    dense_units: tuple[int, ...] = (120, 84, 186),
    dropout_rate: float = 0.0,
    dense_activation: str = "linear",
    batch_norm: bool = False,
    conv_dropout: float = 0.2,
) -> keras.Model:
    """Uncompiled vgg for (batch, n_points) spectra; see the module docstring."""
    hp = hyperparameters(
        "vgg",
        n_points,
        n_classes,
        kernel_size=kernel_size,
        dense_units=dense_units,
        dropout_rate=dropout_rate,
        dense_activation=dense_activation,
        batch_norm=batch_norm,
        conv_dropout=conv_dropout,
    )
    inputs, x = spectrum_input(n_points)
    for stage, (filters, n_convs) in enumerate(STAGES, start=1):
        for j in range(1, n_convs + 1):
            x = conv_bn_act(
                x,
                f"conv{stage}" if n_convs == 1 else f"conv{stage}_{j}",
                filters=filters,
                kernel_size=hp["kernel_size"],
                batch_norm=hp["batch_norm"],
            )
        x = max_pool(x, f"pool{stage}", 2)
        if hp["conv_dropout"] > 0:
            x = layers.Dropout(hp["conv_dropout"], name=f"dropout_conv{stage}")(x)
    outputs = dense_head(
        x,
        n_classes,
        dense_units=hp["dense_units"],
        dropout_rate=hp["dropout_rate"],
        dense_activation=hp["dense_activation"],
    )
    return keras.Model(inputs, outputs, name="vgg")
