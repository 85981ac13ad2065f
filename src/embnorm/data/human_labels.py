"""Human labels in the real files' layouts, joined to prepared splits by original index.

- CIFAR-N layout (train order): keys clean_label, aggre_label, worse_label, random_label1..3 (CIFAR-10N) or
  clean_label, noisy_label (CIFAR-100N); int64 arrays of length N_train.
- CIFAR-10H layout (test order): counts int64 (N_test, K) and probs float64 (N_test, K) = counts / row sum.

For the synthetic data, simulated annotators read each sample's known structure. Each image has one latent difficulty
with two parts: alpha_i, its visual blend weight towards another class, and eps_i = eps0 * rarity_i, which grows with
how rare its appearance mode is (rarity = 1 - w_mode / w_0). An annotator of a pool with error scale s labels image i
with the distribution

    q_i = (1 - s*alpha_i - s*eps_i) * [true class] + s*alpha_i * [blended-towards class] + s*eps_i * uniform(others).

eps0 is solved so that, at s = 1, one annotator's mean disagreement with the clean label equals CIFAR-10N's
single-annotator noise (random_label1..3: 17.23, 18.12, 17.64 %, mean 17.66 %). The CIFAR-10H pool was more careful:
in the real file an annotator disagrees with the majority 4.56 % of the time on average (mean of 1 - max prob), so
its pool uses s = 0.0456 / 0.1766. Both pools see the same difficulties; only their carefulness differs.
"""

from __future__ import annotations

import numpy as np

from embnorm.data.synthetic import SyntheticSpec

CIFAR10N_SINGLE_NOISE = (0.1723 + 0.1812 + 0.1764) / 3
CIFAR10H_SINGLE_NOISE = 0.04556  # mean over rows of 1 - max(cifar10h-probs.npy)
CIFAR10N_KEYS = ("clean_label", "aggre_label", "worse_label", "random_label1", "random_label2", "random_label3")
CIFAR10H_ANNOTATORS = (47, 63)  # row sums of the real cifar10h-counts.npy


def rarity(spec: SyntheticSpec, mode: np.ndarray) -> np.ndarray:
    w = spec.mode_weights()
    return 1.0 - w[mode] / w[0]


def base_confusion(spec: SyntheticSpec, target_noise: float = CIFAR10N_SINGLE_NOISE) -> float:
    """eps0 such that the expected single-annotator noise of the spec's data equals target_noise."""
    w = spec.mode_weights()
    mean_alpha = spec.ambiguous_fraction * 0.25  # alpha ~ U(0, 0.5) on the ambiguous fraction
    mean_rarity = float((w * (1 - w / w[0])).sum())
    if mean_rarity == 0:
        return 0.0
    return float(np.clip((target_noise - mean_alpha) / mean_rarity, 0.0, 0.9))


def label_distribution(spec: SyntheticSpec, structure: dict[str, np.ndarray],
                       noise: float = CIFAR10N_SINGLE_NOISE) -> np.ndarray:
    """q (N, K): the probability that an annotator of a pool with mean error `noise` gives each class."""
    n, k = len(structure["label"]), spec.classes
    scale = noise / CIFAR10N_SINGLE_NOISE
    eps = scale * base_confusion(spec) * rarity(spec, structure["mode"])
    alpha = scale * structure["alpha"]
    q = np.repeat((eps / (k - 1))[:, None], k, axis=1)
    rows = np.arange(n)
    q[rows, structure["label"]] = 1.0 - alpha - eps
    amb = structure["other"] >= 0
    q[rows[amb], structure["other"][amb]] += alpha[amb]
    return q / q.sum(axis=1, keepdims=True)


def _draw(q: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    u = rng.uniform(size=(len(q), 1))
    return np.minimum((q.cumsum(axis=1) < u).sum(axis=1), q.shape[1] - 1).astype(np.int64)


def simulate_cifar10n(spec: SyntheticSpec, structure: dict[str, np.ndarray], seed: int) -> dict[str, np.ndarray]:
    """Three annotators per train image, aggregated as CIFAR-10N does (majority; a three-way tie picks one at random)."""
    rng = np.random.default_rng([seed, spec.family, 10])
    q = label_distribution(spec, structure)
    clean = structure["label"].astype(np.int64)
    votes = np.stack([_draw(q, rng) for _ in range(3)], axis=1)
    aggre = np.empty_like(clean)
    for i, v in enumerate(votes):
        values, counts = np.unique(v, return_counts=True)
        aggre[i] = values[counts.argmax()] if counts.max() > 1 else rng.choice(v)
    wrong = votes != clean[:, None]
    worse = np.where(wrong.any(axis=1), votes[np.arange(len(votes)), wrong.argmax(axis=1)], clean)
    return {"clean_label": clean, "aggre_label": aggre, "worse_label": worse,
            "random_label1": votes[:, 0], "random_label2": votes[:, 1], "random_label3": votes[:, 2]}


def simulate_cifar10h(spec: SyntheticSpec, structure: dict[str, np.ndarray], seed: int):
    """About 50 annotators per test image (47..63, as in the real file): counts and probabilities."""
    rng = np.random.default_rng([seed, spec.family, 11])
    q = label_distribution(spec, structure, CIFAR10H_SINGLE_NOISE)
    totals = rng.integers(CIFAR10H_ANNOTATORS[0], CIFAR10H_ANNOTATORS[1] + 1, len(q))
    counts = np.stack([rng.multinomial(t, p) for t, p in zip(totals, q)]).astype(np.int64)
    return counts, counts / counts.sum(axis=1, keepdims=True)


def entropy_bits(probs: np.ndarray) -> np.ndarray:
    """Shannon entropy in bits of each row (as scipy.stats.entropy(probs, base=2, axis=1))."""
    from scipy.stats import entropy

    return entropy(probs, base=2, axis=1)
