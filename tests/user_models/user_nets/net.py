"""A module builder for tests/test_user_models.py (imported as user_nets.net)."""

import keras


def build(n_points, n_classes, width=4):
    inputs = keras.Input(shape=(n_points,))
    x = keras.layers.Dense(width, activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Dense(n_classes, activation="softmax")(x))
