"""Theory simulations (paper §3, the authors' Simulations.ipynb): exact, seeded, float64, CPU, no network.

- gradient_checks (C1): autograd gradients of the cosine similarity and of InfoNCE are orthogonal to z and scale as
  1/||z|| (Prop. 3.1 and its InfoNCE analogue, paper-reference §1.1).
- norm_growth_under_gd (C2): plain gradient descent on free embeddings never shrinks a norm (Cor. 3.3, §1.2).
- convergence_vs_norm / convergence_vs_angle (C3, C4): the notebook's steps-to-convergence sweeps (§2.1), 500 pairs in
  d=20, SGD lr 10, stop at mean cosine >= 0.999; the norm sweep's log-log slope is the "quadratic slowdown" (§1.3).

Loss conventions: the cos-sim loss is -cos(z_i, z_j); InfoNCE is the standard cross-entropy over the cosine logits
of a batch divided by a temperature (anchor i, positive i, the other positives as negatives).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F


DTYPE = torch.float64
EPS = float(torch.finfo(DTYPE).eps)
NOTEBOOK_NORMS = (0.25, 0.5, 0.75, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)  # §2.1 cell 1 (r = 0 gives NaN there; left out)
CLAIM_NORMS = (0.5, 1, 2, 3, 5, 10)  # §7.1 rule C3
ANGLE_MIX = tuple(np.linspace(-24 / 25, 24 / 25, 49))  # §2.1 cell 2: a in {-24/25, ..., 24/25}


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed))


def _random_vectors(n: int, dim: int, gen: torch.Generator, log_norm_range=(np.log(0.1), np.log(10.0))):
    """n Gaussian directions with log-uniform norms, so that the 1/||z|| law is tested over two decades."""
    z = F.normalize(torch.randn(n, dim, generator=gen, dtype=DTYPE), dim=1)
    lo, hi = log_norm_range
    return z * torch.exp(lo + (hi - lo) * torch.rand(n, 1, generator=gen, dtype=DTYPE))


def cos_loss(z: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Sum over rows of -cos(z_i, t_i): each row's gradient is exactly -grad cos of its own pair."""
    return -((z * targets).sum(1) / (z.norm(dim=1) * targets.norm(dim=1))).sum()


def infonce_loss(anchors: torch.Tensor, positives: torch.Tensor, temperature: float) -> torch.Tensor:
    logits = F.normalize(anchors, dim=1) @ F.normalize(positives, dim=1).T / temperature
    return F.cross_entropy(logits, torch.arange(len(anchors)), reduction="sum")


def _grad(loss_fn, z: torch.Tensor, *others) -> torch.Tensor:
    z = z.detach().clone().requires_grad_(True)
    (g,) = torch.autograd.grad(loss_fn(z, *others), z)
    return g


def _max_abs_cos(z: torch.Tensor, g: torch.Tensor) -> float:
    return float(((z * g).sum(1).abs() / (z.norm(dim=1) * g.norm(dim=1))).max())


def _max_rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    if a.ndim > 1:
        return float(((a - b).norm(dim=-1) / b.norm(dim=-1)).max())
    return float(((a - b).abs() / b.abs()).max())


def gradient_checks(n_pairs: int = 10_000, dim: int = 20, batch: int = 100, temperature: float = 0.5,
                    seed: int = 0) -> pd.DataFrame:
    """C1 over `n_pairs` random pairs: one row per statistic of §7.1 (all should be at float64 rounding level)."""
    gen = _generator(seed)
    z, t = _random_vectors(n_pairs, dim, gen), _random_vectors(n_pairs, dim, gen)

    g_cos = -_grad(cos_loss, z, t)  # gradient of cos(z_i, t_i) with respect to z_i
    cos = (F.normalize(z, dim=1) * F.normalize(t, dim=1)).sum(1)
    sin = torch.sqrt(torch.clamp(1 - cos * cos, min=0))

    anchors, positives = z.reshape(-1, batch, dim), t.reshape(-1, batch, dim)
    g_nce = torch.cat([_grad(lambda a, p: infonce_loss(a, p, temperature), a, p) for a, p in zip(anchors, positives)])
    g_nce_pos = torch.cat([_grad(lambda p, a: infonce_loss(a, p, temperature), p, a)
                           for a, p in zip(anchors, positives)])
    g_nce_2z = torch.cat([_grad(lambda a, p: infonce_loss(a, p, temperature), 2 * a, p)
                          for a, p in zip(anchors, positives)])
    g_formula = -torch.from_numpy(cos_grad(z.numpy(), t.numpy())[0]) * n_pairs
    rows = [
        ("max_abs_cos_z_grad", "cos-sim", _max_abs_cos(z, g_cos)),
        ("max_rel_err_formula_vs_autograd", "cos-sim", _max_rel_err(g_formula, g_cos)),
        ("max_abs_cos_z_grad", "infonce", max(_max_abs_cos(z, g_nce), _max_abs_cos(t, g_nce_pos))),
        ("max_rel_err_gradnorm_x_norm_vs_sin", "cos-sim", _max_rel_err(g_cos.norm(dim=1) * z.norm(dim=1), sin)),
        ("max_rel_err_grad_at_2z_vs_half_grad", "infonce", _max_rel_err(g_nce_2z, g_nce / 2)),
    ]
    return pd.DataFrame([{"statistic": s, "loss": loss, "value": v, "n_pairs": n_pairs, "dim": dim,
                          "temperature": temperature if loss == "infonce" else np.nan, "seed": seed}
                         for s, loss, v in rows])


