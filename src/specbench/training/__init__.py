"""Stage 2, training (rules/training.smk, rule train_model): one model, one seed, one run folder.

- :mod:`.train`: ``train_model`` (the job: reads the splits, builds the model, writes model.keras,
  history.csv and training.json) and ``fit`` (one Keras ``model.fit`` over all epochs);
  :mod:`.objective`: the compile settings and the loss taken from the logits on every backend;
- :mod:`.callbacks`: the callbacks of that fit (per-epoch order, progress log, best weights,
  early stopping and learning-rate bookkeeping, resumable backups); :mod:`.checkpoint`: the
  backup files; :mod:`.feeding`: the training data on the device, every epoch's order;
  :mod:`.history`: history.csv; :mod:`.timings`: the job's steps timed (training.json);
- :mod:`.backend`: the Keras backend, precision and determinism of a job; :mod:`.devices`: GPUs.

May import: specbench.core, specbench.models, specbench.data.
This file imports none of the modules.
"""
