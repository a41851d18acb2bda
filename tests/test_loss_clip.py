"""benchmarks/loss_clip.py: its metrics count what the clipped cross-entropy drops."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "loss_clip.py"


@pytest.fixture(scope="module")
def loss_clip():
    spec = importlib.util.spec_from_file_location("loss_clip", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_metrics_count_the_spectra_the_clipped_loss_gives_no_gradient(loss_clip):
    import keras

    eps = keras.config.epsilon()
    labels = np.array([0, 1, 2, 1])
    probabilities = np.array(
        [
            [1e-9, 1 - 1e-9, 0.0],  # true class below eps
            [0.2, 0.5, 0.3],
            [0.0, 0.0, 1.0],  # true class above 1 - eps
            [0.6, 0.4, 0.0],
        ],
        dtype="float32",
    )
    below, above, lowest = loss_clip.clip_metrics(keras)
    for metric in (below, above, lowest):
        metric.update_state(labels, probabilities)
    assert float(below.result()) == pytest.approx(0.25)
    assert float(above.result()) == pytest.approx(0.25)
    assert float(lowest.result()) == pytest.approx(1e-9, rel=1e-5)
    # a second batch lowers the minimum only where it is lower; reset starts afresh
    lowest.update_state(np.array([0]), np.array([[0.5, 0.5, 0.0]], dtype="float32"))
    assert float(lowest.result()) == pytest.approx(1e-9, rel=1e-5)
    lowest.reset_state()
    lowest.update_state(np.array([0]), np.array([[0.5, 0.5, 0.0]], dtype="float32"))
    assert float(lowest.result()) == pytest.approx(0.5)
    # the clip these metrics count is the one the loss applies: zero gradient below eps
    import tensorflow as tf

    p = tf.Variable([[eps / 10, 1 - eps / 10]])
    with tf.GradientTape() as tape:
        loss = keras.ops.sparse_categorical_crossentropy(np.array([0]), p)
    assert float(loss[0]) == pytest.approx(-np.log(eps), rel=1e-3)
    np.testing.assert_array_equal(tape.gradient(loss, p).numpy(), 0.0)


def test_the_metrics_read_logits_through_the_softmax(loss_clip):
    # the script's "logits" arm trains on the output layer's input: p is its softmax
    import keras

    logits = np.array([[0.0, 20.0, 0.0], [1.0, 2.0, 3.0]], dtype="float32")
    labels = np.array([0, 2])
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    below, above, lowest = loss_clip.clip_metrics(keras, logits=True)
    for metric in (below, above, lowest):
        metric.update_state(labels, logits)
    assert p[0, 0] < keras.config.epsilon() < p[1, 2]
    assert float(below.result()) == pytest.approx(0.5)
    assert float(above.result()) == 0.0
    assert float(lowest.result()) == pytest.approx(p[0, 0], rel=1e-4)
