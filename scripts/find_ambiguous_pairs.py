"""Script of rule find_ambiguous_pairs (rules/datasets.smk); logic:
specbench.data.dataset_files.list_ambiguous_pairs."""

from specbench.workflow.logs import redirect_to_log

with redirect_to_log(snakemake.log[0]):
    from specbench.data.dataset_files import list_ambiguous_pairs

    list_ambiguous_pairs(
        classes_path=snakemake.input.classes,
        render=dict(snakemake.params.pairs),
        name=snakemake.params.name,
        ambiguous_path=snakemake.output.ambiguous,
    )
