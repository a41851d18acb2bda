"""Shared leaves that every stage reads: the config schema and file formats.

- :mod:`.schema` (with ``schema.yaml``): the config schema, the one source of every default;
- :mod:`.formats`: the run folder's layout and its JSON records (training.json, metrics.json);
- :mod:`.atomic`: atomic file writes; :mod:`.canonical`: canonical JSON (hashes, comparisons);
- :mod:`.inputs`: one-path inputs of a job, paths a config names, number cells of user files.

May import: nothing of specbench but ``specbench.__version__`` (the standard library, numpy,
PyYAML and jsonschema only). This file imports none of the modules (a job that loads one module
does not depend on the others: specbench.workflow.codedeps).
"""
