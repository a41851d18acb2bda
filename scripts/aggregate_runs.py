"""Script of rule aggregate_runs (rules/results.smk); logic: specbench.results.tables.runs.aggregate_runs."""

from specbench.workflow.logs import redirect_to_log

with redirect_to_log(snakemake.log[0]):
    from specbench.results.tables.runs import aggregate_runs

    aggregate_runs(
        runs=snakemake.params.runs,
        csv=snakemake.output.csv,
        md=snakemake.output.md,
        selection=snakemake.params.selection,
    )
