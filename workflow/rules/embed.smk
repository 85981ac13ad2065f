# Embeddings: backbone, projector and predictor features of a run's ID and OOD splits, one job per run.


rule embed:
    input:
        unpack(embed_inputs),
        # ancient: check_dataset verifies every dataset the run is embedded on first (rules/train.smk)
        checked=ancient(
            lambda wildcards: [
                paths.fmt(paths.DATASET_CHECK, dataset=d)
                for d in (RUNS[wildcards.run]["dataset"], RUNS[wildcards.run]["ood"])
                if d
            ]
        ),
    output:
        embeddings=directory(paths.RUN_EMBEDDINGS_DIR),
    log:
        paths.fmt(paths.LOGS, name="embed-{run}"),
    conda:
        "../../envs/embnorm.yaml"
    threads: 1
    params:
        splits=lambda wildcards, input: split_dirs(input.data),
        indices=indices_arg,
    shell:
        "embnorm embed --params {input.params} --checkpoint {input.checkpoint} --splits {params.splits} "
        "{params.indices} --out {output.embeddings} --threads {threads} > {log} 2>&1"
