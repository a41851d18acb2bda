"""Script of rule plot_level_spectra (rules/robustness.smk); logic: specbench.results.figures.robustness."""

from specbench.workflow.logs import redirect_to_log

with redirect_to_log(snakemake.log[0]):
    from specbench.results.figures.robustness import plot_level_spectra

    plot_level_spectra(
        tests={level: snakemake.input[f"test_{level}"] for level in snakemake.params.levels},
        png=snakemake.output.png,
        svg=snakemake.output.svg,
        style=snakemake.params.style,
    )
