"""Script of rule aggregate_robustness (rules/robustness.smk); logic: specbench.results.tables.robustness."""

from specbench.workflow.logs import redirect_to_log

with redirect_to_log(snakemake.log[0]):
    from specbench.results.tables.robustness import robustness_table

    robustness_table(
        runs=snakemake.input.runs,
        levels=[dict(row) for row in snakemake.params.levels],
        cross=[dict(row) for row in snakemake.params.cross],
        csv=snakemake.output.csv,
        md=snakemake.output.md,
    )
