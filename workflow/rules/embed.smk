# Embeddings: backbone, projector and predictor features of a run's ID and OOD splits; and the same of the run's encoder
# at initialisation (embed_init), which the confidence analyses also read. One job per run and dataset (its source, and
# its OOD partner: config.role_datasets) loads the model once for the dataset's train and test split. Those two files
# are the job's outputs, so that a run after one of them was deleted makes it again.


rule embed:
    input:
        unpack(embed_inputs),
        # ancient: check_dataset verifies every dataset the run is embedded on first (rules/train.smk)
        checked=ancient(embed_checked),
    output:
        **embed_outputs(paths.RUN_EMBEDDINGS),
    log:
        paths.fmt(paths.LOGS, name="embed-{run}-{dataset}"),
    wildcard_constraints:
        dataset="|".join(source_datasets()) or "NONE",
    conda:
        "../../envs/embnorm.yaml"
    threads: 1
    params:
        splits=lambda wildcards, input: folders(input.data),
        indices=indices_arg,
        out=lambda wildcards, output: os.path.dirname(output.train),
    shell:
        "embnorm embed --params {input.params} --checkpoint {input.checkpoint} --splits {params.splits} "
        "{params.indices} --out {params.out} --threads {threads} > {log} 2>&1"


rule embed_init:
    input:
        # the checkpoint too: its digest of the initial weights checks the rebuild (evaluation/initial.py)
        unpack(embed_init_inputs),
        checked=ancient(embed_checked),
    output:
        **embed_outputs(paths.RUN_EMBEDDINGS_INIT),
    log:
        paths.fmt(paths.LOGS, name="embed_init-{run}-{dataset}"),
    wildcard_constraints:
        dataset="|".join(source_datasets()) or "NONE",
    conda:
        "../../envs/embnorm.yaml"
    threads: 1
    params:
        splits=lambda wildcards, input: folders(input.data),
        probe=lambda wildcards, input: split_dir(input.probe),
        indices=indices_arg,
        out=lambda wildcards, output: os.path.dirname(output.train),
    shell:
        "embnorm embed --init --params {input.params} --checkpoint {input.checkpoint} --splits {params.splits} "
        "--probe {params.probe} {params.indices} --out {params.out} --threads {threads} > {log} 2>&1"
