"""Script of rule plot_confused_pair (rules/results.smk); logic: specbench.results.figures.confused_pair.plot_confused_pair."""

from specbench.workflow.logs import redirect_to_log

with redirect_to_log(snakemake.log[0]):
    from specbench.results.figures.confused_pair import plot_confused_pair

    plot_confused_pair(
        confusions=snakemake.input.confusions,
        runs=snakemake.params.runs,
        tests={
            dataset: snakemake.input[f"test_{dataset}"] for dataset in snakemake.params.datasets
        },
        png=snakemake.output.png,
        svg=snakemake.output.svg,
        style=snakemake.params.style,
        variants=snakemake.params.variants,
    )
