rule generate_classes:
    input:
        source=get_classes_source,
        code=script_sources("generate_classes"),
    output:
        classes="results/datasets/{dataset}/classes.json",
    log:
        "results/logs/generate_classes/{dataset}.log",
    conda:
        conda_env("datasets")
    params:
        dataset=get_classes_params,
        name="{dataset}",
    script:
        "../scripts/generate_classes.py"


rule render_spectra:
    input:
        classes=rules.generate_classes.output.classes,
        code=script_sources("render_spectra"),
    output:
        train="results/datasets/{dataset}/train.parquet",
        val="results/datasets/{dataset}/val.parquet",
    log:
        "results/logs/render_spectra/{dataset}.log",
    benchmark:
        "results/benchmarks/render_spectra/{dataset}.tsv"
    conda:
        conda_env("datasets")
    params:
        render=get_render_params,
        name="{dataset}",
        config_hash=get_training_hash,
        classes_hash=get_classes_hash,
    script:
        "../scripts/render_spectra.py"


rule render_test_split:
    input:
        classes=rules.generate_classes.output.classes,
        code=script_sources("render_test_split"),
    output:
        test="results/datasets/{dataset}/test.parquet",
    log:
        "results/logs/render_test_split/{dataset}.log",
    benchmark:
        "results/benchmarks/render_test_split/{dataset}.tsv"
    conda:
        conda_env("datasets")
    params:
        test=get_test_params,
        name="{dataset}",
        config_hash=get_test_hash,
        classes_hash=get_classes_hash,
    script:
        "../scripts/render_test_split.py"


rule find_ambiguous_pairs:
    input:
        classes=rules.generate_classes.output.classes,
        code=script_sources("find_ambiguous_pairs"),
    output:
        ambiguous="results/datasets/{dataset}/ambiguous_pairs.csv",
    log:
        "results/logs/find_ambiguous_pairs/{dataset}.log",
    conda:
        conda_env("datasets")
    params:
        pairs=get_pairs_params,
        name="{dataset}",
    script:
        "../scripts/find_ambiguous_pairs.py"


rule render_datasets:
    # `snakemake --cores all render_datasets`: every dataset of the config, and nothing else.
    input:
        get_all_datasets,
