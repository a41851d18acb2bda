"""Script of rule plot_robustness (rules/robustness.smk); logic: specbench.robustness."""

from specbench.logs import redirect_to_log

with redirect_to_log(snakemake.log[0]):
    from specbench.robustness import plot_robustness

    plot_robustness(
        table=snakemake.input.table,
        png=snakemake.output.png,
        svg=snakemake.output.svg,
        style=snakemake.params.style,
    )
