rule train_model:
    input:
        train=get_split("train"),
        val=get_split("val"),
        architecture=get_model_sources,
        code=script_sources("train_model"),
    output:
        model=RUN_FILE["model"],
        history=RUN_FILE["history"],
        info=RUN_FILE["info"],
    log:
        "results/logs/train_model/{dataset}/{model}/seed{seed}.log",
    benchmark:
        "results/benchmarks/train_model/{dataset}/{model}/seed{seed}.tsv"
    priority: get_training_priority
    conda:
        conda_env("training")
    threads: 1
    params:
        spec=get_model_spec,
        # the backend the model's entry names, kept under a profile's keras_backend
        entry_backend=get_entry_backend,
        # Per-epoch backup for resuming a killed job; deliberately not a declared output, so
        # Snakemake's cleanup of incomplete outputs keeps it. Removed when training succeeds.
        backup_dir="results/checkpoints/{dataset}/{model}/seed{seed}",
    script:
        "../scripts/train_model.py"


rule evaluate_model:
    input:
        model=rules.train_model.output.model,
        history=rules.train_model.output.history,
        info=rules.train_model.output.info,
        test=get_split("test"),
        code=script_sources("evaluate_model"),
    output:
        predictions=RUN_FILE["predictions"],
        metrics=RUN_FILE["metrics"],
    log:
        "results/logs/evaluate_model/{dataset}/{model}/seed{seed}.log",
    benchmark:
        "results/benchmarks/evaluate_model/{dataset}/{model}/seed{seed}.tsv"
    priority: get_evaluation_priority
    conda:
        conda_env("training")
    threads: 1
    params:
        spec=get_model_spec,
    script:
        "../scripts/evaluate_model.py"
