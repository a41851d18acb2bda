"""Script of rule render_test_split (rules/datasets.smk); logic:
specbench.data.dataset_files.render_test."""

from specbench.workflow.logs import redirect_to_log

with redirect_to_log(snakemake.log[0]):
    from specbench.data.dataset_files import render_test

    render_test(
        classes_path=snakemake.input.classes,
        render=dict(snakemake.params.test),
        name=snakemake.params.name,
        config_hash=snakemake.params.config_hash,
        classes_hash=snakemake.params.classes_hash,
        test_path=snakemake.output.test,
    )
