rule aggregate_runs:
    input:
        metrics=get_run_files("metrics"),
        code=script_sources("aggregate_runs"),
    output:
        csv=report(
            "results/tables/runs.csv",
            caption="../report/runs.rst",
            category="Tables",
            labels={"table": "runs"},
        ),
        md="results/tables/runs.md",
    log:
        "results/logs/aggregate_runs.log",
    conda:
        conda_env("results")
    params:
        runs=get_runs_params,
        selection=SELECTION,
    script:
        "../scripts/aggregate_runs.py"


rule aggregate_summary:
    input:
        runs=rules.aggregate_runs.output.csv,
        predictions=get_run_files("predictions"),
        reference=[
            workflow_file("config/reference/paper_benchmark.csv"),
            workflow_file("config/reference/paper_challenge.csv"),
        ],
        code=script_sources("aggregate_summary"),
    output:
        csv=report(
            "results/tables/summary.csv",
            caption="../report/summary.rst",
            category="Tables",
            labels={"table": "summary"},
        ),
        md="results/tables/summary.md",
    log:
        "results/logs/aggregate_summary.log",
    conda:
        conda_env("results")
    params:
        selection=SELECTION,
    script:
        "../scripts/aggregate_summary.py"


rule aggregate_agreement:
    input:
        summary=rules.aggregate_summary.output.csv,
        runs=rules.aggregate_runs.output.csv,
        predictions=get_run_files("predictions"),
        differences=workflow_file("config/reference/paper_differences.csv"),
        code=script_sources("aggregate_agreement"),
    output:
        csv=report(
            "results/tables/agreement.csv",
            caption="../report/agreement.rst",
            category="Tables",
            labels={"table": "agreement"},
        ),
        md="results/tables/agreement.md",
    log:
        "results/logs/aggregate_agreement.log",
    conda:
        conda_env("results")
    params:
        selection=SELECTION,
    script:
        "../scripts/aggregate_agreement.py"


rule aggregate_confusions:
    input:
        predictions=get_run_files("predictions"),
        code=script_sources("aggregate_confusions"),
    output:
        csv=report(
            "results/tables/confusions.csv",
            caption="../report/confusions.rst",
            category="Tables",
            labels={"table": "confusions"},
        ),
        md="results/tables/confusions.md",
    log:
        "results/logs/aggregate_confusions.log",
    conda:
        conda_env("results")
    params:
        runs=get_runs_params,
        top=config["aggregate"]["top_confusions"],
        selection=SELECTION,
    script:
        "../scripts/aggregate_confusions.py"


rule aggregate_runtimes:
    input:
        benchmarks=get_benchmark_files,
        code=script_sources("aggregate_runtimes"),
    output:
        csv=report(
            "results/tables/runtimes.csv",
            caption="../report/runtimes.rst",
            category="Tables",
            labels={"table": "runtimes"},
        ),
        md="results/tables/runtimes.md",
    log:
        "results/logs/aggregate_runtimes.log",
    conda:
        conda_env("results")
    params:
        benchmarks=get_benchmark_params,
        selection=SELECTION,
    script:
        "../scripts/aggregate_runtimes.py"


rule plot_misclassifications:
    input:
        runs=rules.aggregate_runs.output.csv,
        reference=workflow_file("config/reference/paper_benchmark.csv"),
        code=script_sources("plot_misclassifications"),
    output:
        png=report(
            "results/figures/misclassifications.png",
            caption="../report/misclassifications.rst",
            category="Figures",
            labels={"figure": "misclassifications"},
        ),
        svg="results/figures/misclassifications.svg",
    log:
        "results/logs/plot_misclassifications.log",
    conda:
        conda_env("results")
    params:
        style=config["figures"]["misclassifications"],
    script:
        "../scripts/plot_misclassifications.py"


rule plot_activation:
    input:
        runs=rules.aggregate_runs.output.csv,
        predictions=get_run_files("predictions"),
        reference=workflow_file("config/reference/paper_challenge.csv"),
        code=script_sources("plot_activation"),
    output:
        png=report(
            "results/figures/activation.png",
            caption="../report/activation.rst",
            category="Figures",
            labels={"figure": "activation"},
        ),
        svg="results/figures/activation.svg",
    log:
        "results/logs/plot_activation.log",
    conda:
        conda_env("results")
    params:
        style=config["figures"]["activation"],
        experiment="activation",
    script:
        "../scripts/plot_activation.py"


rule plot_modifications:
    input:
        runs=rules.aggregate_runs.output.csv,
        predictions=get_run_files("predictions"),
        code=script_sources("plot_modifications"),
    output:
        png=report(
            "results/figures/modifications.png",
            caption="../report/modifications.rst",
            category="Figures",
            labels={"figure": "modifications"},
        ),
        svg="results/figures/modifications.svg",
    log:
        "results/logs/plot_modifications.log",
    conda:
        conda_env("results")
    params:
        style=config["figures"]["modifications"],
        experiment="modifications",
    script:
        "../scripts/plot_modifications.py"


rule plot_loss_curves:
    input:
        histories=get_run_files("history"),
        code=script_sources("plot_loss_curves"),
    output:
        png=report(
            "results/figures/loss_curves.png",
            caption="../report/loss_curves.rst",
            category="Figures",
            labels={"figure": "loss curves"},
        ),
        svg="results/figures/loss_curves.svg",
    log:
        "results/logs/plot_loss_curves.log",
    conda:
        conda_env("results")
    params:
        runs=get_runs_params,
        style=config["figures"]["loss_curves"],
    script:
        "../scripts/plot_loss_curves.py"


rule plot_class_variation:
    input:
        unpack(get_variation_inputs),
        code=script_sources("plot_class_variation"),
    output:
        png=report(
            "results/figures/class_variation.png",
            caption="../report/class_variation.rst",
            category="Figures",
            labels={"figure": "class variation"},
        ),
        svg="results/figures/class_variation.svg",
    log:
        "results/logs/plot_class_variation.log",
    conda:
        conda_env("results")
    params:
        style=config["figures"]["class_variation"],
        variants=get_variation_variants,
    script:
        "../scripts/plot_class_variation.py"


rule plot_confused_pair:
    input:
        unpack(get_pair_tests),
        confusions=rules.aggregate_confusions.output.csv,
        predictions=get_run_files("predictions"),
        code=script_sources("plot_confused_pair"),
    output:
        png=report(
            "results/figures/confused_pair.png",
            caption="../report/confused_pair.rst",
            category="Figures",
            labels={"figure": "confused pair"},
        ),
        svg="results/figures/confused_pair.svg",
    log:
        "results/logs/plot_confused_pair.log",
    conda:
        conda_env("results")
    params:
        runs=get_runs_params,
        style=config["figures"]["confused_pair"],
        datasets=USED_DATASETS,
        variants=get_pair_variants,
    script:
        "../scripts/plot_confused_pair.py"
