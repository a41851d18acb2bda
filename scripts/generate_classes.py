"""Script of rule generate_classes (rules/datasets.smk); logic: specbench.data.sources.make_classes."""

from specbench.workflow.logs import redirect_to_log

with redirect_to_log(snakemake.log[0]):
    from specbench.data.sources import make_classes

    make_classes(
        dict(snakemake.params.dataset),
        name=snakemake.params.name,
        output=snakemake.output.classes,
        source=snakemake.input.source,
    )
