"""The `appearance` design of the built-in synthetic dataset (the first design): classes differ in appearance
statistics. See docs/synthetic-data.md for what it is and is not evidence of.

- A *family* is a set of K classes. Each class has a prototype: silhouette, object hue, background hue, texture
  orientation, frequency and contrast, aspect ratio. Families draw prototypes from disjoint random streams, so family 1
  is family 0's out-of-distribution partner, as CIFAR-100 is to CIFAR-10.
- Typicality is frequency and density, not corruption: each class has `modes` appearance modes with Zipf frequencies
  (m+1)^-mode_decay. Mode 0 is the prototype; mode m lies a distance growing with sqrt(m) from it, so frequent samples
  have many near neighbours and rare ones few. Contrast, clutter and noise statistics are the same for every mode.
- Ambiguity lies between class modes: a fraction of samples is blended, with weight alpha in (0, 0.5), towards another
  class's prototype (silhouettes morph through their signed distance fields, colours and textures interpolate).
- Every sample records (label, mode, alpha, other class), from which simulated annotators are drawn (human_labels.py).
"""

from __future__ import annotations

import numpy as np

from embnorm.data.synthetic.drawing import SHAPES, hsv_to_rgb, own_and_partner, render_in_chunks, sdf
from embnorm.data.synthetic.spec import FAMILY_STREAM, SIZE, SyntheticSpec

PROTO_FIELDS = ("shape", "hue", "bg_hue", "theta", "log_freq", "tex_contrast", "log_aspect", "sat", "bg_val")


