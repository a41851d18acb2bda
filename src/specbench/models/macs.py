"""Multiply-accumulate count of one forward pass (re-exported by specbench.evaluation.evaluate).

Counted (weights only, biases not counted):

- convolutions (Conv1D/2D/3D, incl. grouped; not transposed or separable ones):
  prod(output spatial shape) * prod(kernel shape) * in_channels * filters / groups;
- Dense: prod(input shape without batch and last axis) * in_features * units (in * out for the
  usual 2-D input).

Not counted (documented as free): BatchNormalization, pooling, activations, Dropout, Flatten,
Reshape, Add, Concatenate and every other layer. Nested models are walked recursively.
This module does not import Keras at import time.
"""

from __future__ import annotations

import math

__all__ = ["count_macs", "layer_macs"]


def _dims(shape) -> list[int]:
    dims = list(shape)[1:]  # drop the batch axis
    if any(d is None for d in dims):
        raise ValueError(f"count_macs needs fully defined shapes, got {tuple(shape)}")
    return [int(d) for d in dims]


def layer_macs(layer) -> int:
    """Multiply-accumulates of one (non-nested) layer for one sample; 0 for uncounted layers."""
    from keras import layers

    if isinstance(layer, layers.Dense):
        dims = _dims(layer.input.shape)
        return math.prod(dims[:-1]) * dims[-1] * int(layer.units)
    conv_types = (layers.Conv1D, layers.Conv2D, layers.Conv3D)
    # Keras 3 transposed, separable and depthwise convolutions do not subclass these.
    if isinstance(layer, conv_types):
        out = _dims(layer.output.shape)
        inp = _dims(layer.input.shape)
        if layer.data_format == "channels_first":
            spatial, in_channels = out[1:], inp[0]
        else:
            spatial, in_channels = out[:-1], inp[-1]
        groups = int(getattr(layer, "groups", 1) or 1)
        return (
            math.prod(spatial)
            * math.prod(layer.kernel_size)
            * (in_channels // groups)
            * int(layer.filters)
        )
    return 0


def count_macs(model) -> int:
    """Multiply-accumulates of one forward pass of `model` for one sample (one spectrum)."""
    import keras

    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            total += count_macs(layer)
        else:
            total += layer_macs(layer)
    return int(total)