def norm_growth_under_gd(steps: int = 200, n: int = 256, dim: int = 20, temperature: float = 0.5,
                         lr_cos: float = 10.0, lr_infonce: float = 1.0, seed: int = 0) -> pd.DataFrame:
    """C2: plain GD on free embeddings (both sides of each pair move) under the mean cos-sim loss and mean InfoNCE.

    One row per loss and step: mean and min norm, and the fraction of embeddings whose norm did not decrease in that
    step. In exact arithmetic the update is orthogonal to z, so ||z'||^2 = ||z||^2 + lr^2 ||grad||^2 >= ||z||^2. Once
    a pair has converged, lr^2 ||grad||^2 falls below float64 resolution and the computed norm may move by an ulp
    either way; a decrease therefore counts only when it exceeds the rounding bound of a `dim`-term norm
    (dim * machine epsilon, relative). The largest relative decrease is reported in ulps."""
    rows = []
    for loss_name, lr in (("cos-sim", lr_cos), ("infonce", lr_infonce)):
        gen = _generator(seed)
        z = _random_vectors(n, dim, gen, (np.log(0.5), np.log(2.0)))
        t = _random_vectors(n, dim, gen, (np.log(0.5), np.log(2.0)))
        params = torch.cat([z, t]).requires_grad_(True)
        for step in range(1, steps + 1):
            a, b = params[:n], params[n:]
            loss = cos_loss(a, b) / n if loss_name == "cos-sim" else infonce_loss(a, b, temperature) / n
            (g,) = torch.autograd.grad(loss, params)
            with torch.no_grad():
                before = params.norm(dim=1)
                params -= lr * g
                after = params.norm(dim=1)
            ratio = after / before
            rows.append({"loss": loss_name, "step": step, "lr": lr, "loss_value": float(loss.detach()),
                         "mean_norm": float(after.mean()), "min_norm": float(after.min()),
                         "frac_not_decreased": float((ratio >= 1 - dim * EPS).double().mean()),
                         "max_decrease_ulps": float(max(0.0, float(1 - ratio.min()) / EPS))})
    return pd.DataFrame(rows)


def cos_grad(e: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Gradients of -mean_i cos(e_i, p_i) with respect to e and p (Prop. 3.1's formula, checked against autograd
    by gradient_checks), and the mean cosine."""
    ne, np_ = np.linalg.norm(e, axis=1, keepdims=True), np.linalg.norm(p, axis=1, keepdims=True)
    eh, ph = e / ne, p / np_
    c = (eh * ph).sum(1, keepdims=True)
    n = len(e)
    return -(ph - c * eh) / (n * ne), -(eh - c * ph) / (n * np_), float(c.mean())


def steps_to_converge(embeddings, positives, lr: float = 10.0, tol: float = 1e-3, max_steps: int = 200_000) -> int:
    """The notebook's loop: plain SGD (no momentum, no weight decay) on both sets, on -mean cos, until the mean cosine
    reaches 1 - tol. Returns the number of SGD steps taken."""
    e, p = (np.array(x.numpy() if isinstance(x, torch.Tensor) else x, np.float64) for x in (embeddings, positives))
    for step in range(max_steps + 1):
        ge, gp, mean_cos = cos_grad(e, p)
        if mean_cos >= 1 - tol:
            return step
        e -= lr * ge
        p -= lr * gp
    raise RuntimeError(f"no convergence within {max_steps} steps")


def _mean_angle(e: torch.Tensor, p: torch.Tensor) -> float:
    cos = (F.normalize(e, dim=1) * F.normalize(p, dim=1)).sum(1).clamp(-1, 1)
    return float(torch.arccos(cos).mean())


def convergence_vs_norm(norms=NOTEBOOK_NORMS, n: int = 500, dim: int = 20, lr: float = 10.0, tol: float = 1e-3,
                        repeats: int = 1, seed: int = 0) -> pd.DataFrame:
    """§2.1 (a): i.i.d. Gaussian embeddings and positives on the sphere, scaled to norm r; steps to converge."""
    rows = []
    for rep in range(repeats):
        for r in norms:
            gen = _generator(seed * 1000 + rep)
            e = F.normalize(torch.randn(n, dim, generator=gen, dtype=DTYPE), dim=1) * r
            p = F.normalize(torch.randn(n, dim, generator=gen, dtype=DTYPE), dim=1) * r
            rows.append({"norm": float(r), "repeat": rep, "steps": steps_to_converge(e, p, lr, tol),
                         "initial_mean_angle": _mean_angle(e, p), "n": n, "dim": dim, "lr": lr, "tol": tol})
    return pd.DataFrame(rows)


def loglog_slope(norms, steps) -> float:
    """Least-squares slope of log(steps) on log(norm): 2 is the quadratic slowdown."""
    return float(np.polyfit(np.log(np.asarray(norms, float)), np.log(np.asarray(steps, float)), 1)[0])


def convergence_vs_angle(mix=ANGLE_MIX, n: int = 500, dim: int = 20, lr: float = 10.0, tol: float = 1e-3,
                         seed: int = 0) -> pd.DataFrame:
    """§2.1 (b): unit embeddings e, positives normalize(random*(1-|a|) - e*a); a -> 1 is nearly antipodal."""
    rows = []
    for i, a in enumerate(mix):
        gen = _generator(seed * 1000 + i)
        e = F.normalize(torch.randn(n, dim, generator=gen, dtype=DTYPE), dim=1)
        rnd = F.normalize(torch.randn(n, dim, generator=gen, dtype=DTYPE), dim=1)
        p = F.normalize(rnd * (1 - abs(a)) - e * a, dim=1)
        rows.append({"mix": float(a), "initial_mean_angle": _mean_angle(e, p),
                     "steps": steps_to_converge(e, p, lr, tol), "n": n, "dim": dim, "lr": lr, "tol": tol})
    return pd.DataFrame(rows)

