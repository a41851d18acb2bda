import os

from snakemake.utils import min_version

min_version("9.0")


# The embedded default; a --configfile given on the command line replaces it (Snakemake would
# otherwise merge the two, training the default's models too). --config key=value still
# overrides single keys of whichever file is used.
if not workflow.overwrite_configfiles:

    configfile: os.path.join(workflow.basedir, "config", "config.yaml")


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/datasets.smk"
include: "rules/training.smk"
include: "rules/results.smk"
include: "rules/robustness.smk"


rule all:
    default_target: True
    input:
        get_final_outputs,


# A finished training removes its resumable backup; the folders around it go when the run
# succeeds (specbench.workflow.trees.prune_empty_dirs). Failed jobs keep their backups.
onsuccess:
    sbtrees.prune_empty_dirs(Path(rules.train_model.params.backup_dir).parents[2])
