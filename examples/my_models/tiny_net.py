"""An example user model: a small 1-D CNN written with Keras layers only.

Benchmarked with a config entry ``{architecture: examples/my_models/tiny_net.py:build, filters: 16}``
(path relative to the directory snakemake runs in). Checked by hand with
``specbench check-model examples/my_models/tiny_net.py:build --points 5000 --classes 500``.
"""

import keras
from layers import conv_stage


def build(n_points, n_classes, filters=16, kernel_size=9, stages=2, dense_units=64):
    """Uncompiled keras.Model: (batch, n_points) spectra -> softmax over n_classes."""
    inputs = keras.Input(shape=(n_points,), name="spectrum")
    x = keras.layers.Reshape((n_points, 1), name="channels")(inputs)
    for i in range(stages):
        x = conv_stage(x, filters * 2**i, kernel_size, name=f"stage{i + 1}")
    # Flatten keeps where each feature is: the classes differ in their peaks' positions, which
    # global average pooling would throw away (this model then stayed at chance, 2026-12-03)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(dense_units, activation="relu", name="dense")(x)
    outputs = keras.layers.Dense(
        n_classes, activation="softmax", dtype="float32", name="probabilities"
    )(x)
    return keras.Model(inputs, outputs, name="tiny_net")
