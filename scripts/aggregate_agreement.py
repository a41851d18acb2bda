"""Script of rule aggregate_agreement (rules/results.smk); logic: specbench.results.tables.agreement.aggregate_agreement."""

from specbench.workflow.logs import redirect_to_log

with redirect_to_log(snakemake.log[0]):
    from specbench.results.tables.agreement import aggregate_agreement

    aggregate_agreement(
        summary=snakemake.input.summary,
        runs=snakemake.input.runs,
        differences=snakemake.input.differences,
        csv=snakemake.output.csv,
        md=snakemake.output.md,
        selection=snakemake.params.selection,
    )
