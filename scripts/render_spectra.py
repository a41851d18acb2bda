"""Script of rule render_spectra (rules/datasets.smk); logic:
specbench.data.dataset_files.render_training_splits."""

from specbench.workflow.logs import redirect_to_log

with redirect_to_log(snakemake.log[0]):
    from specbench.data.dataset_files import render_training_splits

    render_training_splits(
        classes_path=snakemake.input.classes,
        render=dict(snakemake.params.render),
        name=snakemake.params.name,
        config_hash=snakemake.params.config_hash,
        classes_hash=snakemake.params.classes_hash,
        train_path=snakemake.output.train,
        val_path=snakemake.output.val,
    )
