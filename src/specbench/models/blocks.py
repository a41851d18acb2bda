"""Layer blocks shared by the architecture builders (imports Keras).

Conventions of every builder: the model input is a float32 spectrum of shape (batch, n_points)
(layer "spectrum"), reshaped to (n_points, 1) (layer "channel"); every convolution uses "same"
padding and every pooling layer "valid" padding (except the stride-1 "same" average pooling of
an Inception block's pool branch); every layer is named; the output layer "predictions" is
Dense(n_classes, softmax) computed in float32 so that it stays float32 under the
mixed_bfloat16 policy.

With batch_norm, a convolution is conv (no activation, with bias) -> BatchNormalization ->
activation layer; without, the activation is fused into the convolution layer (ReLU) or is a
separate layer (LeakyReLU).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers

from specbench.models.registry import HyperparameterError

__all__ = [
    "conv_bn_act",
    "conv_stage",
    "conv_stages",
    "dense_head",
    "max_pool",
    "spectrum_input",
    "stage_kernels",
]


def stage_kernels(kernel_size: int | Sequence[int], n_stages: int) -> list[int]:
    """Per-stage kernel sizes from the kernel_size hyperparameter (an int or one per stage)."""
    if isinstance(kernel_size, int):
        return [kernel_size] * n_stages
    return [int(k) for k in kernel_size]


def spectrum_input(n_points: int) -> tuple[keras.KerasTensor, keras.KerasTensor]:
    """(model input of shape (n_points,), the same reshaped to (n_points, 1))."""
    inputs = keras.Input(shape=(n_points,), name="spectrum")
    return inputs, layers.Reshape((n_points, 1), name="channel")(inputs)


def _activation_layer(activation, name: str) -> layers.Layer:
    if isinstance(activation, tuple) and activation[0] == "leaky_relu":
        return layers.LeakyReLU(negative_slope=activation[1], name=name)
    return layers.Activation(activation, name=name)


def _activation_name(activation) -> str:
    return activation[0] if isinstance(activation, tuple) else activation


def conv_bn_act(
    x,
    name: str,
    *,
    filters: int,
    kernel_size: int,
    strides: int = 1,
    activation="relu",
    batch_norm: bool = False,
):
    """Conv1D ("same") [-> BatchNormalization "<name>_bn"] [-> activation "<name>_<act>"].

    `activation`: a Keras activation name or ("leaky_relu", negative slope); "linear" adds
    no activation layer.
    """
    fused = not batch_norm and isinstance(activation, str)
    x = layers.Conv1D(
        filters,
        kernel_size,
        strides=strides,
        padding="same",
        activation=activation if fused else None,
        name=name,
    )(x)
    if batch_norm:
        x = layers.BatchNormalization(name=f"{name}_bn")(x)
    if not fused and activation != "linear":
        x = _activation_layer(activation, f"{name}_{_activation_name(activation)}")(x)
    return x


def max_pool(x, name: str, pool_size: int, strides: int | None = None):
    """MaxPooling1D ("valid"); ValueError if the feature map is shorter than the pool."""
    length = x.shape[1]
    if length is not None and length < pool_size:
        raise HyperparameterError(
            f"n_points too small: the feature map before {name} has length {length}, shorter "
            f"than the pool size {pool_size}"
        )
    return layers.MaxPooling1D(pool_size, strides=strides, padding="valid", name=name)(x)


def conv_stage(
    x,
    index: int,
    *,
    filters: int,
    kernel_size: int,
    pool_size: int,
    pool_strides: int | None = None,
    strides: int = 1,
    activation="relu",
    batch_norm: bool = False,
    conv_dropout: float = 0.0,
):
    """conv<i> [-> conv<i>_bn] [-> act] -> pool<i> [-> dropout_conv<i> if conv_dropout > 0]."""
    x = conv_bn_act(
        x,
        f"conv{index}",
        filters=filters,
        kernel_size=kernel_size,
        strides=strides,
        activation=activation,
        batch_norm=batch_norm,
    )
    x = max_pool(x, f"pool{index}", pool_size, pool_strides)
    if conv_dropout > 0:
        x = layers.Dropout(conv_dropout, name=f"dropout_conv{index}")(x)
    return x


def conv_stages(
    x,
    stages: Sequence[dict],
    kernel_size: int | Sequence[int],
    *,
    activation="relu",
    batch_norm: bool = False,
    conv_dropout: float = 0.0,
):
    """One :func:`conv_stage` per entry of `stages` (filters, strides, pool_size,
    pool_strides), stage i with kernel i of `kernel_size` (one int for all or one per stage)."""
    kernels = stage_kernels(kernel_size, len(stages))
    for index, (stage, kernel) in enumerate(zip(stages, kernels, strict=True), start=1):
        x = conv_stage(
            x,
            index,
            kernel_size=kernel,
            activation=activation,
            batch_norm=batch_norm,
            conv_dropout=conv_dropout,
            **stage,
        )
    return x


def dense_head(
    x,
    n_classes: int,
    *,
    dense_units: Sequence[int],
    dropout_rate: float,
    dense_activation: str,
):
    """flatten -> ([dropout_dense<i>] -> dense<i>)* -> [dropout_predictions] -> predictions.

    Dropout layers are only added when dropout_rate > 0. The output layer is float32 softmax.
    """
    x = layers.Flatten(name="flatten")(x)
    for i, units in enumerate(dense_units, start=1):
        if dropout_rate > 0:
            x = layers.Dropout(dropout_rate, name=f"dropout_dense{i}")(x)
        x = layers.Dense(int(units), activation=dense_activation, name=f"dense{i}")(x)
    if dropout_rate > 0:
        x = layers.Dropout(dropout_rate, name="dropout_predictions")(x)
    return layers.Dense(n_classes, activation="softmax", dtype="float32", name="predictions")(x)
