"""Helpers of the example models (imported by tiny_net.py: a code input of its jobs too)."""

import keras


def conv_stage(x, filters: int, kernel_size: int, name: str):
    """Conv1D -> ReLU -> MaxPool(2)."""
    x = keras.layers.Conv1D(
        filters, kernel_size, padding="same", activation="relu", name=f"{name}_conv"
    )(x)
    return keras.layers.MaxPooling1D(2, name=f"{name}_pool")(x)
