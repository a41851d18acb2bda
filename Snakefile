from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/datasets.smk"
include: "rules/training.smk"
include: "rules/results.smk"


rule all:
    default_target: True
    input:
        get_final_outputs,
