"""Script of rule aggregate_runtimes (rules/results.smk); logic: specbench.results.tables.runtimes.aggregate_runtimes."""

from specbench.workflow.logs import redirect_to_log

with redirect_to_log(snakemake.log[0]):
    from specbench.results.tables.runtimes import aggregate_runtimes

    aggregate_runtimes(
        benchmarks=snakemake.params.benchmarks,
        csv=snakemake.output.csv,
        md=snakemake.output.md,
        selection=snakemake.params.selection,
    )
