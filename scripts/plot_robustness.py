"""Script of rule plot_robustness (rules/robustness.smk); logic: specbench.results.figures.robustness."""

from specbench.workflow.logs import redirect_to_log

with redirect_to_log(snakemake.log[0]):
    from specbench.results.figures.robustness import plot_robustness

    plot_robustness(
        table=snakemake.input.table,
        png=snakemake.output.png,
        svg=snakemake.output.svg,
        style=snakemake.params.style,
    )
