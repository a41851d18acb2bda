"""Script of rule aggregate_runs (rules/results.smk); logic: specbench.tables.runs.aggregate_runs."""

from specbench.logs import redirect_to_log

with redirect_to_log(snakemake.log[0]):
    from specbench.tables.runs import aggregate_runs

    aggregate_runs(
        runs=snakemake.params.runs,
        csv=snakemake.output.csv,
        md=snakemake.output.md,
        selection=snakemake.params.selection,
    )
