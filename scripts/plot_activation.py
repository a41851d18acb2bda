"""Script of rule plot_activation (rules/results.smk); logic: specbench.results.figures.activation.plot_activation."""

from specbench.workflow.logs import redirect_to_log

with redirect_to_log(snakemake.log[0]):
    from specbench.results.figures.activation import plot_activation

    plot_activation(
        runs=snakemake.input.runs,
        png=snakemake.output.png,
        svg=snakemake.output.svg,
        style=snakemake.params.style,
        experiment=snakemake.params.experiment,
        # published ranges (config/reference/paper_challenge.csv) when the rule declares them
        reference=snakemake.input.get("reference"),
    )
