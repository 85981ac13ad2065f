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
        directory(paths.RUN_EMBEDDINGS_DIR),
    log:
        paths.fmt(paths.LOGS, name="embed-{run}"),
    conda:
        "../../envs/embnorm.yaml"
    threads: 1
    shell:
        "embnorm embed --run {wildcards.run} --threads {threads} > {log} 2>&1"
