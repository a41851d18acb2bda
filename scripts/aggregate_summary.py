"""Script of rule aggregate_summary (rules/results.smk); logic: specbench.results.tables.summary.aggregate_summary."""

from specbench.workflow.logs import redirect_to_log

with redirect_to_log(snakemake.log[0]):
    from specbench.results.tables.summary import aggregate_summary

    aggregate_summary(
        runs=snakemake.input.runs,
        reference=snakemake.input.reference,
        csv=snakemake.output.csv,
        md=snakemake.output.md,
        selection=snakemake.params.selection,
    )
