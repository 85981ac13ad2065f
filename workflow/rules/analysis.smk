# Analyses: theory simulations, aggregate tables and figures over runs, and the claims check.
# Report categories are numbered because the report lists them alphabetically: the claims check comes first.

CLAIMS, THEORY, TRAINING, OOD, CONFIDENCE, MITIGATION = (
    "1 Claims check",
    "2 Theory simulations",
    "3 Training and norm growth",
    "4 Norm vs OOD (Fig. 3)",
    "5 Norm as confidence (Fig. 4)",
    "6 Mitigations",
)


TABLE_NAMES = (
    "claims",
    "training",
    "weight_decay",
    "norm_vs_ood",
    "knn_buckets",
    "knn_spearman",
    "human_buckets",
    "human_spearman",
    "mitigation",
    "class_metrics",
    "minority_majority",
)
FIGURE_NAMES = (
    "sim_gradients",
    "sim_convergence",
    "sim_imbalance",
    "norm_growth",
    "weight_decay",
    "norm_vs_ood",
    "knn_buckets",
    "human_agreement",
    "mitigation",
    "class_metrics",
)
SIMULATION_NAMES = (
    "gradients",
    "gd_norms",
    "convergence_norm",
    "convergence_angle",
    "imbalance_norms",
    "imbalance_density",
)
TSV = {n: paths.fmt(paths.TABLE, name=n) for n in TABLE_NAMES}
MD = {n: paths.fmt(paths.TABLE_MD, name=n) for n in TABLE_NAMES}
PNG = {n: paths.fmt(paths.FIGURE_PNG, name=n) for n in FIGURE_NAMES}
PDF = {n: paths.fmt(paths.FIGURE_PDF, name=n) for n in FIGURE_NAMES}
SIM = {n: paths.fmt(paths.SIMULATION, name=n) for n in SIMULATION_NAMES}
CLAIMS_HTML = paths.fmt(paths.TABLE_HTML, name="claims")

# Source datasets of the runs that come with human label files, and those files.
HUMAN_SOURCES = sorted(
    {r["source"] for r in RUNS.values() if DATASETS[r["source"]].get("human_labels", "none") != "none"}
)
HUMAN_FILES = [
    paths.fmt(t, dataset=d)
    for d in HUMAN_SOURCES
    for t in (paths.HUMAN_LABELS_N, paths.HUMAN_LABELS_H_COUNTS, paths.HUMAN_LABELS_H_PROBS)
]
DEFAULT_WEIGHT_DECAY = json_arg({model: spec["weight_decay"] for model, spec in config["models"].items()})
ALL_EMBEDDINGS = all_embeddings()
ALL_METRICS = [paths.fmt(paths.RUN_METRICS, run=r) for r in RUNS]
# Every table and figure of the analyses: final_outputs (rules/common.smk) requests them.
ANALYSIS_OUTPUTS = [*TSV.values(), *MD.values(), CLAIMS_HTML, *PNG.values(), *PDF.values(), *SIM.values()]


rule simulate_gradients:
    output:
        checks=SIM["gradients"],
        gd=SIM["gd_norms"],
        png=report(PNG["sim_gradients"], caption="../report/sim_gradients.rst", category=THEORY),
        pdf=PDF["sim_gradients"],
    log:
        paths.fmt(paths.LOGS, name="simulate_gradients"),
    conda:
        "../../envs/embnorm.yaml"
    params:
        code=ANALYSIS_CODE,
        seed=config["seed"],
    shell:
        "embnorm simulate-gradients --seed {params.seed} --checks {output.checks} --gd {output.gd} "
        "--png {output.png} --pdf {output.pdf} > {log} 2>&1"


rule simulate_convergence:
    output:
        norms=SIM["convergence_norm"],
        angles=SIM["convergence_angle"],
        png=report(PNG["sim_convergence"], caption="../report/sim_convergence.rst", category=THEORY),
        pdf=PDF["sim_convergence"],
    log:
        paths.fmt(paths.LOGS, name="simulate_convergence"),
    conda:
        "../../envs/embnorm.yaml"
    params:
        code=ANALYSIS_CODE,
        seed=config["seed"],
    shell:
        "embnorm simulate-convergence --seed {params.seed} --norms {output.norms} --angles {output.angles} "
        "--png {output.png} --pdf {output.pdf} > {log} 2>&1"


rule simulate_imbalance:
    output:
        trajectories=SIM["imbalance_norms"],
        density=SIM["imbalance_density"],
        png=report(PNG["sim_imbalance"], caption="../report/sim_imbalance.rst", category=THEORY),
        pdf=PDF["sim_imbalance"],
    log:
        paths.fmt(paths.LOGS, name="simulate_imbalance"),
    conda:
        "../../envs/embnorm.yaml"
    params:
        code=ANALYSIS_CODE,
        seed=config["seed"],
        epochs=ANALYSIS["simulation_epochs"],
        runs=ANALYSIS["simulation_runs"],
    shell:
        "embnorm simulate-imbalance --seed {params.seed} --epochs {params.epochs} --sim-runs {params.runs} "
        "--trajectories {output.trajectories} --density {output.density} --png {output.png} --pdf {output.pdf} "
        "> {log} 2>&1"


