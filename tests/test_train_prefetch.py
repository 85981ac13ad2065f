"""The prefetcher (`step.prefetched`) that overlaps the next step's augmentation with the current step on CUDA: its
look-ahead logic runs on CPU too, and there it must hand out exactly the serial batches and views, in order, and a
whole training run with it switched on must end bit-identical to the serial run (also across a mid-epoch stop)."""

from __future__ import annotations

import os
import signal

import pytest
import torch

from embnorm.train import loop
from embnorm.train.augment import RECIPES
from embnorm.train.loop import Interrupted
from embnorm.train.step import micro_batches, prefetched
from helpers.training import TRAIN, assert_identical, run, tiny_params

torch.set_num_threads(1)
CPU = torch.device("cpu")


def step_views(images, order, step):
    return list(micro_batches(images, order, step, 8, 2, RECIPES["simclr_cifar"], (0, 0, 2, 0)))


def test_prefetched_hands_out_the_serial_views_in_order():
    images = torch.randint(0, 256, (64, 8, 8, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    order = torch.randperm(64, generator=torch.Generator().manual_seed(1))
    serial = [(s, step_views(images, order, s)) for s in range(1, 4)]
    ahead = list(prefetched(lambda s: step_views(images, order, s), range(1, 4), CPU, ahead=True))
    assert [s for s, _ in ahead] == [1, 2, 3]
    for (_, expected), (_, got) in zip(serial, ahead):
        assert len(got) == 2
        for (e1, e2), (g1, g2) in zip(expected, got):
            assert torch.equal(e1, g1) and torch.equal(e2, g2)


@pytest.mark.parametrize("ahead", [True, False])
def test_the_next_step_is_made_before_the_current_one_is_consumed_only_when_ahead(ahead):
    log = []
    for step, value in prefetched(lambda s: log.append(f"make {s}") or s * 10, range(3), CPU, ahead=ahead):
        log.append(f"use {step}")
        assert value == step * 10
    if ahead:
        assert log == ["make 0", "make 1", "use 0", "make 2", "use 1", "use 2"]
    else:
        assert log == ["make 0", "use 0", "make 1", "use 1", "make 2", "use 2"]
    assert list(prefetched(lambda s: s, [], CPU, ahead=True)) == []


def test_prefetch_is_off_on_cpu_by_default():
    log = []
    for _ in prefetched(lambda s: log.append(s), range(2), CPU):
        log.append("use")
    assert log == [0, "use", 1, "use"] and not loop.overlap(CPU)


def test_training_with_prefetch_is_bit_identical_to_serial(tmp_path, monkeypatch):
    params = tiny_params("simsiam", "sgd", "none", epochs=2)  # accumulate 2: several micro-batches per step
    (tmp_path / "serial").mkdir(), (tmp_path / "ahead").mkdir()
    run(params, tmp_path / "serial")
    monkeypatch.setattr(loop, "overlap", lambda device: True)
    run(params, tmp_path / "ahead")
    assert_identical(tmp_path / "serial", tmp_path / "ahead")


def test_stop_and_resume_with_prefetch_is_bit_identical(tmp_path, monkeypatch):
    params = tiny_params("simclr", "sgd", "none", epochs=2, checkpoint_every=5)
    (tmp_path / "serial").mkdir(), (tmp_path / "ahead").mkdir()
    run(params, tmp_path / "serial")
    monkeypatch.setattr(loop, "overlap", lambda device: True)
    real_step, calls = loop.optimizer_step, {"n": 0}

    def signalling_step(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            os.kill(os.getpid(), signal.SIGUSR1)
        return real_step(*args, **kwargs)

    monkeypatch.setattr(loop, "optimizer_step", signalling_step)
    with pytest.raises(Interrupted, match="SIGUSR1 at epoch 0 step 2"):
        run(params, tmp_path / "ahead")
    monkeypatch.setattr(loop, "optimizer_step", real_step)
    run(params, tmp_path / "ahead")
    assert_identical(tmp_path / "serial", tmp_path / "ahead")
    assert len(TRAIN.labels) // params["batch_size"] > 2  # the stop fell inside the epoch
