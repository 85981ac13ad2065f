"""The training loop on tiny random data (CPU, one thread): every model x optimizer x mitigation trains and logs norms;
resume after a stop at an epoch boundary or mid-epoch (signal) ends bit-identical to an uninterrupted run; a NaN loss
stops the run and keeps the last good checkpoint; the run state round-trips through resume.pt's stored layout; foreign
or truncated checkpoints are refused with clear errors."""

from __future__ import annotations

import math
import os
import signal

import numpy as np
import pandas as pd
import pytest
import torch

from embnorm.io import ArtifactError
from embnorm.models import METHODS
from embnorm.train import loop
from embnorm.checkpoint import RESUME_KEYS, CheckpointMismatch, RunState, load_resume, save_resume
from embnorm.train.loop import Interrupted, TrainingDiverged
from helpers.training import MITIGATIONS, TRAIN, assert_identical, run, tiny_params

torch.set_num_threads(1)
@pytest.mark.parametrize("mitigation", list(MITIGATIONS))
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("model", sorted(METHODS))
def test_every_combination_trains_and_logs_norms(model, optimizer, mitigation, tmp_path):
    params = tiny_params(model, optimizer, mitigation, epochs=1, warmup_steps=6)
    run(params, tmp_path)
    metrics = pd.read_csv(tmp_path / "metrics.tsv", sep="\t")
    assert metrics.epoch.tolist() == [0, 1]
    layers = METHODS[model].load().layers
    norms = metrics[[f"{layer}_norm_{s}" for layer in layers for s in ("mean", "median", "p10", "p90")]]
    assert np.isfinite(norms.to_numpy()).all() and (norms.to_numpy() > 0).all()
    assert np.isfinite(metrics.loss.iloc[1]) and metrics.knn_acc.notna().all()
    # the schedule counts optimizer steps (micro-batches x accumulate), and the lr is the run's resolved one. By hand,
    # the lr of the last step (index steps - 1) under a 6-step warm-up: peak * steps / 6 while the run is inside the
    # warm-up (SimCLR, SimSiam: 4 steps); past it (BYOL: 8 steps) the cosine reaches its end, peak * lr_floor.
    steps = len(TRAIN.labels) // (params["batch_size"] * params["accumulate"])
    expected_lr = params["lr"] * (steps / 6 if steps <= 6 else params["lr_floor"])
    assert metrics.lr.iloc[1] == pytest.approx(expected_lr, rel=1e-9)
    expected = {"none": {}, "cut": {"cut": 9 if model == "simsiam" else 3}, "gradscale": {"gradscale": 1},
                "wd": {"weight_decay": 1e-3}}[mitigation]
    assert {k: params[k] for k in expected} == expected


def test_cut_init_starts_with_smaller_norms(tmp_path):
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    run(tiny_params(mitigation="none", epochs=1), tmp_path / "a")
    run(tiny_params(mitigation="cut", epochs=1), tmp_path / "b")
    plain, cut = (pd.read_csv(tmp_path / d / "metrics.tsv", sep="\t") for d in "ab")
    assert cut.projector_norm_mean.iloc[0] < plain.projector_norm_mean.iloc[0] / 3


@pytest.mark.parametrize("model", sorted(METHODS))
def test_resume_at_epoch_boundary_is_bit_identical(model, tmp_path, capsys):
    params = tiny_params(model, "adam" if model == "simsiam" else "sgd", "gradscale", epochs=3)
    (tmp_path / "full").mkdir(), (tmp_path / "split").mkdir()
    run(params, tmp_path / "full")
    run(params, tmp_path / "split", stop_after_epochs=1)
    assert (tmp_path / "split" / "resume.pt").exists() and not (tmp_path / "split" / "checkpoint.pt").exists()
    capsys.readouterr()
    run(params, tmp_path / "split")
    assert "resuming" in capsys.readouterr().err
    assert not (tmp_path / "split" / "resume.pt").exists()
    assert_identical(tmp_path / "full", tmp_path / "split")