rule norm_vs_ood:
    input:
        params=all_params(),
        embeddings=ALL_EMBEDDINGS,
    output:
        tsv=report(TSV["norm_vs_ood"], caption="../report/norm_vs_ood_table.rst", category=OOD),
        md=MD["norm_vs_ood"],
        png=report(PNG["norm_vs_ood"], caption="../report/norm_vs_ood.rst", category=OOD),
        pdf=PDF["norm_vs_ood"],
    log:
        paths.fmt(paths.LOGS, name="norm_vs_ood"),
    conda:
        "../../envs/embnorm.yaml"
    params:
        code=ANALYSIS_CODE,
        runs=list(RUNS),
        layer=ANALYSIS["layer"],
    shell:
        "embnorm analyze ood --runs {params.runs} --layer {params.layer} "
        "--tsv {output.tsv} --md {output.md} --png {output.png} --pdf {output.pdf} > {log} 2>&1"


rule norm_growth:
    input:
        params=all_params(),
        metrics=ALL_METRICS,
    output:
        tsv=report(TSV["training"], caption="../report/training.rst", category=TRAINING),
        md=MD["training"],
        png=report(PNG["norm_growth"], caption="../report/norm_growth.rst", category=TRAINING),
        pdf=PDF["norm_growth"],
    log:
        paths.fmt(paths.LOGS, name="norm_growth"),
    conda:
        "../../envs/embnorm.yaml"
    params:
        code=ANALYSIS_CODE,
        runs=list(RUNS),
    shell:
        "embnorm analyze growth --runs {params.runs} "
        "--tsv {output.tsv} --md {output.md} --png {output.png} --pdf {output.pdf} > {log} 2>&1"


rule weight_decay:
    input:
        training=TSV["training"],
    output:
        tsv=TSV["weight_decay"],
        md=MD["weight_decay"],
        png=report(PNG["weight_decay"], caption="../report/weight_decay.rst", category=TRAINING),
        pdf=PDF["weight_decay"],
    log:
        paths.fmt(paths.LOGS, name="weight_decay"),
    conda:
        "../../envs/embnorm.yaml"
    params:
        code=ANALYSIS_CODE,
    shell:
        "embnorm weight-decay --training {input.training} --tsv {output.tsv} --md {output.md} "
        "--png {output.png} --pdf {output.pdf} > {log} 2>&1"


rule knn_buckets:
    input:
        params=all_params(),
        embeddings=ALL_EMBEDDINGS,
    output:
        buckets_tsv=TSV["knn_buckets"],
        buckets_md=MD["knn_buckets"],
        stats_tsv=report(
            TSV["knn_spearman"],
            caption="../report/knn_spearman.rst",
            category=CONFIDENCE,
            subcategory="kNN correctness",
        ),
        stats_md=MD["knn_spearman"],
        png=report(
            PNG["knn_buckets"], caption="../report/knn_buckets.rst", category=CONFIDENCE, subcategory="kNN correctness"
        ),
        pdf=PDF["knn_buckets"],
    log:
        paths.fmt(paths.LOGS, name="knn_buckets"),
    conda:
        "../../envs/embnorm.yaml"
    params:
        code=ANALYSIS_CODE,
        runs=list(RUNS),
        layer=ANALYSIS["layer"],
        buckets=ANALYSIS["buckets"],
        k=ANALYSIS["knn_k"],
        min_count=ANALYSIS["min_bucket_count"],
        normalization=ANALYSIS["bucket_normalization"],
        resamples=ANALYSIS["bootstrap"],
        seed=config["seed"],
    shell:
        "embnorm knn-buckets --runs {params.runs} --layer {params.layer} --buckets {params.buckets} --k {params.k} "
        "--min-count {params.min_count} --normalization {params.normalization} --resamples {params.resamples} "
        "--seed {params.seed} --buckets-tsv {output.buckets_tsv} --buckets-md {output.buckets_md} "
        "--stats-tsv {output.stats_tsv} --stats-md {output.stats_md} --png {output.png} --pdf {output.pdf} "
        "> {log} 2>&1"


