"""An example user model written in PyTorch, wrapped for Keras (train with training.backend: torch).

Config entry: ``{architecture: examples/my_models/torch_net.py:build, channels: 8,
training: {backend: torch}}``. Keras' TorchModuleWrapper runs the torch.nn.Module inside a Keras
model, so specbench compiles and trains it like any other; it needs the torch backend (the
module's tensors are torch tensors). Saving: the run's model.keras holds the weights but the
wrapped module is a Python object, so loading it (evaluation, ``specbench classify``) needs this
file importable and is not possible in Keras' safe mode; see docs/own-models.md.
"""

import keras
import torch
from torch import nn


class SpectrumNet(nn.Module):
    """Conv1d -> ReLU -> adaptive average pooling -> Linear: logits over n_classes."""

    def __init__(self, n_classes: int, channels: int = 8, kernel_size: int = 9):
        super().__init__()
        self.conv = nn.Conv1d(1, channels, kernel_size, padding=kernel_size // 2)
        self.pool = nn.AdaptiveAvgPool1d(8)
        self.head = nn.Linear(channels * 8, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Keras' mixed precision (training.precision auto on bf16/fp16 hardware) hands this
        # module half-precision inputs; its own weights stay float32, so compute in those.
        x = torch.relu(self.conv(x.to(self.conv.weight.dtype).unsqueeze(1)))
        return self.head(torch.flatten(self.pool(x), 1))


def build(n_points, n_classes, channels=8, kernel_size=9):
    """Uncompiled keras.Model around SpectrumNet; the softmax is a Keras layer on its logits."""
    inputs = keras.Input(shape=(n_points,), name="spectrum")
    logits = keras.layers.TorchModuleWrapper(
        SpectrumNet(n_classes, channels, kernel_size),
        name="spectrum_net",
        output_shape=(None, n_classes),
    )(inputs)
    outputs = keras.layers.Activation("softmax", dtype="float32", name="probabilities")(logits)
    return keras.Model(inputs, outputs, name="torch_net")
