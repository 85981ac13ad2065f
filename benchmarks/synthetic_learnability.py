"""Learnability of the built-in synthetic data (a script, not a test): test kNN at initialization and after training.

Trains one baseline run of the default config (`<model>-sgd-none-synth`: small CPU backbone, the CPU recipe; SimCLR
unless `--model` says otherwise) on the synth dataset generated in memory with the given generator options, through
the package's own training loop, and prints a tab-separated header and one row: model, batch size, design, options,
epochs, optimizer steps, test kNN at epoch 0 (initialization), at the last epoch and at every evaluated epoch, the
first and last epoch's loss, and the process CPU time and wall time of training. `--knob` sets a generator constant
of the parts design (src/embnorm/data/synthetic/parts.py) for one run: how the rows of the learnability log in
docs/synthetic-data.md were made. Use OMP_NUM_THREADS=1 (the loop runs on one thread); CPU time is the
comparable number on a shared machine, wall time is inflated by whatever else runs.

The generator was designed on a development seed (`--synthetic seed=1`); the shipped numbers are those of the
default config (`synthetic.seed` 0). The methods' CPU budgets (docs/training.md, "Budgets set on learnability") were
chosen with `--model`, `--batch-size`, `--epochs` and a development run seed (`--seed 100`) that no study uses; the
batch size changes the learning rate with it (the method's lr per 256 images is kept). `--configfile` layers a preset
over config.yaml first (BYOL's heads are in config/byol.yaml). Examples:

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/synthetic_learnability.py                         # config.yaml as is
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/synthetic_learnability.py --synthetic design=appearance
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/synthetic_learnability.py --synthetic seed=1 --epochs 16 \
        --knn-every 2 --knob HUE_SPREAD=1.0
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/synthetic_learnability.py --model simsiam --batch-size 64 \
        --epochs 12 --seed 100
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/synthetic_learnability.py --configfile config/byol.yaml \
        --model byol --batch-size 64 --seed 100
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from embnorm.config import run_table  # noqa: E402
from embnorm.data import synthetic  # noqa: E402
from embnorm.data.format import Split  # noqa: E402
from embnorm.train.loop import train  # noqa: E402


def _value(text: str):
    return yaml.safe_load(text)


def merged(base: dict, layer: dict) -> dict:
    """`layer` over `base`, mappings merged key by key (as Snakemake merges --configfile files)."""
    out = dict(base)
    for key, value in layer.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def config_with(synthetic_options: dict, train_options: dict, model: str = "simclr", seed: int | None = None,
                model_options: dict | None = None, configfile: Path | None = None) -> dict:
    """config.yaml (with `configfile` layered over it), validated with the schema's defaults, with synth's generator
    options, train keys and the model's settings overridden, reduced to the one baseline run of `model` on synth."""
    from snakemake.utils import validate

    config = yaml.safe_load((REPO / "config.yaml").read_text())
    if configfile is not None:
        config = merged(config, yaml.safe_load(Path(configfile).read_text()))
    config["datasets"]["synth"].setdefault("synthetic", {}).update(synthetic_options)
    config["train"].update(train_options)
    config.setdefault("models", {}).setdefault(model, {}).update(model_options or {})
    config["grid"] = {"model": [model], "optimizer": ["sgd"], "mitigation": ["none"], "dataset": ["synth"],
                      "seed": [seed] if seed is not None else config["grid"].get("seed", [0])[:1]}
    config["include"], config["exclude"], config["overrides"] = [], [], {}
    exec("validate(config, schema)", {"validate": validate, "config": config,
                                       "schema": str(REPO / "workflow" / "schemas" / "config.schema.yaml")})
    return config


def measure(synthetic_options: dict, train_options: dict, **run_options) -> dict:
    config = config_with(synthetic_options, train_options, **run_options)
    (params,) = run_table(config)
    spec = synthetic.SyntheticSpec(**config["datasets"]["synth"]["synthetic"])
    t0 = time.process_time()
    splits = {}
    for name in ("train", "test"):
        images, structure = synthetic.generate(spec, name)
        splits[name] = Split(images, structure["label"], {"classes": synthetic.class_names(spec)})
    generate_cpu = time.process_time() - t0
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        train(params, splits["train"], splits["test"], None, checkpoint_path=folder / "checkpoint.pt",
              resume_path=folder / "resume.pt", metrics_path=folder / "metrics.tsv", threads=1)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        metrics = pd.read_csv(folder / "metrics.tsv", sep="\t")
    knn = metrics.dropna(subset=["knn_acc"])
    return {"model": params["model"], "seed": params["seed"], "batch_size": params["batch_size"],
            "lr": round(params["lr"], 5), "design": spec.design, "options": " ".join(f"{k}={v}" for k, v in synthetic_options.items()),
            "n_train": spec.n_train, "epochs": int(metrics.epoch.iloc[-1]),
            "steps": int(metrics.step.iloc[-1]), "knn_init": knn.knn_acc.iloc[0],
            "knn_final": knn.knn_acc.iloc[-1], "knn_curve": " ".join(f"{a:.3f}" for a in knn.knn_acc),
            "loss_first": metrics.loss.iloc[1] if len(metrics) > 1 else float("nan"),
            "loss_last": metrics.loss.iloc[-1], "train_cpu_s": round(cpu, 1), "train_wall_s": round(wall, 1),
            "generate_cpu_s": round(generate_cpu, 1)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--synthetic", nargs="*", default=[], metavar="KEY=VALUE",
                        help="options of datasets.synth.synthetic, e.g. design=appearance or seed=1")
    parser.add_argument("--knob", nargs="*", default=[], metavar="NAME=VALUE",
                        help="development only: set a module constant of the parts design "
                             "(data/synthetic/parts.py), e.g. HUE_SPREAD=0.2")
    parser.add_argument("--epochs", type=int, help="training epochs (default: config.yaml's train.epochs)")
    parser.add_argument("--knn-every", type=int, help="kNN every this many epochs (default: config.yaml's)")
    parser.add_argument("--model", default="simclr", help="the method trained (default simclr)")
    parser.add_argument("--batch-size", type=int, help="the model's batch size (default: the config's)")
    parser.add_argument("--seed", type=int, help="the run's seed factor (default: the config's first)")
    parser.add_argument("--configfile", type=Path, help="a preset layered over config.yaml (e.g. config/byol.yaml)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    from embnorm.data.synthetic import parts

    for item in args.knob:
        name, value = item.split("=", 1)
        if not hasattr(parts, name):
            raise SystemExit(f"--knob {name}: the parts design (data/synthetic/parts.py) has no such constant")
        setattr(parts, name, _value(value))
    options = dict(item.split("=", 1) for item in args.synthetic)
    options = {k: _value(v) for k, v in options.items()}
    train_options = {k: v for k, v in {"epochs": args.epochs, "knn_every": args.knn_every}.items() if v is not None}
    model_options = {"batch_size": args.batch_size} if args.batch_size else {}
    row = {**measure(options, train_options, model=args.model, seed=args.seed, model_options=model_options,
                     configfile=args.configfile), "knobs": " ".join(args.knob)}
    print("\t".join(row))
    print("\t".join(str(round(v, 3)) if isinstance(v, float) else str(v) for v in row.values()), flush=True)


if __name__ == "__main__":
    main()
