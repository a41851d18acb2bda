"""Builders that are wrong in one way each (tests/test_user_models.py)."""

import keras


def wrong_signature(n_points):
    raise AssertionError("never called")


def not_a_model(n_points, n_classes):
    return "a string"


def wrong_input(n_points, n_classes):
    inputs = keras.Input(shape=(n_points + 1,))
    return keras.Model(inputs, keras.layers.Dense(n_classes, activation="softmax")(inputs))


def wrong_output(n_points, n_classes):
    inputs = keras.Input(shape=(n_points,))
    return keras.Model(inputs, keras.layers.Dense(n_classes + 1, activation="softmax")(inputs))


def no_softmax(n_points, n_classes):
    inputs = keras.Input(shape=(n_points,))
    return keras.Model(inputs, keras.layers.Dense(n_classes)(inputs))


def no_input(n_points, n_classes):
    # no keras.Input: built on the first batch it sees; trained, then refused by the evaluation
    return keras.Sequential([keras.layers.Dense(n_classes, activation="softmax")])
