"""Script of rule evaluate_model (rules/training.smk); logic: specbench.evaluation.evaluate.evaluate_model."""

from specbench.workflow.logs import redirect_to_log

with redirect_to_log(snakemake.log[0]):
    from specbench.evaluation.evaluate import evaluate_model

    evaluate_model(
        model_path=snakemake.input.model,
        info_path=snakemake.input.info,
        history_path=snakemake.input.history,
        test=snakemake.input.test,
        predictions_path=snakemake.output.predictions,
        metrics_path=snakemake.output.metrics,
        threads=snakemake.threads,
        jobs_per_gpu=snakemake.resources.get("jobs_per_gpu"),
    )