@pytest.mark.parametrize("model", ["simsiam", "byol"])  # byol: its EMA target is resumed mid-epoch too
def test_signal_mid_epoch_then_resume_is_bit_identical(model, tmp_path, monkeypatch, capsys):
    """SIGUSR1 (SLURM's warning) during optimizer step 3 of epoch 2: the run finishes that step, writes resume.pt at
    the next step boundary and stops; the rerun continues from there."""
    params = tiny_params(model, "sgd", "none", epochs=3, checkpoint_every=5)
    (tmp_path / "full").mkdir(), (tmp_path / "split").mkdir()
    run(params, tmp_path / "full")

    real_step, calls = loop.optimizer_step, {"n": 0}
    steps = len(TRAIN.labels) // (params["batch_size"] * params["accumulate"])

    def signalling_step(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == steps + 3:
            os.kill(os.getpid(), signal.SIGUSR1)
        return real_step(*args, **kwargs)

    monkeypatch.setattr(loop, "optimizer_step", signalling_step)
    with pytest.raises(Interrupted, match="SIGUSR1 at epoch 1 step 3"):
        run(params, tmp_path / "split")
    state = torch.load(tmp_path / "split" / "resume.pt", weights_only=True)
    assert (state["epoch"], state["step"]) == (1, 3)
    monkeypatch.setattr(loop, "optimizer_step", real_step)
    capsys.readouterr()
    run(params, tmp_path / "split")
    assert f"resuming {model}-sgd-none-synth-small-s0 at epoch 1 step 3" in capsys.readouterr().err
    assert_identical(tmp_path / "full", tmp_path / "split")


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path, monkeypatch):
    params = tiny_params(epochs=3, checkpoint_every=1)
    steps = len(TRAIN.labels) // params["batch_size"]
    method = METHODS[params["model"]].load()
    real_loss, calls = method.loss, {"n": 0}

    def poisoned(self, x1, x2):
        calls["n"] += 1
        loss = real_loss(self, x1, x2)
        return loss * float("nan") if calls["n"] > steps + 1 else loss  # epoch 2 goes bad

    monkeypatch.setattr(method, "loss", poisoned)
    with pytest.raises(TrainingDiverged, match="loss became nan in epoch 2"):
        run(params, tmp_path)
    state = torch.load(tmp_path / "resume.pt", weights_only=True)
    assert (state["epoch"], state["step"]) == (1, 0)
    assert all(torch.isfinite(t).all() for t in state["model"].values() if t.is_floating_point())
    assert not (tmp_path / "checkpoint.pt").exists() and not (tmp_path / "metrics.tsv").exists()


def test_run_state_round_trips_through_resume_pt_in_its_stored_layout(tmp_path):
    """save_resume writes the RunState under the keys resume.pt has always had (`partial` holds the interrupted
    epoch's loss sum and seconds), so older files stay readable; load_resume restores the weights, the optimizer's
    momentum and torch's RNG state, and returns the same state."""
    params = tiny_params()
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(4, 3)).sum().backward()
    optimizer.step()  # a momentum buffer to carry over
    state = RunState(epoch=2, step=3, metrics=[{"epoch": 0, "step": 0, "knn_acc": 0.25}], loss_sum=1.5, seconds=2.0)
    save_resume(tmp_path / "resume.pt", params, model, optimizer, state)
    rng = torch.get_rng_state()

    stored = torch.load(tmp_path / "resume.pt", weights_only=True)
    assert sorted(stored) == sorted(RESUME_KEYS)
    assert (stored["epoch"], stored["step"], stored["metrics"]) == (2, 3, state.metrics)
    assert stored["partial"] == {"loss_sum": 1.5, "seconds": 2.0}

    torch.manual_seed(1)
    fresh = torch.nn.Linear(3, 2)
    fresh_optimizer = torch.optim.SGD(fresh.parameters(), lr=0.1, momentum=0.9)
    assert load_resume(tmp_path / "resume.pt", params, fresh, fresh_optimizer) == state
    assert torch.equal(torch.get_rng_state(), rng)
    for key, value in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[key], value), key
    momentum = [fresh_optimizer.state[p]["momentum_buffer"] for p in fresh.parameters()]
    assert all(torch.equal(a, optimizer.state[p]["momentum_buffer"]) for a, p in zip(momentum, model.parameters()))
    assert load_resume(tmp_path / "absent.pt", params, fresh, fresh_optimizer) is None


def test_checkpoint_of_other_hyper_parameters_is_refused(tmp_path):
    params = tiny_params(epochs=2)
    run(params, tmp_path, stop_after_epochs=1)
    with pytest.raises(CheckpointMismatch, match=r"lr: 0\.0\d+ -> 0\.5"):
        run({**params, "lr": 0.5}, tmp_path)
    run({**params, "threads": 2, "checkpoint_every": 7}, tmp_path)  # execution settings may change
    assert (tmp_path / "checkpoint.pt").exists()


def test_truncated_checkpoint_gives_artifact_error_naming_the_file(tmp_path):
    params = tiny_params(epochs=2)
    run(params, tmp_path, stop_after_epochs=1)
    resume = tmp_path / "resume.pt"
    resume.write_bytes(resume.read_bytes()[: resume.stat().st_size // 2])
    with pytest.raises(ArtifactError, match=str(resume)):
        run(params, tmp_path)


def test_too_few_images_for_one_step_is_a_clear_error(tmp_path):
    with pytest.raises(Exception, match="fewer than one optimizer step"):
        run(tiny_params(batch_size=128), tmp_path)


def test_log_lines_are_plain_text_in_a_file(tmp_path, capsys):
    run(tiny_params(epochs=2), tmp_path)
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = [line for line in err.splitlines() if " epoch " in line]
    assert len(lines) == 2 and all("loss=" in line and "norm=" in line and "img/s=" in line for line in lines)
    assert not math.isnan(float(lines[-1].split("loss=")[1].split()[0]))
