"""Script of rule render_spectra (rules/datasets.smk); logic: specbench.data.render.render_dataset."""

from specbench.workflow.logs import redirect_to_log

with redirect_to_log(snakemake.log[0]):
    from specbench.data.render import render_dataset

    render_dataset(
        classes_path=snakemake.input.classes,
        render=dict(snakemake.params.render),
        name=snakemake.params.name,
        config_hash=snakemake.params.config_hash,
        train_path=snakemake.output.train,
        val_path=snakemake.output.val,
        test_path=snakemake.output.test,
        ambiguous_path=snakemake.output.ambiguous,
    )
