# Data: fetch and verify raw files, prepare source datasets into the one format, human labels, imbalanced splits.
from embnorm.data.check import checked_files
from embnorm.data.sources import content_arg, needs_download, raw_inputs


rule download:
    output:
        paths.DATASET_DOWNLOADS,
    log:
        paths.fmt(paths.LOGS, name="download-{dataset}"),
    wildcard_constraints:
        dataset="|".join(name for name, spec in DATASETS.items() if needs_download(spec)) or "NONE",
    localrule: True
    conda:
        "../../envs/embnorm.yaml"
    params:
        spec=lambda wildcards: json_arg(DATASETS[wildcards.dataset]),
    shell:
        "embnorm download --dataset {wildcards.dataset} --spec {params.spec} --out {output} > {log} 2>&1"


rule prepare_dataset:
    input:
        lambda wildcards: raw_inputs(wildcards.dataset, DATASETS[wildcards.dataset]),
    output:
        **{
            f"{split}_{kind}": paths.fmt(t, split=split, dataset="{dataset}")
            for split in ("train", "test")
            for kind, t in (
                ("images", paths.DATASET_IMAGES),
                ("labels", paths.DATASET_LABELS),
                ("meta", paths.DATASET_META),
            )
        },
    log:
        paths.fmt(paths.LOGS, name="prepare-{dataset}"),
    wildcard_constraints:
        dataset="|".join(source_datasets()) or "NONE",
    priority: 10  # the critical path (data, then training) before the simulations
    conda:
        "../../envs/embnorm.yaml"
    params:
        # the spec, and for a local folder or file a hash of its manifest (paths, sizes, mtimes): an edit there
        # re-prepares exactly this dataset (one parameter, so other datasets keep the value they had without it)
        args=lambda wildcards: json_arg(DATASETS[wildcards.dataset]) + content_arg(DATASETS[wildcards.dataset]),
    shell:
        "embnorm prepare --dataset {wildcards.dataset} --spec {params.args} > {log} 2>&1"


rule human_labels:
    input:
        dataset_files("{dataset}", "train") + dataset_files("{dataset}", "test"),
        lambda wildcards: raw_inputs(wildcards.dataset, DATASETS[wildcards.dataset]),
    output:
        cifarn=paths.HUMAN_LABELS_N,
        counts=paths.HUMAN_LABELS_H_COUNTS,
        probs=paths.HUMAN_LABELS_H_PROBS,
    log:
        paths.fmt(paths.LOGS, name="human-labels-{dataset}"),
    conda:
        "../../envs/embnorm.yaml"
    params:
        spec=lambda wildcards: json_arg(DATASETS[wildcards.dataset]),
    shell:
        "embnorm human-labels --dataset {wildcards.dataset} --spec {params.spec} > {log} 2>&1"


rule imbalanced_split:
    input:
        lambda wildcards: dataset_files(DATASETS[wildcards.dataset]["parent"], "train"),
    output:
        indices=paths.SPLIT_INDICES,
        audit=paths.SPLIT_AUDIT,
    log:
        paths.fmt(paths.LOGS, name="split-{dataset}"),
    priority: 10  # the critical path (data, then training) before the simulations
    conda:
        "../../envs/embnorm.yaml"
    params:
        parent=lambda wildcards: DATASETS[wildcards.dataset]["parent"],
        base=lambda wildcards: DATASETS[wildcards.dataset]["imbalance"]["base"],
        n_max=lambda wildcards: (
            f"--n-max {DATASETS[wildcards.dataset]['imbalance']['n_max']}"
            if "n_max" in DATASETS[wildcards.dataset]["imbalance"]
            else ""
        ),
    shell:
        "embnorm split --dataset {wildcards.dataset} --parent {params.parent} --base {params.base} {params.n_max} > {log} 2>&1"


rule check_dataset:
    input:
        lambda wildcards: checked_files(wildcards.dataset, DATASETS),
    output:
        paths.DATASET_CHECK,
    log:
        paths.fmt(paths.LOGS, name="check-{dataset}"),
    priority: 10
    localrule: True
    # Verifies a dataset's prepared files (and a derived dataset's split) before the train and embed jobs read them;
    # they take its record as an ancient input, so a damaged file stops here and a finished checkpoint is kept.
    conda:
        "../../envs/embnorm.yaml"
    params:
        spec=lambda wildcards: json_arg(DATASETS[wildcards.dataset]),
        parent=lambda wildcards: json_arg(DATASETS.get(DATASETS[wildcards.dataset].get("parent"), {})),
    shell:
        "embnorm check-dataset --dataset {wildcards.dataset} --spec {params.spec} --parent-spec {params.parent} "
        "--out {output} > {log} 2>&1 || {{ tail -n 1 {log} >&2; exit 1; }}"
