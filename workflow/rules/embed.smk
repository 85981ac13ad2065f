# Embeddings: backbone, projector and predictor features of every ID and OOD split, per run.


rule embed:
    conda:
        "../../envs/embnorm.yaml"
    input:
        checkpoint=paths.RUN_CHECKPOINT,
        data=lambda wildcards: dataset_files(wildcards.dataset, wildcards.split),
    output:
        paths.RUN_EMBEDDINGS,
    log:
        paths.fmt(paths.LOGS, name="embed-{run}-{dataset}-{split}"),
    wildcard_constraints:
        split="train|test",
    threads: 1
    shell:
        "embnorm embed --run {wildcards.run} --dataset {wildcards.dataset} --split {wildcards.split} "
        "--threads {threads} > {log} 2>&1"
