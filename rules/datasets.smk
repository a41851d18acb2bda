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
        test="results/datasets/{dataset}/test.parquet",
        ambiguous="results/datasets/{dataset}/ambiguous_pairs.csv",
    log:
        "results/logs/render_spectra/{dataset}.log",
    benchmark:
        "results/benchmarks/render_spectra/{dataset}.tsv"
    conda:
        conda_env("datasets")
    params:
        render=get_render_params,
        name="{dataset}",
        config_hash=get_dataset_hash,
    script:
        "../scripts/render_spectra.py"


rule render_datasets:
    # `snakemake --cores all render_datasets`: every dataset of the config, and nothing else.
    input:
        get_all_datasets,
