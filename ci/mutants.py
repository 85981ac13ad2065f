"""Mutation check for issue 24: each guarding test fails when the product line it guards is broken.

For every row of MUTANTS below: copy the repository's tracked files (`git ls-files`) into a temporary folder, run the
test there once unmutated (it must pass), apply ONE plausible bug to the product line it guards (a literal string
replacement that must match exactly once), run the test again, and restore the original bytes (always, in a
`finally`). The repository itself is never touched. The copy's src/ comes first on PYTHONPATH, so the mutated code
is what every test and every workflow job imports; bytecode is not written, so no stale .pyc survives a restore.
Prints a Markdown table (test | file:line mutated | mutation | result); `fails` is expected, `PASSES` is a finding.
Exits 1 if a mutant survives, a replacement is not found exactly once, or a test does not pass unmutated.

Run from the repository root:

    .venv/bin/python ci/mutants.py                 # every row (the BYOL workflow row takes minutes)
    .venv/bin/python ci/mutants.py --skip-slow     # without the rows marked slow
    .venv/bin/python ci/mutants.py --only knn      # only the rows whose test id contains 'knn'
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", "-p", "no:cacheprovider", "-x"]
T = "tests/"
ST, CS, SI = "src/embnorm/analysis/stats.py", "tests/test_claim_statistics.py", "src/embnorm/analysis/simulations"
MI = "src/embnorm/analysis/claims/mitigations.py"

# (test node id, file, old text, new text, slow)
MUTANTS = [
    (T + "test_eval_precision.py::test_the_monitor_with_amp_on_gives_the_fp32_numbers",
     "src/embnorm/evaluation/features.py", "with torch.autocast(x.device.type, enabled=False):\n            feats =",
     "with torch.no_grad():\n            feats =", False),
    (T + "test_analysis_registry.py::test_the_audit_and_the_claims_read_the_declaration",
     "src/embnorm/analysis/registry.py", '("analysis", "min_bucket_count_human")', '("analysis", "min_count_human")',
     False),
    (T + "test_analysis_stats.py::test_paired_seed_ci_covers_95_percent[3]", ST,
     "student_t.ppf((1 + CI_LEVEL) / 2,", "student_t.ppf(CI_LEVEL,", False),
    (T + "test_analysis_stats.py::test_paired_seed_ci_covers_95_percent[5]", ST,
     "student_t.ppf((1 + CI_LEVEL) / 2,", "student_t.ppf(CI_LEVEL,", False),
    (T + "test_analysis_stats.py::test_paired_seed_ci_is_the_t_interval", ST,
     "d.std(ddof=1) / np.sqrt", "d.std() / np.sqrt", False),
    (T + "test_analysis_stats.py::test_paired_seed_ci", ST, "len(d) - 1) * d.std", "len(d)) * d.std", False),
    (CS + "::test_correlation_summary_cis_cover_95_percent_when_seeds_agree", ST,
     "[(1 - CI_LEVEL) / 2, (1 + CI_LEVEL) / 2]", "[1 - CI_LEVEL, CI_LEVEL]", False),
    (CS + "::test_the_two_level_ci_covers_a_seed_effect_the_pooled_ci_misses", ST,
     "picks = rng.integers(0, k, size=(resamples, k))", "picks = np.tile(np.arange(k), (resamples, 1))", False),
    (CS + "::test_paired_differences_by_hand", MI, "same_early=pairs.early_epoch == pairs.early_epoch_base",
     "same_early=pairs.epochs == pairs.epochs_base", False),
    (CS + "::test_group_results_leave_out_a_pair_with_another_early_epoch_by_name", MI, "f = f[f.same_early]",
     "f = f[f.early_epoch == f.early_epoch]", False),
    (CS + "::test_gain_difference_pairs_seeds_and_leaves_out_pairs_with_another_early_epoch", MI,
     "(pairs.mitigation == mitigation) & pairs.same_early", "(pairs.mitigation == mitigation)", False),
    (CS + "::test_gradient_checks_catch_a_gradient_that_is_not_orthogonal", SI + ".py",
     "(z.norm(dim=1) * g.norm(dim=1))).max())", "(z.norm(dim=1) * g.norm(dim=1))).min())", False),
    (CS + "::test_norm_growth_catches_a_step_that_shrinks_a_norm", SI + ".py", "float(1 - ratio.min())",
     "float(1 - ratio.max())", False),
    (CS + "::test_class_train_norm_mean_by_hand", "src/embnorm/analysis/mitigation.py",
     "float(train_norms[in_train].mean())", "float(np.median(train_norms[in_train]))", False),
    (CS + "::test_knn_distance_matches_scikit_learn", SI + "_imbalance.py", "d.topk(k, dim=1",
     "d.topk(k + 1, dim=1", False),
    (CS + "::test_frequency_norm_order_is_the_final_epochs_spearman", SI + "_imbalance.py",
     "trajectories.epoch == trajectories.epoch.max()", "trajectories.epoch == trajectories.epoch.min()", False),
    (T + "test_analysis_buckets.py::test_knn_buckets_over_fake_runs", "src/embnorm/analysis/buckets.py",
     '"y": correct.astype(np.float64)', '"y": (~correct).astype(np.float64)', False),
    (T + "test_analysis_buckets.py::test_unpredictive_norms_give_a_correlation_whose_ci_covers_zero", ST,
     "idx = rng.integers(0, len(x), size=(min(chunk, resamples - start), len(x)))",
     "idx = rng.permuted(np.tile(np.arange(len(x)), (min(chunk, resamples - start), 1)), axis=1)", False),
    (T + "test_analysis_simulations.py::test_imbalance_simulation_bookkeeping", SI + "_imbalance.py",
     "range(1, epochs + 1)", "range(1, epochs)", False),
    (T + "test_analysis_simulations.py::test_attract_pairs_loss_drops_samples_without_a_partner",
     SI + "_imbalance.py", "[has_partner].mean()", ".mean()", False),
    (T + "test_config_errors.py::test_malformed_config_is_rejected_with_one_line_naming_the_key[ood_not_a_dataset]",
     "src/embnorm/config.py", 'for key in ("parent", "ood"):', 'for key in ("parent",):', False),
    (T + "test_train_loop.py::test_every_combination_trains_and_logs_norms[simclr-sgd-none]",
     "src/embnorm/train/schedule.py", "return (step + 1) / warmup_steps", "return step / warmup_steps", False),
    (T + "test_monitor_api.py::test_cut_init_divides_parameters_not_buffers", "src/embnorm/mitigations.py",
     "for p in module.parameters():", "for p in module.state_dict().values():", False),
    (T + "test_monitor_api.py::test_monitor_leaves_mode_and_rng_state_unchanged", "src/embnorm/monitor.py",
     "fork_rng(devices=cuda)", "fork_rng(devices=cuda, enabled=False)", False),
    (T + "test_hostile_config.py::test_non_finite_numbers_are_refused_naming_the_key", "src/embnorm/config.py",
     "if isinstance(value, float) and not math.isfinite(value):",
     'if isinstance(value, float) and not math.isfinite(value) and "lr_per_256" not in where:', False),
    (T + "test_memory.py::test_freed_buffers_are_reused_instead_of_faulted_in_again", "src/embnorm/memory.py",
     "return bool(mallopt(M_MMAP_THRESHOLD, MMAP_LIMIT)) and ", "return ", False),
    (T + "test_results_docs.py::test_two_studies_from_two_folders_meet_side_by_side_in_the_readme",
     "src/embnorm/present/results_docs.py", 'cells += [row["verdict"], row["amended_verdict"]]',
     'cells += [row["amended_verdict"], row["verdict"]]', False),
    (T + "test_results_docs.py::test_learning_curves_average_seeds_at_each_nominal_share_and_fill_the_marked_block",
     "src/embnorm/present/results_docs.py", 'cells = [f"{sum(v) / len(v):.1f}"', 'cells = [f"{max(v):.1f}"', False),
    (T + "test_claims_preset.py::test_training_jobs_start_longest_first_and_before_the_simulations",
     "workflow/rules/common.smk", "return 10 + images // 10_000", "return 10", False),
    (T + "test_byol_workflow.py::test_byol_runs_train_embed_and_feed_every_analysis",
     "src/embnorm/embed.py", "layers = model.layers\n", "layers = model.layers[:2]\n", True),
]


def copy_repo(dest: Path) -> Path:
    """The tracked files of REPO (as they are in the working tree) under dest/<repo name>; beside it a link to the
    shared data folder the tests look for (REPO.parent/shared), and inside it a link to the running venv."""
    root = dest / REPO.name
    files = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z"], capture_output=True, check=True).stdout
    for name in filter(None, files.decode().split("\0")):
        src = REPO / name
        if src.is_file() or src.is_symlink():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, root / name, follow_symlinks=False)
    if (REPO.parent / "shared").exists():
        (dest / "shared").symlink_to(REPO.parent / "shared")
    if sys.prefix != sys.base_prefix:
        (root / ".venv").symlink_to(sys.prefix)
    return root


def run_test(root: Path, env: dict, nodeid: str, timeout: int) -> tuple[str, str]:
    """('passed' | 'failed' | 'skipped' | 'timeout' | 'error', a short reason) of one pytest run of `nodeid`."""
    try:
        proc = subprocess.run([*PYTEST, nodeid], cwd=root, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", f"over {timeout} s"
    out = proc.stdout + proc.stderr
    summary = (out.strip().splitlines() or [""])[-1]
    if proc.returncode == 0:
        ok = re.search(r"\d+ passed", summary) and "skipped" not in summary
        return ("passed", "") if ok else ("skipped", summary.strip("= "))
    first_error = re.search(r"^E +(\S.*)$", out, re.M)  # the first line of pytest's report of the exception
    reason = first_error.group(1) if first_error else summary.strip("= ")
    return ("failed" if proc.returncode == 1 and " error" not in summary else "error"), reason


def cell(text: str, width: int = 70) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= width else text[:width - 1] + "…"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-slow", action="store_true", help="leave out the rows marked slow (a workflow run)")
    parser.add_argument("--only", default="", help="only the rows whose test id contains this text")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per pytest run (slow rows: 3x)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="embnorm-mutants-"))
    try:
        return check(copy_repo(tmp), args)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def check(root: Path, args) -> int:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root / "src"), os.environ.get("PYTHONPATH", "")]).rstrip(
        os.pathsep), PYTHONDONTWRITEBYTECODE="1")
    imported = subprocess.run([sys.executable, "-c", "import embnorm; print(embnorm.__file__)"], cwd=root, env=env,
                              capture_output=True, text=True).stdout.strip()
    if not imported.startswith(str(root / "src")):
        print(f"embnorm is imported from {imported!r}, not from the copy {root / 'src'}", file=sys.stderr)
        return 2
    print(f"copy: {root} (embnorm from {imported}); python: {sys.executable}\n", file=sys.stderr)
    rows, bad = [], 0
    for nodeid, rel, old, new, slow in MUTANTS:
        if args.only not in nodeid:
            continue
        path = root / rel
        original = path.read_bytes()
        text = original.decode()
        count = text.count(old)
        where = f"{rel}:{text[:text.index(old)].count(chr(10)) + 1}" if count else rel
        test = nodeid.removeprefix("tests/") + (" (slow)" if slow else "")
        change = f"`{cell(old, 60)}` → `{cell(new, 60)}`"
        timeout = args.timeout * (3 if slow else 1)
        if slow and args.skip_slow:
            result = "not run (--skip-slow)"
        elif count != 1:
            result, bad = f"**replacement found {count} times**", bad + 1
        else:
            status, reason = run_test(root, env, nodeid, timeout)
            if status != "passed":
                result, bad = f"**broken before mutation** ({status}: {cell(reason, 60)})", bad + 1
            else:
                try:
                    path.write_bytes(text.replace(old, new).encode())
                    status, reason = run_test(root, env, nodeid, timeout)
                finally:
                    path.write_bytes(original)
                assert path.read_bytes() == original, f"{path} was not restored"
                if status == "passed":
                    result, bad = "**PASSES**", bad + 1
                elif status == "skipped":
                    result, bad = f"**skipped under the mutant** ({cell(reason, 60)})", bad + 1
                else:
                    result = f"fails ({status}: {cell(reason, 60)})"
        rows.append(f"| {test} | {where} | {change} | {result} |")
        print(rows[-1], file=sys.stderr, flush=True)
    print("| test | file:line mutated | mutation (old → new) | result |\n|---|---|---|---|")
    print("\n".join(rows))
    print(f"\n{len(rows)} row(s); {bad} finding(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
