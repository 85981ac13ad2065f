"""How close to the floor: every speed ratio side by side, from one command (a script, not a test).

    .venv/bin/python benchmarks/speed.py                 # CPU ratios (and the GPU ones when CUDA is present)
    .venv/bin/python benchmarks/speed.py --rounds 1      # quick look
    .venv/bin/python benchmarks/speed.py --markdown docs/benchmarks.md   # and write the page (make benchmarks-doc)

Each figure is the median of `--rounds` interleaved repetitions (wall clock, `--threads` torch threads); `MEASURES`
below says what each printed line compares, and the page quotes it. The last line is a one-line summary.
`--markdown` writes docs/benchmarks.md (benchmarks/speed_page.py): the ratios against their targets, the printed
lines, and the measurements recorded in benchmarks/recorded.tsv.
"""

from __future__ import annotations

import argparse
import inspect
import os
import platform
import statistics
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speed_page import RECORDED, Measurement, Ratio, page, read_recorded  # noqa: E402
from train_speed import EPOCH_IMAGES, TwoViewPIL, pil_transform, timed, timed_loader  # noqa: E402

from embnorm.evaluation.knn import knn_predict  # noqa: E402
from embnorm.models import build_model  # noqa: E402
from embnorm.train.augment import RECIPES, two_views  # noqa: E402
from embnorm.train.step import micro_batches, optimizer_step, prefetched  # noqa: E402

MEASURES = """\
- `knn`: `knn_predict` (bank 20,000 × queries 5,000 × 512-d, k = 200, t = 0.1, cosine) against its floor, the bare
  similarity matmul with the same normalisation and threads, into one reused output buffer as `knn_predict` does,
  at the fastest of the chunkings 256, 512, 1,024 and `knn_predict`'s own (printed); also the same ratio in process
  CPU time with one thread, which other processes on the machine disturb least.
- `aug`: two views of 4,096 CIFAR-size images: our batched augmentation (`two_views`, batch 512, in this process)
  against the authors' per-image PIL transforms in a `--workers`-worker DataLoader (batch 512; its steady state, over
  4 passes of the images after its start-up batches); also both per CPU second (ours on one thread, the PIL
  transforms in this process), which a busy machine disturbs least: on an idle machine with 2 cores, 2 workers and 2
  threads both scale by at most 2.
- `gpu` (CUDA only): ResNet-18 SimCLR, batch 512, bf16, torch.compile: the full step with the augmentation prefetched
  on a side stream (`step.prefetched`), the serial step, and the compiled model-only ceiling; their ratio and the
  seconds per 50,000-image epoch.
- `knn-gpu` (CUDA only): `knn_predict` against its floor on the GPU, with its time per evaluation at the paper's
  CIFAR scale (the monitor, 50,000 × 10,000, and the leave-one-out bucket analysis, 50,000 × 50,000).
"""
# each ratio's target: how the page writes it, and the test of a measured value
TARGETS = {
    "knn": ("≤ 1.2", lambda ratio: ratio <= 1.2),
    "aug": ("≥ 8×", lambda ratio: ratio >= 8),
    "step": ("≥ 90 %", lambda ratio: ratio >= 0.9),
    "epoch": ("≤ 1.2 s", lambda seconds: seconds <= 1.2),
}
KNN = {"bank": 20_000, "queries": 5_000, "dim": 512, "k": 200, "t": 0.1, "classes": 100}
FLOOR_CHUNKS = (256, 512, 1024)  # the floor is the fastest of these chunkings (and knn_predict's own)
AUG = {"images": 4096, "size": 32, "batch": 512}