rule human_agreement:
    input:
        params=all_params(),
        embeddings=ALL_EMBEDDINGS,
        human=HUMAN_FILES,
    output:
        buckets_tsv=TSV["human_buckets"],
        buckets_md=MD["human_buckets"],
        stats_tsv=report(
            TSV["human_spearman"],
            caption="../report/human_spearman.rst",
            category=CONFIDENCE,
            subcategory="Human labels",
        ),
        stats_md=MD["human_spearman"],
        png=report(
            PNG["human_agreement"],
            caption="../report/human_agreement.rst",
            category=CONFIDENCE,
            subcategory="Human labels",
        ),
        pdf=PDF["human_agreement"],
    log:
        paths.fmt(paths.LOGS, name="human_agreement"),
    conda:
        "../../envs/embnorm.yaml"
    params:
        code=ANALYSIS_CODE,
        runs=list(RUNS),
        human=HUMAN_SOURCES,
        layer=ANALYSIS["layer"],
        buckets=ANALYSIS["buckets"],
        min_count=ANALYSIS["min_bucket_count"],
        min_count_human=ANALYSIS["min_bucket_count_human"],
        normalization=ANALYSIS["bucket_normalization"],
        resamples=ANALYSIS["bootstrap"],
        seed=config["seed"],
    shell:
        "embnorm human-agreement --runs {params.runs} --human-datasets {params.human} --layer {params.layer} "
        "--buckets {params.buckets} --min-count {params.min_count} --min-count-human {params.min_count_human} "
        "--normalization {params.normalization} --resamples {params.resamples} --seed {params.seed} "
        "--buckets-tsv {output.buckets_tsv} --buckets-md {output.buckets_md} --stats-tsv {output.stats_tsv} "
        "--stats-md {output.stats_md} --png {output.png} --pdf {output.pdf} > {log} 2>&1"


rule mitigation:
    input:
        params=all_params(),
        metrics=ALL_METRICS,
        embeddings=ALL_EMBEDDINGS,
    output:
        epochs_tsv=report(TSV["mitigation"], caption="../report/mitigation_table.rst", category=MITIGATION),
        epochs_md=MD["mitigation"],
        classes_tsv=TSV["class_metrics"],
        classes_md=MD["class_metrics"],
        imbalance_tsv=report(TSV["minority_majority"], caption="../report/minority_majority.rst", category=MITIGATION),
        imbalance_md=MD["minority_majority"],
        epochs_png=report(PNG["mitigation"], caption="../report/mitigation.rst", category=MITIGATION),
        epochs_pdf=PDF["mitigation"],
        classes_png=report(PNG["class_metrics"], caption="../report/class_metrics.rst", category=MITIGATION),
        classes_pdf=PDF["class_metrics"],
    log:
        paths.fmt(paths.LOGS, name="mitigation"),
    conda:
        "../../envs/embnorm.yaml"
    params:
        code=ANALYSIS_CODE,
        runs=list(RUNS),
        layer=ANALYSIS["layer"],
        default_wd=DEFAULT_WEIGHT_DECAY,
    shell:
        "embnorm mitigation --runs {params.runs} --layer {params.layer} --default-weight-decay {params.default_wd} "
        "--epochs-tsv {output.epochs_tsv} --epochs-md {output.epochs_md} --classes-tsv {output.classes_tsv} "
        "--classes-md {output.classes_md} --imbalance-tsv {output.imbalance_tsv} --imbalance-md {output.imbalance_md} "
        "--epochs-png {output.epochs_png} --epochs-pdf {output.epochs_pdf} --classes-png {output.classes_png} "
        "--classes-pdf {output.classes_pdf} > {log} 2>&1"


CLAIM_TABLES = {
    "gradients": SIM["gradients"],
    "gd_norms": SIM["gd_norms"],
    "convergence_norm": SIM["convergence_norm"],
    "convergence_angle": SIM["convergence_angle"],
    "imbalance_norms": SIM["imbalance_norms"],
    "imbalance_density": SIM["imbalance_density"],
    "training": TSV["training"],
    "norm_vs_ood": TSV["norm_vs_ood"],
    "knn_spearman": TSV["knn_spearman"],
    "human_spearman": TSV["human_spearman"],
    "class_metrics": TSV["class_metrics"],
    "weight_decay": TSV["weight_decay"],
}


rule claims:
    input:
        **CLAIM_TABLES,
        runs=paths.RUNS_TABLE,  # which claims this config can decide, from its run table (claims/plan.py)
    output:
        tsv=TSV["claims"],
        md=MD["claims"],
        html=report(CLAIMS_HTML, caption="../report/claims.rst", category=CLAIMS),
    log:
        paths.fmt(paths.LOGS, name="claims"),
    conda:
        "../../envs/embnorm.yaml"
    params:
        code=ANALYSIS_CODE,
        tables=" ".join(f"--table {key}={path}" for key, path in CLAIM_TABLES.items()),
        default_wd=DEFAULT_WEIGHT_DECAY,
        human=json_arg(HUMAN_SOURCES),
        resamples=ANALYSIS["bootstrap"],
        seed=config["seed"],
    shell:
        "embnorm claims {params.tables} --default-weight-decay {params.default_wd} --resamples {params.resamples} "
        "--seed {params.seed} --runs {input.runs} --human-sources {params.human} "
        "--tsv {output.tsv} --md {output.md} --html {output.html} > {log} 2>&1"
