"""What a training run minimises: the compile settings of the protocol and the loss of the logits.

Adam(learning_rate) on the sparse categorical cross-entropy, with accuracy. The cross-entropy is
taken from the logits on every backend, as TensorFlow computes it (and as the authors' runs did):
Keras 3 takes the loss of a softmax output from its logits on TensorFlow only, and from the
probabilities clipped to [1e-7, 1 - 1e-7] on JAX and PyTorch, where a spectrum whose true class
gets less than 1e-7 then gives no gradient (benchmarks/loss_clip.py measures how often that
happens; docs/fidelity.md). Used by :func:`specbench.training.train.train_model`; imports keras
only inside its functions (``backend.configure`` must run first).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

__all__ = ["compile_model", "logits_training", "softmax_layer"]


def compile_model(
    model, learning_rate: float, extra_metrics: Sequence = (), *, from_logits: bool = False
) -> None:
    """Adam(learning_rate), sparse categorical cross-entropy, accuracy (and `extra_metrics`,
    Keras metrics computed on the same forward passes, e.g. by benchmarks/loss_clip.py).
    `from_logits`: the model outputs the softmax's input (:func:`logits_training`)."""
    import keras

    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits),
        metrics=["accuracy", *extra_metrics],
    )


def softmax_layer(model):
    """The layer that applies `model`'s output softmax as its activation (a Dense or Activation
    layer; the published architectures' ``predictions``), or None (e.g. a softmax computed
    inside a wrapped PyTorch module)."""
    import keras

    history = getattr(model.outputs[0], "_keras_history", None) if model.outputs else None
    layer = getattr(history, "operation", None)
    if getattr(layer, "activation", None) is keras.activations.softmax:
        return layer
    return None


@contextlib.contextmanager
def logits_training(model):
    """Train `model` on the cross-entropy of its logits, as TensorFlow computes it, on every
    backend; yields whether it does.

    Keras 3 takes the loss of a softmax output from its logits on TensorFlow only; on JAX and
    PyTorch it takes it from the probabilities clipped to [1e-7, 1 - 1e-7], so a spectrum whose
    true class gets less than 1e-7 gives no gradient (measured on the challenge set:
    benchmarks/loss_clip.py, docs/fidelity.md). Inside this context the softmax layer's activation
    is linear (compile with ``from_logits=True``); on leaving it the softmax is back, so the model
    predicts probabilities and is saved with them. Without a softmax layer (:func:`softmax_layer`)
    the model is left as it is and the loss is that of its probabilities."""
    import keras

    layer = softmax_layer(model)
    if layer is None:
        yield False
        return
    layer.activation = keras.activations.linear
    try:
        yield True
    finally:
        layer.activation = keras.activations.softmax
