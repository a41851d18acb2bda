"""Script of rule train_model (rules/training.smk); logic: specbench.training.train.train_model."""

from specbench.workflow.logs import redirect_to_log

with redirect_to_log(snakemake.log[0]):
    from specbench.training.train import train_model

    train_model(
        train=snakemake.input.train,
        val=snakemake.input.val,
        spec=snakemake.params.spec,
        model_path=snakemake.output.model,
        history_path=snakemake.output.history,
        info_path=snakemake.output.info,
        seed=int(snakemake.wildcards.seed),
        backup_dir=snakemake.params.backup_dir,
        dataset=snakemake.wildcards.dataset,
        model_name=snakemake.wildcards.model,
        threads=snakemake.threads,
        # the profile's backend, unless the model's entry names one (a wrapped torch module)
        backend_override=snakemake.params.entry_backend or snakemake.resources.get("keras_backend"),
        jobs_per_gpu=snakemake.resources.get("jobs_per_gpu"),
        # a backup written by other code is not resumed from (the job reruns for that change)
        code=[*snakemake.input.code, *snakemake.input.architecture],
    )
