# Analyses: theory simulations, aggregate tables and figures over runs, and the claims check.
# Each rule's command, options, outputs and report captions are declared once in src/embnorm/analysis/registry.py;
# a rule here names only its input files and takes the rest from the declaration through rules/common.smk's
# analysis_outputs, analysis_options and analysis_shell (docs/adding-an-analysis.md).

ALL_METRICS = [paths.fmt(paths.RUN_METRICS, run=r) for r in RUNS]
# Every table and figure of the analyses: final_outputs (rules/common.smk) requests them.
ANALYSIS_OUTPUTS = [o.path for analysis in ANALYSES.values() for o in analysis.outputs.values()]
# The human label files of the runs' source datasets that have them (in the order of HUMAN_SOURCES).
HUMAN_LABEL_FILES = [paths.fmt(paths.HUMAN_LABELS_N, dataset=d) for d in HUMAN_SOURCES]
HUMAN_PROB_FILES = [paths.fmt(paths.HUMAN_LABELS_H_PROBS, dataset=d) for d in HUMAN_SOURCES]


rule simulate_gradients:
    output:
        **analysis_outputs("simulate_gradients"),
    log:
        paths.fmt(paths.LOGS, name="simulate_gradients"),
    conda:
        "../../envs/embnorm.yaml"
    params:
        code=ANALYSIS_CODE,
        options=analysis_options("simulate_gradients"),
    shell:
        analysis_shell("simulate_gradients")


rule simulate_convergence:
    output:
        **analysis_outputs("simulate_convergence"),
    log:
        paths.fmt(paths.LOGS, name="simulate_convergence"),
    conda:
        "../../envs/embnorm.yaml"
    params:
        code=ANALYSIS_CODE,
        options=analysis_options("simulate_convergence"),
    shell:
        analysis_shell("simulate_convergence")


rule simulate_imbalance:
    output:
        **analysis_outputs("simulate_imbalance"),
    log:
        paths.fmt(paths.LOGS, name="simulate_imbalance"),
    conda:
        "../../envs/embnorm.yaml"
    params:
        code=ANALYSIS_CODE,
        options=analysis_options("simulate_imbalance"),
    shell:
        analysis_shell("simulate_imbalance")


rule norm_vs_ood:
    input:
        params=all_params(),
        embeddings=all_embeddings(),
    output:
        **analysis_outputs("norm_vs_ood"),
    log:
        paths.fmt(paths.LOGS, name="norm_vs_ood"),
    conda:
        "../../envs/embnorm.yaml"
    params:
        code=ANALYSIS_CODE,
        options=analysis_options("norm_vs_ood"),
        embeddings=embedding_folders,
    shell:
        analysis_shell("norm_vs_ood")


rule norm_growth:
    input:
        params=all_params(),
        metrics=ALL_METRICS,
    output:
        **analysis_outputs("norm_growth"),
    log:
        paths.fmt(paths.LOGS, name="norm_growth"),
    conda:
        "../../envs/embnorm.yaml"
    params:
        code=ANALYSIS_CODE,
        options=analysis_options("norm_growth"),
    shell:
        analysis_shell("norm_growth")


rule weight_decay:
    input:
        training=ANALYSES["norm_growth"].outputs["tsv"].path,
    output:
        **analysis_outputs("weight_decay"),
    log:
        paths.fmt(paths.LOGS, name="weight_decay"),
    conda:
        "../../envs/embnorm.yaml"
    params:
        code=ANALYSIS_CODE,
        options=analysis_options("weight_decay"),
    shell:
        analysis_shell("weight_decay")


rule knn_buckets:
    input:
        params=all_params(),
        embeddings=all_embeddings(),
    output:
        **analysis_outputs("knn_buckets"),
    log:
        paths.fmt(paths.LOGS, name="knn_buckets"),
    conda:
        "../../envs/embnorm.yaml"
    params:
        code=ANALYSIS_CODE,
        options=analysis_options("knn_buckets"),
        embeddings=embedding_folders,
    shell:
        analysis_shell("knn_buckets")


rule human_agreement:
    input:
        params=all_params(),
        embeddings=all_embeddings(),
        human_labels=HUMAN_LABEL_FILES,
        human_probs=HUMAN_PROB_FILES,
    output:
        **analysis_outputs("human_agreement"),
    log:
        paths.fmt(paths.LOGS, name="human_agreement"),
    conda:
        "../../envs/embnorm.yaml"
    params:
        code=ANALYSIS_CODE,
        options=analysis_options("human_agreement"),
        embeddings=embedding_folders,
    shell:
        analysis_shell("human_agreement")


rule mitigation:
    input:
        params=all_params(),
        metrics=ALL_METRICS,
        embeddings=all_embeddings(),
    output:
        **analysis_outputs("mitigation"),
    log:
        paths.fmt(paths.LOGS, name="mitigation"),
    conda:
        "../../envs/embnorm.yaml"
    params:
        code=ANALYSIS_CODE,
        options=analysis_options("mitigation"),
        embeddings=embedding_folders,
    shell:
        analysis_shell("mitigation")


rule confidence_init:
    input:
        params=all_params(analysis_run_ids("confidence_init")),
        embeddings=init_embeddings(analysis_run_ids("confidence_init")),
        human_labels=HUMAN_LABEL_FILES,
        human_probs=HUMAN_PROB_FILES,
    output:
        **analysis_outputs("confidence_init"),
    log:
        paths.fmt(paths.LOGS, name="confidence_init"),
    conda:
        "../../envs/embnorm.yaml"
    params:
        code=ANALYSIS_CODE,
        options=analysis_options("confidence_init"),
        embeddings=embedding_folders,
    shell:
        analysis_shell("confidence_init")


rule claims:
    input:
        **CLAIM_TABLES,
        **OPTIONAL_CLAIM_TABLES,  # the encoders at initialisation, shown beside the trained values
        runs=paths.RUNS_TABLE,  # which claims this config can decide, from its run table (claims/plan.py)
    output:
        **analysis_outputs("claims"),
    log:
        paths.fmt(paths.LOGS, name="claims"),
    conda:
        "../../envs/embnorm.yaml"
    params:
        code=ANALYSIS_CODE,
        options=analysis_options("claims"),
    shell:
        analysis_shell("claims")