def clocked(fn) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def knn_ratio(rounds: int, threads: int) -> dict:
    g = torch.Generator().manual_seed(0)
    bank, queries = torch.randn(KNN["bank"], KNN["dim"], generator=g), torch.randn(KNN["queries"], KNN["dim"], generator=g)
    labels = torch.randint(0, KNN["classes"], (KNN["bank"],), generator=g)
    chunks = sorted({*FLOOR_CHUNKS, inspect.signature(knn_predict).parameters["chunk"].default})

    def knn():
        knn_predict(bank, labels, queries, KNN["k"], KNN["t"], KNN["classes"])

    out = {}
    for n_threads, clock in ((threads, 0), (1, 1)):  # wall clock at `threads`; CPU time at one thread
        torch.set_num_threads(n_threads)
        floors = {chunk: similarity_matmul(bank, queries, chunk) for chunk in chunks}
        for fn in (*floors.values(), knn):  # warm-up
            fn()
        times = {key: [] for key in (*floors, "knn")}
        for _ in range(rounds):
            for chunk, fn in floors.items():
                times[chunk].append(clocked(fn)[clock])
            times["knn"].append(clocked(knn)[clock])
        med = {key: statistics.median(v) for key, v in times.items()}
        fastest = min(chunks, key=med.__getitem__)
        out["wall" if clock == 0 else "cpu1"] = (med["knn"], med[fastest], fastest)
    torch.set_num_threads(threads)
    return out


def similarity_matmul(bank: torch.Tensor, queries: torch.Tensor, chunk: int):
    """The floor: normalise both sides and multiply, `chunk` queries at a time into one reused output buffer (as
    knn_predict does; a fresh 41 MB chunk would be faulted in page by page each time, 13 % more on 2 CPU cores)."""
    def floor():
        b, q = F.normalize(bank, dim=1), F.normalize(queries, dim=1)
        out = torch.empty(min(chunk, len(q)), len(b), device=q.device)
        for start in range(0, len(q), chunk):
            rows = q[start:start + chunk]
            torch.mm(rows, b.T, out=out[:len(rows)])
    return floor


def knn_gpu(rounds: int) -> dict:
    """knn_predict and its matmul floor on CUDA at the issue's size, and at the paper's CIFAR scale: the monitor
    (bank 50,000 x 10,000 test queries) and the bucket analysis's leave-one-out (50,000 x 50,000)."""
    device = torch.device("cuda")
    g = torch.Generator(device=device).manual_seed(0)
    chunk = inspect.signature(knn_predict).parameters["chunk"].default

    def seconds(fn) -> float:
        fn()
        return statistics.median(timed(fn, 1, 0, device) for _ in range(rounds))

    out = {}
    for name, n_bank, n_query in (("issue", KNN["bank"], KNN["queries"]), ("monitor", 50_000, 10_000),
                                  ("loo", 50_000, 50_000)):
        bank = torch.randn(n_bank, KNN["dim"], device=device, generator=g)
        queries = bank if name == "loo" else torch.randn(n_query, KNN["dim"], device=device, generator=g)
        labels = torch.randint(0, KNN["classes"], (n_bank,), device=device, generator=g)

        floor = similarity_matmul(bank, queries, chunk)
        out[name] = (seconds(lambda: knn_predict(bank, labels, queries, KNN["k"], KNN["t"], KNN["classes"],
                                                 exclude_self=name == "loo")), seconds(floor))
    return out


def aug_ratio(rounds: int, workers: int) -> dict:
    n, size, batch = AUG["images"], AUG["size"], AUG["batch"]
    host = np.random.default_rng(0).integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    images, recipe = torch.from_numpy(host), RECIPES["simclr_cifar"]
    steps = n // batch

    def ours():
        gen = torch.Generator().manual_seed(0)
        for i in range(steps):
            two_views(images[i * batch:(i + 1) * batch], recipe, gen)

    # the loader gets 4 x the images, so that its timed batches (after the untimed start-up and prefetch queue of
    # 2 x workers + 1 batches) are made in steady state rather than taken from the queue filled before timing
    pil_host = np.concatenate([host] * 4)
    loader = DataLoader(TwoViewPIL(pil_host, pil_transform(recipe, size)), batch_size=batch, shuffle=True,
                        drop_last=True, num_workers=workers, prefetch_factor=2 if workers else None,
                        persistent_workers=False)
    pil_dataset = TwoViewPIL(host[:batch], pil_transform(recipe, size))

    def pil_in_process():  # the same per-image work, in this process, for its CPU time
        for i in range(batch):
            pil_dataset[i]

    def ours_one_thread():
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            two_views(images[:batch], recipe, torch.Generator().manual_seed(0))
        finally:
            torch.set_num_threads(threads)

    cpu = torch.device("cpu")
    ours()  # warm-up
    rates = {"ours": [], "pil": [], "ours_cpu1": [], "pil_cpu1": []}
    for _ in range(rounds):
        rates["ours"].append(steps * batch / clocked(ours)[0])
        # the loader's first batches (worker start-up, prefetch queue) are consumed untimed; steady state after
        per_batch = timed_loader(loader, lambda v: v, 4 * steps - 2 * workers - 1 if workers else 4 * steps, 0, cpu)
        rates["pil"].append(batch / per_batch)
        rates["ours_cpu1"].append(batch / clocked(ours_one_thread)[1])
        rates["pil_cpu1"].append(batch / clocked(pil_in_process)[1])
    return {key: statistics.median(v) for key, v in rates.items()}


