"""Script of rule plot_loss_curves (rules/results.smk); logic: specbench.results.figures.loss_curves.plot_loss_curves."""

from specbench.workflow.logs import redirect_to_log

with redirect_to_log(snakemake.log[0]):
    from specbench.results.figures.loss_curves import plot_loss_curves

    plot_loss_curves(
        runs=snakemake.params.runs,
        png=snakemake.output.png,
        svg=snakemake.output.svg,
        style=snakemake.params.style,
    )
