"""Script of rule plot_class_variation (rules/results.smk); logic: specbench.results.figures.class_variation.plot_class_variation."""

from specbench.workflow.logs import redirect_to_log

with redirect_to_log(snakemake.log[0]):
    from specbench.results.figures.class_variation import plot_class_variation

    plot_class_variation(
        classes=snakemake.input.classes,
        train=snakemake.input.train,
        test=snakemake.input.test,
        png=snakemake.output.png,
        svg=snakemake.output.svg,
        style=snakemake.params.style,
        variants=snakemake.params.variants,
    )