def gpu_ratio(rounds: int, steps: int) -> dict:
    device, batch, size = torch.device("cuda"), 512, 32
    torch.backends.cudnn.benchmark = True
    n_images = batch * 64
    images = torch.randint(0, 256, (n_images, size, size, 3), dtype=torch.uint8, device=device)
    order = torch.randperm(n_images, device=device)
    recipe = RECIPES["simclr_cifar"]
    params = {"model": "simclr", "backbone": "resnet18", "hidden_dim": 0, "embed_dim": 256, "predictor_dim": 512,
              "temperature": 0.5, "loss": "ntxent", "gradscale": 0.0, "cut": 1.0, "cut_scope": "all"}
    torch.manual_seed(0)
    model = build_model(params, size).to(device).to(memory_format=torch.channels_last).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-6, fused=True)
    model.compile()

    def views(step):
        return list(micro_batches(images, order, step % (n_images // batch), batch, 1, recipe, (0, 0, 2, 0)))

    fixed = views(0)

    def run(ahead: bool | None):
        def go():
            if ahead is None:  # the model-only ceiling: the same pre-made views every step
                for _ in range(steps):
                    optimizer_step(model, optimizer, fixed, 1, device, True)
                return
            for _, v in prefetched(views, range(steps), device, ahead=ahead):
                optimizer_step(model, optimizer, v, 1, device, True)
        return go

    measures = {"ceiling": run(None), "serial": run(False), "overlap": run(True)}
    for fn in measures.values():  # compile and warm up every path
        timed(fn, 1, 1, device)
    seconds = {key: [] for key in measures}
    for _ in range(rounds):
        for key, fn in measures.items():
            seconds[key].append(timed(fn, 1, 0, device) / steps)
    return {key: batch / statistics.median(v) for key, v in seconds.items()}


def ratio(name: str, target: str, value: float, text: str, per_cpu_second: str = "") -> Ratio:
    label, holds = TARGETS[target]
    return Ratio(name, label, text, per_cpu_second, holds(value))


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved repetitions; the median is reported")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2: the 2-core machine)")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers of the PIL pipeline")
    parser.add_argument("--gpu-steps", type=int, default=30, help="timed steps per GPU measurement and round")
    parser.add_argument("--skip", nargs="*", default=[], choices=["knn", "aug", "gpu"], help="parts to leave out")
    parser.add_argument("--markdown", type=Path, help="write the page (docs/benchmarks.md) here")
    parser.add_argument("--recorded", type=Path, default=RECORDED, help="the recorded measurements the page lists")
    args = parser.parse_args(argv)
    recorded = read_recorded(args.recorded) if args.markdown else []  # a malformed file stops before measuring
    torch.set_num_threads(args.threads)
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else None
    setup = (f"{date.today()}  torch {torch.__version__}, {platform.processor() or platform.machine()}, "
             f"{os.cpu_count()} CPUs, torch threads {args.threads}, PIL workers {args.workers}, "
             f"median of {args.rounds}, load average at start {os.getloadavg()[0]:.2f}"
             + (f", GPU {gpu}" if gpu else ", no GPU"))
    measurement = Measurement(" ".join(["benchmarks/speed.py", *argv]), setup)

    def show(line: str) -> None:
        print(line, flush=True)
        measurement.lines.append(line)

    print(setup)
    summary = []
    if "knn" not in args.skip:
        r = knn_ratio(args.rounds, args.threads)
        (knn_s, floor_s, chunk_s), (knn_c, floor_c, chunk_c) = r["wall"], r["cpu1"]
        show(f"knn    knn_predict {knn_s:6.3f} s   matmul floor {floor_s:6.3f} s   knn/floor {knn_s / floor_s:5.2f}  "
             f"(one thread, CPU time: {knn_c:.3f} s / {floor_c:.3f} s = {knn_c / floor_c:.2f}; floor chunks "
             f"{chunk_s} / {chunk_c})")
        summary += [f"knn/floor {knn_s / floor_s:.2f} ({args.threads} threads) {knn_c / floor_c:.2f} (1 thread CPU)"]
        measurement.ratios.append(ratio("kNN / matmul floor", "knn", knn_s / floor_s,
                                        f"{knn_s / floor_s:.2f} ({args.threads} threads)", f"{knn_c / floor_c:.2f}"))
    if "aug" not in args.skip:
        r = aug_ratio(args.rounds, args.workers)
        cpu_ratio = r["ours_cpu1"] / r["pil_cpu1"]
        show(f"aug    ours {r['ours']:8.0f} pairs/s   PIL DataLoader {r['pil']:8.0f} pairs/s   "
             f"ours/PIL {r['ours'] / r['pil']:5.1f}x  (per CPU second, one thread / one process: "
             f"{r['ours_cpu1']:.0f} / {r['pil_cpu1']:.0f} = {cpu_ratio:.1f}x)")
        summary += [f"aug/PIL {r['ours'] / r['pil']:.1f}x ({args.workers} workers) {cpu_ratio:.1f}x (per CPU second)"]
        measurement.ratios.append(ratio("augmentation / PIL DataLoader", "aug", r["ours"] / r["pil"],
                                        f"{r['ours'] / r['pil']:.1f}× ({args.workers} workers)", f"{cpu_ratio:.1f}×"))
    if "gpu" not in args.skip and gpu:
        r = gpu_ratio(args.rounds, args.gpu_steps)
        show(f"gpu    step, prefetched {r['overlap']:8.0f} img/s   serial {r['serial']:8.0f} img/s   compiled "
             f"model-only ceiling {r['ceiling']:8.0f} img/s   prefetched/ceiling {r['overlap'] / r['ceiling']:6.1%}"
             f"   s per {EPOCH_IMAGES:,}-image epoch {EPOCH_IMAGES / r['overlap']:.2f} (serial "
             f"{EPOCH_IMAGES / r['serial']:.2f}, ceiling {EPOCH_IMAGES / r['ceiling']:.2f})")
        summary += [f"step/ceiling {r['overlap'] / r['ceiling']:.1%}", f"{EPOCH_IMAGES / r['overlap']:.2f} s/epoch"]
        measurement.ratios += [
            ratio(f"full step / compiled model-only ceiling ({gpu})", "step", r["overlap"] / r["ceiling"],
                  f"{r['overlap'] / r['ceiling']:.1%}"),
            ratio(f"seconds per {EPOCH_IMAGES:,}-image ResNet-18 epoch ({gpu})", "epoch",
                  EPOCH_IMAGES / r["overlap"], f"{EPOCH_IMAGES / r['overlap']:.2f} s")]
        if "knn" not in args.skip:
            k = knn_gpu(args.rounds)
            show(f"knn-gpu knn/floor {k['issue'][0] / k['issue'][1]:.2f} ({k['issue'][0] * 1e3:.1f} ms / "
                 f"{k['issue'][1] * 1e3:.1f} ms); paper scale: monitor (50,000 x 10,000) {k['monitor'][0]:.3f} s, "
                 f"leave-one-out (50,000 x 50,000) {k['loo'][0]:.3f} s, per evaluation")
            summary += [f"knn/floor on GPU {k['issue'][0] / k['issue'][1]:.2f}"]
            measurement.ratios.append(ratio(f"kNN / matmul floor ({gpu})", "knn", k["issue"][0] / k["issue"][1],
                                            f"{k['issue'][0] / k['issue'][1]:.2f}"))
    elif "gpu" not in args.skip:
        show("gpu    no CUDA device: step/ceiling and s/epoch not measured (benchmarks/gpu_check.py measures them)")
    show("summary: " + "; ".join(summary))
    if args.markdown:
        from embnorm import io

        io.write_text(args.markdown, page(measurement, recorded, MEASURES))
        print(f"wrote {args.markdown}")


if __name__ == "__main__":
    main()
