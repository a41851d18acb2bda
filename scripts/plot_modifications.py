"""Script of rule plot_modifications (rules/results.smk); logic: specbench.results.figures.modifications.plot_modifications."""

from specbench.workflow.logs import redirect_to_log

with redirect_to_log(snakemake.log[0]):
    from specbench.results.figures.modifications import plot_modifications

    plot_modifications(
        runs=snakemake.input.runs,
        png=snakemake.output.png,
        svg=snakemake.output.svg,
        style=snakemake.params.style,
        experiment=snakemake.params.experiment,
    )
