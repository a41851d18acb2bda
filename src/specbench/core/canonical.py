"""Canonical JSON: one text per value, whatever the order of its keys (a leaf module).

The one way the package writes a value as canonical JSON, for

- hashes and fingerprints (compact, no spaces): the datasets' ``config_hash``
  (:func:`specbench.workflow.config.config_hash`), the training backup's fingerprint
  (:mod:`specbench.training.train`) and the config check that a model name means one thing per dataset;
- the ``hyperparameters`` key of the tables and figures (:func:`specbench.results.tables.common.
  hyperparameters_key`; readable, ``", "`` and ``": "`` between items, as in the tables written
  so far).

Values JSON cannot hold are written as ``str(value)``.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["canonical_json"]

COMPACT = (",", ":")
READABLE = (", ", ": ")


def canonical_json(obj: Any, *, compact: bool = True) -> str:
    """`obj` as JSON with sorted keys; `compact`: without spaces (else ", " and ": ")."""
    return json.dumps(obj, sort_keys=True, separators=COMPACT if compact else READABLE, default=str)
