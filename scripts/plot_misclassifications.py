"""Script of rule plot_misclassifications (rules/results.smk); logic: specbench.results.figures.misclassifications.plot_misclassifications."""

from specbench.workflow.logs import redirect_to_log

with redirect_to_log(snakemake.log[0]):
    from specbench.results.figures.misclassifications import plot_misclassifications

    plot_misclassifications(
        runs=snakemake.input.runs,
        reference=snakemake.input.reference,
        png=snakemake.output.png,
        svg=snakemake.output.svg,
        style=snakemake.params.style,
    )
