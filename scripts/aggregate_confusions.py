"""Script of rule aggregate_confusions (rules/results.smk); logic: specbench.results.tables.confusions.aggregate_confusions."""

from specbench.workflow.logs import redirect_to_log

with redirect_to_log(snakemake.log[0]):
    from specbench.results.tables.confusions import aggregate_confusions

    aggregate_confusions(
        runs=snakemake.params.runs,
        top=snakemake.params.top,
        csv=snakemake.output.csv,
        md=snakemake.output.md,
        selection=snakemake.params.selection,
    )
