# Training: one params.json and one training job per run of the run table.


rule run_params:
    output:
        paths.RUN_PARAMS,
    log:
        paths.fmt(paths.LOGS, name="params-{run}"),
    priority: 10  # before the simulations: each train job waits on its params.json
    localrule: True
    conda:
        "../../envs/embnorm.yaml"
    params:
        spec=lambda wildcards: json_arg(RUNS[wildcards.run]),
    shell:
        "embnorm params --spec {params.spec} --out {output} > {log} 2>&1"


rule runs_table:
    input:
        all_params(),
    output:
        report(paths.RUNS_TABLE, caption="../report/runs.rst", category="Runs"),
    log:
        paths.fmt(paths.LOGS, name="runs-table"),
    localrule: True
    conda:
        "../../envs/embnorm.yaml"
    shell:
        "embnorm runs-table --out {output} {input} > {log} 2>&1"


rule train:
    input:
        unpack(train_inputs),
        # ancient: orders check_dataset first (a damaged input stops there, before this job deletes checkpoint.pt)
        # without its record's time ever making a finished run train again
        checked=ancient(lambda wildcards: paths.fmt(paths.DATASET_CHECK, dataset=RUNS[wildcards.run]["dataset"])),
    output:
        checkpoint=paths.RUN_CHECKPOINT,
        metrics=paths.RUN_METRICS,
    log:
        paths.RUN_LOG,
    priority: train_priority  # the critical path (data, then training, longest first) before the simulations
    conda:
        "../../envs/embnorm.yaml"
    threads: lambda wildcards: RUNS[wildcards.run]["threads"] or 2
    resources:
        runtime=lambda wildcards: 60 + 2 * RUNS[wildcards.run]["epochs"],
    params:
        train=lambda wildcards, input: split_dir(input.train),
        test=lambda wildcards, input: split_dir(input.test),
        indices=indices_arg,
        # not an output: written only while a run is unfinished (a signal, or every checkpoint_every epochs)
        resume=paths.RUN_RESUME,
    shell:
        # exec: SLURM's SIGTERM before the time limit (profiles/slurm) reaches the training process, which checkpoints
        # and exits while the job step's Snakemake waits for it, instead of an intermediate bash dying first
        "exec embnorm train --params {input.params} --train {params.train} --test {params.test} {params.indices} "
        "--checkpoint {output.checkpoint} --metrics {output.metrics} --resume {params.resume} --threads {threads} "
        "> {log} 2>&1"
