"""Script of rule plot_confused_pair (rules/results.smk); logic: specbench.figures.plot_confused_pair."""

from specbench.logs import redirect_to_log

with redirect_to_log(snakemake.log[0]):
    from specbench.figures import plot_confused_pair

    plot_confused_pair(
        confusions=snakemake.input.confusions,
        runs=snakemake.params.runs,
        tests=list(snakemake.input.tests),
        png=snakemake.output.png,
        svg=snakemake.output.svg,
        style=snakemake.params.style,
    )
