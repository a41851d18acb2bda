"""Stage 3, evaluation (rules/training.smk, rule evaluate_model; rule evaluate_level): a trained
run on a test split.

- :mod:`.evaluate`: ``evaluate_model`` (the job: predictions.parquet and metrics.json);
- :mod:`.inference`: a trained model's class probabilities for spectra (also ``specbench
  classify``'s);
- :mod:`.predictions`: the predictions.parquet format; :mod:`.runs`: reading a run folder
  (training.json, metrics.json, the model) with clear errors.

May import: specbench.core, specbench.models, specbench.data, specbench.training.
This file imports none of the modules.
"""
