rule evaluate_level:
    input:
        model=rules.train_model.output.model,
        history=rules.train_model.output.history,
        info=rules.train_model.output.info,
        test=get_level_test,
        code=script_sources("evaluate_level"),
    output:
        metrics="results/robustness/{dataset}/{model}/seed{seed}/on_{test_dataset}.json",
    log:
        "results/logs/evaluate_level/{dataset}/{model}/seed{seed}/on_{test_dataset}.log",
    benchmark:
        "results/benchmarks/evaluate_level/{dataset}/{model}/seed{seed}/on_{test_dataset}.tsv"
    priority: get_evaluation_priority
    conda:
        conda_env("training")
    threads: 1
    params:
        spec=get_model_spec,
    script:
        "../scripts/evaluate_level.py"


rule aggregate_robustness:
    input:
        runs=rules.aggregate_runs.output.csv,
        cross=get_cross_level_files,
        code=script_sources("aggregate_robustness"),
    output:
        csv=report(
            "results/tables/robustness.csv",
            caption="../report/robustness_table.rst",
            category="Tables",
            labels={"table": "robustness"},
        ),
        md="results/tables/robustness.md",
    log:
        "results/logs/aggregate_robustness.log",
    conda:
        conda_env("results")
    params:
        levels=SWEPT_EXPERIMENTS,
        cross=get_cross_level_params,
    script:
        "../scripts/aggregate_robustness.py"


rule plot_robustness:
    input:
        table=rules.aggregate_robustness.output.csv,
        code=script_sources("plot_robustness"),
    output:
        png=report(
            "results/figures/robustness.png",
            caption="../report/robustness.rst",
            category="Figures",
            labels={"figure": "robustness"},
        ),
        svg="results/figures/robustness.svg",
    log:
        "results/logs/plot_robustness.log",
    conda:
        conda_env("results")
    params:
        style=config["figures"]["robustness"],
    script:
        "../scripts/plot_robustness.py"


rule plot_level_spectra:
    input:
        unpack(get_level_tests),
        code=script_sources("plot_level_spectra"),
    output:
        png=report(
            "results/figures/level_spectra.png",
            caption="../report/level_spectra.rst",
            category="Figures",
            labels={"figure": "level_spectra"},
        ),
        svg="results/figures/level_spectra.svg",
    log:
        "results/logs/plot_level_spectra.log",
    conda:
        conda_env("results")
    params:
        levels=get_level_names,
        style=config["figures"]["level_spectra"],
    script:
        "../scripts/plot_level_spectra.py"
