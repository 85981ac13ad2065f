"""The one path scheme: every artifact path's template. Only the workflow fills them (its rules and input functions);
each command takes the paths it reads and writes as arguments, and the package never builds a path from a run id or
a dataset name. (The auditor and the provenance recorder map the results tree back onto runs, so they read it too.)

Templates use `str.format` fields that double as Snakemake wildcards: `{dataset}`, `{split}`, `{run}`, `{name}`.
"""

from __future__ import annotations

RESOURCES = "resources"
RESULTS = "results"

# data
DOWNLOADS = RESOURCES + "/downloads"  # default data_dir: raw archives and label files in <data_dir>/<group>/<file>
DATASET_DOWNLOADS = RESOURCES + "/datasets/{dataset}/downloads.json"  # the verified raw files a dataset is made from
DATASET_DIR = RESOURCES + "/datasets/{dataset}/{split}"  # one prepared split: the three files below (data/format.py)
IMAGES_FILE, LABELS_FILE, META_FILE = "images.npy", "labels.npy", "meta.json"  # inside a prepared split's folder
DATASET_IMAGES = DATASET_DIR + "/" + IMAGES_FILE
DATASET_LABELS = DATASET_DIR + "/" + LABELS_FILE
DATASET_META = DATASET_DIR + "/" + META_FILE
DATASET_CHECK = RESOURCES + "/datasets/{dataset}/checked.json"  # the check_dataset job's record (data/check.py)
HUMAN_LABELS_N = RESOURCES + "/datasets/{dataset}/human/cifarn_labels.npz"  # CIFAR-10N/100N layout, train order
HUMAN_LABELS_H_COUNTS = RESOURCES + "/datasets/{dataset}/human/cifar10h-counts.npy"  # CIFAR-10H layout, test order
HUMAN_LABELS_H_PROBS = RESOURCES + "/datasets/{dataset}/human/cifar10h-probs.npy"
SPLIT_INDICES = RESOURCES + "/splits/{dataset}/indices.npy"
SPLIT_AUDIT = RESOURCES + "/splits/{dataset}/audit.tsv"

# runs
RUNS_TABLE = RESULTS + "/runs.tsv"
RUN_DIR = RESULTS + "/runs/{run}"
RUN_PARAMS = RUN_DIR + "/params.json"
RUN_CHECKPOINT = RUN_DIR + "/checkpoint.pt"
RUN_RESUME = RUN_DIR + "/resume.pt"
RUN_METRICS = RUN_DIR + "/metrics.tsv"
RUN_LOG = RUN_DIR + "/train.log"
RUN_EMBEDDINGS_DIR = RUN_DIR + "/embeddings"  # a run's embedded splits; the workflow's outputs are the files in it
EMBEDDING_FILE = "{dataset}-{split}.npz"  # one split's features inside a run's embeddings folder
RUN_EMBEDDINGS = RUN_EMBEDDINGS_DIR + "/" + EMBEDDING_FILE
RUN_EMBEDDINGS_INIT_DIR = RUN_DIR + "/embeddings_init"  # the same files, of the run's encoder at initialisation
RUN_EMBEDDINGS_INIT = RUN_EMBEDDINGS_INIT_DIR + "/" + EMBEDDING_FILE

# aggregates
TABLE = RESULTS + "/tables/{name}.tsv"
TABLE_MD = RESULTS + "/tables/{name}.md"
TABLE_HTML = RESULTS + "/tables/{name}.html"  # tables the report shows inline (the claims table)
FIGURE_PNG = RESULTS + "/figures/{name}.png"
FIGURE_PDF = RESULTS + "/figures/{name}.pdf"
SIMULATION = RESULTS + "/simulations/{name}.tsv"
REPORT = RESULTS + "/report.html"
MANIFEST = RESULTS + "/manifest.tsv"
LOGS = RESULTS + "/logs/{name}.log"


def fmt(template: str, **fields) -> str:
    """Fill a template; a missing field is an error rather than a silently wrong path."""
    return template.format(**fields)
