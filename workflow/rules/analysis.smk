# Analyses: theory simulations, aggregate tables and figures over runs, and the claims check.
# Each rule's command, options, outputs and report captions are declared once in src/embnorm/analysis/registry.py;
# a rule here names only its input files and takes the rest from the declaration (docs/adding-an-analysis.md).
from embnorm.analysis.registry import ANALYSES, CLAIM_TABLES, flag, option_args, option_values

# Source datasets of the runs that come with human label files, and those files (in the same order).
HUMAN_SOURCES = sorted(
    {r["source"] for r in RUNS.values() if DATASETS[r["source"]].get("human_labels", "none") != "none"}
)
# The option values the workflow derives from the config rather than reads from one key.
DERIVED_OPTIONS = {
    "default_weight_decay": {model: spec["weight_decay"] for model, spec in config["models"].items()},
    "human_datasets": HUMAN_SOURCES,
}
ALL_METRICS = [paths.fmt(paths.RUN_METRICS, run=r) for r in RUNS]
# Every table and figure of the analyses: final_outputs (rules/common.smk) requests them.
ANALYSIS_OUTPUTS = [o.path for analysis in ANALYSES.values() for o in analysis.outputs.values()]


def analysis_outputs(rule):
    """The rule's declared outputs, by the command's argument names; those with a caption go into the report."""
    outputs = {}
    for key, o in ANALYSES[rule].outputs.items():
        extra = {"subcategory": o.subcategory} if o.subcategory else {}
        caption = f"../report/{o.caption}.rst"
        outputs[key] = report(o.path, caption=caption, category=o.category, **extra) if o.caption else o.path
    return outputs


def analysis_options(rule):
    """The command's options, as one string, from the declaration and the config: a changed setting changes the params
    of exactly the rules that use it (Snakemake's params trigger)."""
    return option_args(ANALYSES[rule], option_values(ANALYSES[rule], config, DERIVED_OPTIONS))


def analysis_shell(rule):
    """`embnorm <command> --<input> {input.<input>} ... {params.options} --<output> {output.<output>} ...`: every path
    comes from the rule's input and output."""
    analysis = ANALYSES[rule]
    words = [f"embnorm {analysis.command}"]
    words += [f"{flag(i.name)} {{input.{i.name}}}" for i in analysis.inputs]
    words += ["{params.options}"] if analysis.options else []
    words += [f"{flag(key)} {{output.{key}}}" for key in analysis.outputs]
    return " ".join(words) + " > {log} 2>&1"


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
    shell:
        analysis_shell("knn_buckets")


rule human_agreement:
    input:
        params=all_params(),
        embeddings=all_embeddings(),
        human_labels=[paths.fmt(paths.HUMAN_LABELS_N, dataset=d) for d in HUMAN_SOURCES],
        human_probs=[paths.fmt(paths.HUMAN_LABELS_H_PROBS, dataset=d) for d in HUMAN_SOURCES],
    output:
        **analysis_outputs("human_agreement"),
    log:
        paths.fmt(paths.LOGS, name="human_agreement"),
    conda:
        "../../envs/embnorm.yaml"
    params:
        code=ANALYSIS_CODE,
        options=analysis_options("human_agreement"),
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
    shell:
        analysis_shell("mitigation")


rule claims:
    input:
        **CLAIM_TABLES,
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
