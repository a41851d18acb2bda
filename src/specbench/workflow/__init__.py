"""The Snakemake side (Snakefile, rules/): config, its checks, and what the rules derive.

- :mod:`.config`: the config's semantic checks, sweeps, data seeds, ``select``, the runs;
  :mod:`.config_datasets`: the datasets' checks;
- :mod:`.codedeps`: each rule's code inputs, derived from import statements;
- :mod:`.condaenvs`: envs/*.yaml with the running Python pinned;
- :mod:`.logs`: a job's log file (every script's ``redirect_to_log``);
- :mod:`.projection`: the expected GPU time of a training job (tools/gpu_plan.py).

May import: specbench.core, specbench.models, specbench.data, specbench.training,
specbench.evaluation, specbench.results (not specbench.cli).
This file imports none of the modules.
"""
