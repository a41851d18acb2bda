"""Feeding a training run's batches: every epoch's order, the data kept where the model runs.

:class:`EpochFeeder` holds the training and validation arrays for one ``model.fit`` over all
epochs; :meth:`EpochFeeder.set_order` (called by the data-order callback at the start of each
epoch, see :mod:`specbench.training.callbacks`) sets the order in which that epoch's batches are served.

- TensorFlow: the arrays are copied into TF once and served by one tf.data pipeline built once;
  batches are gathered by an order variable assigned each epoch, and Keras creates the pipeline's
  iterator at the start of each epoch's batches (after the callbacks' ``on_epoch_begin``), so the
  order is read then. Validation batches are cached.
- JAX and PyTorch: the arrays live on the backend's device (the GPU, if any) from the start
  (:func:`device_batches`); each epoch's order is gathered there.

Batches are consecutive slices of the order, the last one partial, as in ``fit(shuffle=True)``.
This module does not import keras at import time.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["EpochFeeder", "device_batches"]


def device_batches(x: np.ndarray, y: np.ndarray, batch_size: int):
    """A ``keras.utils.PyDataset`` over `x`, `y` copied once to the backend's device (JAX,
    PyTorch: the GPU when there is one). :meth:`reorder` gathers an epoch's order on the device;
    batches are then slices of the reordered arrays, so no spectrum crosses the host-device link
    again. (Keras' array adapter would copy JAX arrays back to the host, and send every batch to
    the device again.) Iterated in the calling thread (one worker, no multiprocessing)."""
    import keras

    class DeviceBatches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__(workers=1, use_multiprocessing=False)
            self.x = keras.ops.convert_to_tensor(x)
            self.y = keras.ops.convert_to_tensor(y)
            self.epoch_x, self.epoch_y = self.x, self.y
            self.n, self.batch_size = len(x), batch_size

        def reorder(self, order: np.ndarray) -> None:
            idx = keras.ops.convert_to_tensor(order.astype(np.int32))
            self.epoch_x = keras.ops.take(self.x, idx, axis=0)
            self.epoch_y = keras.ops.take(self.y, idx, axis=0)

        @property
        def num_batches(self) -> int:
            return -(-self.n // self.batch_size)

        def __len__(self) -> int:
            return self.num_batches

        def __getitem__(self, i: int):
            start = i * self.batch_size
            stop = min(start + self.batch_size, self.n)
            return self.epoch_x[start:stop], self.epoch_y[start:stop]

    return DeviceBatches()


class EpochFeeder:
    """Training batches in the order of the current epoch, and the validation batches, for one
    ``model.fit`` over all epochs: ``model.fit(**feeder.fit_args(), epochs=...)``.

    TensorFlow: one tf.data pipeline over tensors copied once (~50 ms less per epoch than NumPy
    arrays given to ``fit``, whose array adapter rebuilds its pipeline; see
    benchmarks/train_throughput.py). JAX and PyTorch: :func:`device_batches`.
    """

    def __init__(self, train, val, batch_size: int):
        import keras

        self.train, self.val, self.batch_size = train, val, batch_size
        self.tf = keras.backend.backend() == "tensorflow"
        if self.tf:
            self._build_tf()
        else:
            self._train_ds = device_batches(*train, batch_size)
            self._val_ds = device_batches(*val, batch_size)

    def _build_tf(self) -> None:
        import tensorflow as tf

        (x, y), (x_val, y_val), b = self.train, self.val, self.batch_size
        n = len(x)
        full = n // b
        x_t, y_t = tf.constant(x), tf.constant(y)
        self._order = tf.Variable(tf.range(n, dtype=tf.int64), trainable=False)

        def batches(_):
            order = self._order.read_value()
            ds = tf.data.Dataset.from_tensor_slices(tf.reshape(order[: full * b], [full, b]))
            if n % b:
                ds = ds.concatenate(tf.data.Dataset.from_tensors(order[full * b :]))
            return ds

        self._train_ds = (
            tf.data.Dataset.range(1)
            .flat_map(batches)
            .map(
                lambda i: (tf.gather(x_t, i), tf.gather(y_t, i)),
                num_parallel_calls=tf.data.AUTOTUNE,
            )
            .prefetch(tf.data.AUTOTUNE)
            .apply(tf.data.experimental.assert_cardinality(full + (n % b > 0)))
        )
        self._val_ds = (
            tf.data.Dataset.from_tensor_slices((x_val, y_val)).batch(b).cache().prefetch(2)
        )

    def set_order(self, order: np.ndarray) -> None:
        """Serve the training spectra in `order` (a permutation) from the next epoch's batches."""
        if self.tf:
            self._order.assign(order.astype(np.int64))
        else:
            self._train_ds.reorder(order)

    def fit_args(self) -> dict[str, Any]:
        """``x`` and ``validation_data`` of ``model.fit``."""
        return {"x": self._train_ds, "validation_data": self._val_ds}
