"""Aggregated result tables of the workflow, one module per table.

Every table is written twice, as CSV (the data) and as a Markdown table (for reading), by
:func:`specbench.results.tables.common.write_table`. The functions called by the scripts of
rules/results.smk:

- :mod:`.runs` -- ``aggregate_runs`` (rule aggregate_runs): one row per (experiment, dataset,
  model, seed) with every metric of its metrics.json; runs whose metrics.json does not exist (a
  failed job with ``allow_missing_runs``) are listed with ``status`` "missing" (WARNING).
- :mod:`.summary` -- ``aggregate_summary`` (rule aggregate_summary): per experiment and model,
  statistics over the seeds that finished, with the published values (:mod:`.reference`) and the
  paired difference to the model's counterpart (:mod:`.paired`) beside them.
- :mod:`.confusions` -- ``aggregate_confusions`` (rule aggregate_confusions): the most frequently
  confused class pairs of every model, counted over its seeds from predictions.parquet.
- :mod:`.runtimes` -- ``aggregate_runtimes`` (rule aggregate_runtimes): wall time and peak memory
  of every job from the Snakemake benchmark files.

Shared: :mod:`.common` (display order, Markdown, writing, TableInputError). Pure
pandas/pyarrow: nothing here imports Keras.

This file imports none of the modules: a script that imports one table's module loads (and its
rule's code inputs, specbench.workflow.codedeps, count) that module and what it imports, not every table.
"""
