# Embeddings: backbone, projector and predictor features of a run's ID and OOD splits, one job per run; and the same
# of the run's encoder at initialisation (embed_init), which the confidence analyses also read.


rule embed:
    input:
        unpack(embed_inputs),
        # ancient: check_dataset verifies every dataset the run is embedded on first (rules/train.smk)
        checked=ancient(embed_checked),
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


rule embed_init:
    input:
        # the checkpoint too: its digest of the initial weights checks the rebuild (evaluation/initial.py)
        unpack(embed_inputs),
        checked=ancient(embed_checked),
    output:
        embeddings=directory(paths.RUN_EMBEDDINGS_INIT_DIR),
    log:
        paths.fmt(paths.LOGS, name="embed_init-{run}"),
    conda:
        "../../envs/embnorm.yaml"
    threads: 1
    params:
        splits=lambda wildcards, input: split_dirs(input.data),
        indices=indices_arg,
    shell:
        "embnorm embed --init --params {input.params} --checkpoint {input.checkpoint} --splits {params.splits} "
        "{params.indices} --out {output.embeddings} --threads {threads} > {log} 2>&1"