def class_prototypes(spec: SyntheticSpec) -> dict[str, np.ndarray]:
    """Prototype parameters of each class of the family, shape (K,) per field."""
    rng = np.random.default_rng([FAMILY_STREAM, spec.family])
    k = spec.classes
    shapes = np.concatenate([rng.permutation(len(SHAPES)) for _ in range(-(-k // len(SHAPES)))])[:k]
    # hues spread around the circle with a random offset, then shuffled, so that classes differ in colour
    hue = (rng.uniform() + np.arange(k) / k + rng.normal(0, 0.2 / k, k)) % 1.0
    return {
        "shape": shapes,
        "hue": rng.permutation(hue),
        "bg_hue": rng.uniform(0, 1, k),
        "theta": rng.uniform(0, np.pi, k),
        "log_freq": rng.uniform(np.log(0.6), np.log(2.2), k),
        "tex_contrast": rng.uniform(0.25, 0.6, k),
        "log_aspect": rng.normal(0, 0.15, k),
        "sat": rng.uniform(0.55, 0.95, k),
        "bg_val": rng.uniform(0.2, 0.8, k),
    }


def mode_parameters(spec: SyntheticSpec, protos: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Parameters of every (class, mode), shape (K, M). Mode 0 is the prototype; mode m moves ~sqrt(m) away."""
    rng = np.random.default_rng([FAMILY_STREAM, spec.family, 1])
    k, m = spec.classes, spec.modes
    dist = np.sqrt(np.arange(m))[None, :]
    steps = {"hue": 0.05, "bg_hue": 0.08, "theta": 0.35, "log_freq": 0.25, "tex_contrast": 0.06, "log_aspect": 0.12,
             "sat": 0.06, "bg_val": 0.08}
    out = {"shape": np.repeat(protos["shape"][:, None], m, axis=1)}
    for field, step in steps.items():
        out[field] = protos[field][:, None] + step * dist * rng.normal(0, 1, (k, m))
    out["hue"] %= 1.0
    out["bg_hue"] %= 1.0
    out["tex_contrast"] = np.clip(out["tex_contrast"], 0.1, 0.8)
    out["sat"] = np.clip(out["sat"], 0.3, 1.0)
    out["bg_val"] = np.clip(out["bg_val"], 0.1, 0.9)
    return out


def _circ_lerp(a, b, t):
    """Interpolate hues (period 1) along the shorter way."""
    d = ((b - a + 0.5) % 1.0) - 0.5
    return (a + t * d) % 1.0


def render(spec: SyntheticSpec, structure: dict[str, np.ndarray], chunk: int = 2048) -> np.ndarray:
    """Render the samples described by `structure` into uint8 images (N, 32, 32, 3)."""
    return render_in_chunks(_render_chunk, mode_parameters(spec, class_prototypes(spec)), structure, chunk)


def _render_chunk(modes: dict[str, np.ndarray], s: dict[str, np.ndarray]) -> np.ndarray:
    n = len(s["label"])
    rng = np.random.default_rng(s["rng_seed"])
    own, oth = own_and_partner(modes, s, PROTO_FIELDS)
    a = s["alpha"]

    # per-sample jitter around the mode (identical statistics for every mode)
    hue = _circ_lerp(own["hue"], oth["hue"], a) + rng.normal(0, 0.015, n)
    bg_hue = _circ_lerp(own["bg_hue"], oth["bg_hue"], a) + rng.normal(0, 0.03, n)
    lerp = lambda f: (1 - a) * own[f] + a * oth[f]  # noqa: E731
    theta = lerp("theta") + rng.normal(0, 0.08, n)
    freq = np.exp(lerp("log_freq") + rng.normal(0, 0.06, n))
    tex_c = lerp("tex_contrast")
    aspect = np.exp(lerp("log_aspect"))
    sat, bg_val = lerp("sat"), lerp("bg_val")

    # geometry: position, scale, small rotation
    cx = SIZE / 2 + rng.uniform(-4, 4, n)
    cy = SIZE / 2 + rng.uniform(-4, 4, n)
    radius = rng.uniform(8.5, 12.0, n)
    rot = rng.normal(0, 0.25, n)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64) + 0.5
    dx = (xx[None] - cx[:, None, None]) / radius[:, None, None]
    dy = (yy[None] - cy[:, None, None]) / radius[:, None, None]
    cr, sr = np.cos(rot)[:, None, None], np.sin(rot)[:, None, None]
    u = (cr * dx + sr * dy) / aspect[:, None, None]
    v = (-sr * dx + cr * dy) * aspect[:, None, None]
    distance = (1 - a)[:, None, None] * sdf(own["shape"], u, v) + a[:, None, None] * sdf(oth["shape"], u, v)
    mask = 1.0 / (1.0 + np.exp(np.clip(distance * radius[:, None, None] * 2.0, -30, 30)))

    # background: class hue with a soft vertical gradient, then three clutter blobs of random colour
    grad = 1.0 + 0.25 * (yy[None] / SIZE - 0.5) * rng.choice([-1, 1], n)[:, None, None]
    bg = hsv_to_rgb(bg_hue[:, None, None], 0.45, np.clip(bg_val[:, None, None] * grad, 0, 1))
    for _ in range(3):
        bx, by = rng.uniform(0, SIZE, n), rng.uniform(0, SIZE, n)
        br = rng.uniform(1.5, 3.5, n)
        blob = np.hypot(xx[None] - bx[:, None, None], yy[None] - by[:, None, None]) < br[:, None, None]
        color = hsv_to_rgb(rng.uniform(0, 1, n), rng.uniform(0.2, 0.8, n), rng.uniform(0.2, 0.9, n))
        bg = np.where(blob[..., None], color[:, None, None, :], bg)

    # object: class hue, textured with stripes in object coordinates
    phase = rng.uniform(0, 2 * np.pi, n)
    stripes = np.sin(np.pi * freq[:, None, None] * 2.2 * (np.cos(theta)[:, None, None] * u + np.sin(theta)[:, None, None] * v) * 2
                     + phase[:, None, None])
    value = np.clip(0.8 + tex_c[:, None, None] * 0.5 * stripes, 0, 1)
    obj = hsv_to_rgb(hue[:, None, None], sat[:, None, None], value)
    img = mask[..., None] * obj + (1 - mask[..., None]) * bg
    img = img + rng.normal(0, 0.02, img.shape)
    return np.clip(np.round(img * 255), 0, 255).astype(np.uint8)
