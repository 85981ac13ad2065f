# Data: fetch and verify raw files, prepare source datasets into the one format, human labels, imbalanced splits.
from embnorm.data.sources import content_arg


rule download:
    output:
        downloads=paths.DATASET_DOWNLOADS,
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
        "embnorm download --dataset {wildcards.dataset} --spec {params.spec} --out {output.downloads} > {log} 2>&1"


rule prepare_dataset:
    input:
        raw=raw_inputs,
    output:
        train=dataset_files("{dataset}", "train"),
        test=dataset_files("{dataset}", "test"),
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
        train=lambda wildcards, output: split_dir(output.train),
        test=lambda wildcards, output: split_dir(output.test),
    shell:
        "embnorm prepare --dataset {wildcards.dataset} --spec {params.args} "
        "--train {params.train} --test {params.test} > {log} 2>&1"


rule human_labels:
    input:
        train=dataset_files("{dataset}", "train"),
        test=dataset_files("{dataset}", "test"),
        raw=raw_inputs,
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
        train=lambda wildcards, input: split_dir(input.train),
        test=lambda wildcards, input: split_dir(input.test),
    shell:
        "embnorm human-labels --dataset {wildcards.dataset} --spec {params.spec} --train {params.train} "
        "--test {params.test} --cifarn {output.cifarn} --counts {output.counts} --probs {output.probs} > {log} 2>&1"


rule imbalanced_split:
    input:
        parent_train=lambda wildcards: dataset_files(DATASETS[wildcards.dataset]["parent"], "train"),
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
        parent_train=lambda wildcards, input: split_dir(input.parent_train),
        base=lambda wildcards: DATASETS[wildcards.dataset]["imbalance"]["base"],
        n_max=lambda wildcards: (
            f"--n-max {DATASETS[wildcards.dataset]['imbalance']['n_max']}"
            if "n_max" in DATASETS[wildcards.dataset]["imbalance"]
            else ""
        ),
        min_class_size=lambda wildcards: (
            f"--min-class-size {DATASETS[wildcards.dataset]['imbalance']['min_class_size']}"
            if "min_class_size" in DATASETS[wildcards.dataset]["imbalance"]
            else ""
        ),
    shell:
        "embnorm split --dataset {wildcards.dataset} --parent {params.parent} --parent-train {params.parent_train} "
        "--base {params.base} {params.n_max} {params.min_class_size} --indices {output.indices} "
        "--audit {output.audit} > {log} 2>&1"


rule check_dataset:
    input:
        unpack(check_inputs),
    output:
        checked=paths.DATASET_CHECK,
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
        train=lambda wildcards, input: split_dir(input.train),
        test=lambda wildcards, input: split_dir(input.test),
        indices=indices_arg,
    shell:
        "embnorm check-dataset --dataset {wildcards.dataset} --spec {params.spec} --parent-spec {params.parent} "
        "--train {params.train} --test {params.test} {params.indices} --out {output.checked} "
        "> {log} 2>&1 || {{ tail -n 1 {log} >&2; exit 1; }}"
