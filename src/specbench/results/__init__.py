"""Stage 4, results (rules/results.smk, rules/robustness.smk): what the runs show.

- :mod:`.tables`: the aggregated tables, one module per table (runs, summary, agreement,
  confusions, runtimes, robustness);
- :mod:`.figures`: the figures, one module per figure;
- :mod:`.stats`: paired differences and their intervals; :mod:`.shipped`: run sets kept in
  reference-results/ and the results page generated from them.

May import: specbench.core, specbench.models, specbench.data, specbench.training,
specbench.evaluation. Nothing here imports Keras.
This file imports none of the modules.
"""
