"""The built-in synthetic dataset: determinism, balance, structure, and label files in the real files' formats."""

from __future__ import annotations

import numpy as np
import pytest

from embnorm.data import human_labels, synthetic
from embnorm.data.synthetic import parts

SPEC = synthetic.SyntheticSpec(n_train=400, n_test=200)


@pytest.fixture(scope="module")
def train():
    return synthetic.generate(SPEC, "train")


def test_deterministic_from_seed(train):
    images, structure = synthetic.generate(SPEC, "train")
    assert np.array_equal(images, train[0])
    assert all(np.array_equal(structure[k], train[1][k]) for k in structure)
    other, _ = synthetic.generate(synthetic.SyntheticSpec(n_train=400, n_test=200, seed=1), "train")
    assert not np.array_equal(other, images)


def test_format_and_balance(train):
    images, structure = train
    assert images.dtype == np.uint8 and images.shape == (400, 32, 32, 3)
    assert np.bincount(structure["label"], minlength=10).tolist() == [40] * 10
    assert images.std() > 20, "images should not be flat"


def test_train_and_test_differ_and_families_are_disjoint(train):
    test_images, _ = synthetic.generate(SPEC, "test")
    assert not np.array_equal(test_images[:10], train[0][:10])
    p0 = synthetic.class_prototypes(SPEC)
    p1 = synthetic.class_prototypes(synthetic.SyntheticSpec(family=1))
    assert not np.allclose(p0["hue"], p1["hue"])
    l0, l1 = parts.class_layouts(SPEC), parts.class_layouts(synthetic.SyntheticSpec(family=1))
    assert not np.allclose(l0["px"], l1["px"])
    assert synthetic.class_names(SPEC) != synthetic.class_names(synthetic.SyntheticSpec(family=1))


def test_parts_modes_start_at_the_prototype_layout():
    spec = synthetic.SyntheticSpec(design="parts")
    protos = parts.class_layouts(spec)
    modes = parts.mode_layouts(spec, protos)
    for field in parts.LAYOUT_FIELDS:
        assert np.allclose(modes[field][:, 0], protos[field]), field
    spread = sum(np.abs(modes[f] - modes[f][:, :1]).mean(axis=(0, 2)) / step
                 for f, step in parts.MODE_STEPS.items())
    assert spread[0] == 0 and spread[-1] > 1.5 * spread[1], "rarer modes lie further from the prototype"


def _mean_colour_accuracy(design: str) -> float:
    """Nearest class centroid of each test image's mean RGB, centroids from the train split."""
    spec = synthetic.SyntheticSpec(design=design, n_train=1000, n_test=500)
    (xtr, s_tr), (xte, s_te) = (synthetic.generate(spec, split) for split in ("train", "test"))
    ftr, fte = xtr.reshape(len(xtr), -1, 3).mean(1), xte.reshape(len(xte), -1, 3).mean(1)
    centroids = np.stack([ftr[s_tr["label"] == c].mean(0) for c in range(spec.classes)])
    pred = np.argmin(((fte[:, None] - centroids[None]) ** 2).sum(-1), axis=1)
    return float(np.mean(pred == s_te["label"]))


def test_colour_carries_the_class_in_appearance_but_not_in_parts():
    """The parts design draws colours per image for every class, so mean colour is at chance (10 %); the appearance
    design gives each class its own hues, so mean colour alone separates them."""
    assert _mean_colour_accuracy("parts") < 0.16
    assert _mean_colour_accuracy("appearance") > 0.4


def test_modes_follow_zipf_frequencies_and_typical_mode_is_the_prototype():
    spec = synthetic.SyntheticSpec(n_train=20000)
    structure = synthetic.sample_structure(spec, spec.n_train, 1)
    freq = np.bincount(structure["mode"], minlength=spec.modes) / spec.n_train
    assert np.allclose(freq, spec.mode_weights(), atol=0.01)
    modes = synthetic.mode_parameters(spec, synthetic.class_prototypes(spec))
    assert np.allclose(modes["theta"][:, 0], synthetic.class_prototypes(spec)["theta"])


def test_ambiguity_is_a_blend_towards_another_class(train):
    _, s = train
    amb = s["other"] >= 0
    assert 0.15 < amb.mean() < 0.35
    assert np.all(s["alpha"][~amb] == 0) and np.all((s["alpha"][amb] > 0) & (s["alpha"][amb] < 0.5))
    assert np.all(s["other"][amb] != s["label"][amb])


def test_cifar10n_layout_matches_the_real_file(train, shared_data):
    _, structure = train
    simulated = human_labels.simulate_cifar10n(SPEC, structure, seed=0)
    with np.load(shared_data / "cifar-n" / "cifar10n_labels.npz") as real:
        assert sorted(simulated) == sorted(real.files)
        for key in real.files:
            assert simulated[key].dtype == real[key].dtype and simulated[key].ndim == real[key].ndim == 1
    assert np.array_equal(simulated["clean_label"], structure["label"])


def test_cifar10h_layout_matches_the_real_file(shared_data):
    spec = synthetic.SyntheticSpec(n_test=300)
    _, structure = synthetic.generate(spec, "test")
    counts, probs = human_labels.simulate_cifar10h(spec, structure, seed=0)
    real_counts = np.load(shared_data / "cifar-10h" / "cifar10h-counts.npy")
    real_probs = np.load(shared_data / "cifar-10h" / "cifar10h-probs.npy")
    assert counts.dtype == real_counts.dtype and probs.dtype == real_probs.dtype
    assert counts.shape == (300, real_counts.shape[1]) and probs.shape == (300, real_probs.shape[1])
    assert real_counts.sum(1).min() <= counts.sum(1).min() and counts.sum(1).max() <= real_counts.sum(1).max()
    assert np.allclose(probs, counts / counts.sum(1, keepdims=True))


def test_simulated_annotators_are_calibrated_to_cifar10n():
    """One annotator's noise is calibrated to CIFAR-10N's random_label1..3 (17.7 %); the majority of three is lower."""
    spec = synthetic.SyntheticSpec(n_train=20000)
    structure = synthetic.sample_structure(spec, spec.n_train, 1)
    labels = human_labels.simulate_cifar10n(spec, structure, seed=0)
    single = np.mean([np.mean(labels[f"random_label{i}"] != labels["clean_label"]) for i in (1, 2, 3)])
    aggre = np.mean(labels["aggre_label"] != labels["clean_label"])
    assert abs(single - human_labels.CIFAR10N_SINGLE_NOISE) < 0.01
    assert aggre < single
