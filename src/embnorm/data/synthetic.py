"""The built-in synthetic dataset: procedurally drawn 32x32 objects whose structure mimics natural image classes.

Two designs (`SyntheticSpec.design`) share this module's per-sample structure (label, mode, blend weight, other class;
`sample_structure`), so the simulated annotators of human_labels.py serve both:
- `parts` (the default, synthetic_parts.py): a class is a layout of part silhouettes and colour carries no class;
- `appearance` (this module, the first design): classes differ in appearance statistics, described below.

The `appearance` design (see docs/synthetic-data.md for what it is and is not evidence of):
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

from dataclasses import dataclass

import numpy as np

SIZE = 32
FAMILY_STREAM = 7_919  # any constant: separates prototype streams from sample streams


@dataclass(frozen=True)
class SyntheticSpec:
    design: str = "parts"  # what carries the class: "parts" (synthetic_parts.py) or "appearance" (this module)
    family: int = 0
    classes: int = 10
    n_train: int = 5000
    n_test: int = 1000
    modes: int = 6
    mode_decay: float = 1.5
    ambiguous_fraction: float = 0.25
    seed: int = 0

    def mode_weights(self) -> np.ndarray:
        w = (np.arange(self.modes) + 1.0) ** -self.mode_decay
        return w / w.sum()


# --- class prototypes ---------------------------------------------------------------------------------------------

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


# --- sampling -----------------------------------------------------------------------------------------------------


def sample_structure(spec: SyntheticSpec, n: int, split_stream: int) -> dict[str, np.ndarray]:
    """Label, mode, ambiguity weight alpha and the other class for n samples (balanced classes, class-sorted order
    shuffled)."""
    rng = np.random.default_rng([spec.seed, spec.family, split_stream])
    k = spec.classes
    labels = rng.permutation(np.arange(n) % k)
    modes = rng.choice(spec.modes, size=n, p=spec.mode_weights())
    ambiguous = rng.uniform(size=n) < spec.ambiguous_fraction
    alpha = np.where(ambiguous, rng.uniform(0.0, 0.5, n), 0.0)
    other = (labels + rng.integers(1, k, n)) % k
    other = np.where(ambiguous, other, -1)
    return {"label": labels, "mode": modes, "alpha": alpha, "other": other, "rng_seed": rng.integers(0, 2**31, n)}


def _circ_lerp(a, b, t):
    d = ((b - a + 0.5) % 1.0) - 0.5
    return (a + t * d) % 1.0


SHAPES = {  # signed distance (negative inside) of a silhouette of radius ~1, from (x, y, r, phi, |x|, |y|)
    "disc": lambda x, y, r, phi, ax, ay: r - 0.95,
    "square": lambda x, y, r, phi, ax, ay: np.maximum(ax, ay) - 0.8,
    "triangle": lambda x, y, r, phi, ax, ay: np.maximum(-y - 0.5, (ax * np.sqrt(3) + y) / 2 - 0.5),
    "ring": lambda x, y, r, phi, ax, ay: np.abs(r - 0.72) - 0.26,
    "plus": lambda x, y, r, phi, ax, ay: np.minimum(np.maximum(ax - 0.32, ay - 0.95), np.maximum(ax - 0.95, ay - 0.32)),
    "diamond": lambda x, y, r, phi, ax, ay: (ax + ay - 1.05) / np.sqrt(2),
    "star": lambda x, y, r, phi, ax, ay: r - (0.68 + 0.3 * np.cos(5 * phi)),
    "bar": lambda x, y, r, phi, ax, ay: np.hypot(x, y / 0.45) - 1.0,
    "hexagon": lambda x, y, r, phi, ax, ay: np.maximum(ax * 0.866 + ay * 0.5, ay) - 0.82,
    "crescent": lambda x, y, r, phi, ax, ay: np.maximum(r - 0.95, 0.75 - np.hypot(x - 0.5, y)),
    "trefoil": lambda x, y, r, phi, ax, ay: r - (0.72 + 0.22 * np.cos(3 * phi)),
    "split_ring": lambda x, y, r, phi, ax, ay: np.maximum(np.abs(r - 0.6) - 0.35, 0.18 - ax),
}
SHAPE_FUNCS = list(SHAPES.values())


def _sdf(shape: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Signed distance of each sample's silhouette (shape index per sample) at coordinates x, y of shape (N, H, W)."""
    out = np.empty_like(x)
    for s in np.unique(shape):
        sel = shape == s
        xs, ys = x[sel], y[sel]
        out[sel] = SHAPE_FUNCS[int(s)](xs, ys, np.hypot(xs, ys), np.arctan2(ys, xs), np.abs(xs), np.abs(ys))
    return out


def _hsv_to_rgb(h, s, v):
    """Vectorised HSV to RGB; inputs broadcast, output (..., 3) in [0, 1]."""
    h6 = (h % 1.0) * 6.0
    c = v * s
    xx = c * (1 - np.abs(h6 % 2 - 1))
    m = v - c
    z = np.zeros_like(c)
    sector = np.floor(h6).astype(int) % 6
    r = np.choose(sector, [c, xx, z, z, xx, c])
    g = np.choose(sector, [xx, c, c, xx, z, z])
    b = np.choose(sector, [z, z, xx, c, c, xx])
    return np.stack([r + m, g + m, b + m], axis=-1)


def render_in_chunks(render_chunk, modes: dict[str, np.ndarray], structure: dict[str, np.ndarray],
                     chunk: int) -> np.ndarray:
    """uint8 images (N, 32, 32, 3) of the samples in `structure`, `chunk` samples at a time through
    `render_chunk(modes, structure_slice)` (each design's renderer; chunking bounds the float working memory)."""
    n = len(structure["label"])
    images = np.empty((n, SIZE, SIZE, 3), dtype=np.uint8)
    for start in range(0, n, chunk):
        sl = slice(start, min(n, start + chunk))
        images[sl] = render_chunk(modes, {k: v[sl] for k, v in structure.items()})
    return images


def own_and_partner(modes: dict[str, np.ndarray], s: dict[str, np.ndarray], fields) -> tuple[dict, dict]:
    """Each sample's parameters `fields` of its own (class, mode), and of its blend partner: the prototype (mode 0) of
    the class it is blended towards, or of its own class when it is not blended (`other` -1, `alpha` 0). Each
    design's renderer mixes the two with weight `alpha`."""
    own = {f: modes[f][s["label"], s["mode"]] for f in fields}
    partner = np.where(s["other"] >= 0, s["other"], s["label"])
    return own, {f: modes[f][partner, 0] for f in fields}


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
    sdf = (1 - a)[:, None, None] * _sdf(own["shape"], u, v) + a[:, None, None] * _sdf(oth["shape"], u, v)
    mask = 1.0 / (1.0 + np.exp(np.clip(sdf * radius[:, None, None] * 2.0, -30, 30)))

    # background: class hue with a soft vertical gradient, then three clutter blobs of random colour
    grad = 1.0 + 0.25 * (yy[None] / SIZE - 0.5) * rng.choice([-1, 1], n)[:, None, None]
    bg = _hsv_to_rgb(bg_hue[:, None, None], 0.45, np.clip(bg_val[:, None, None] * grad, 0, 1))
    for _ in range(3):
        bx, by = rng.uniform(0, SIZE, n), rng.uniform(0, SIZE, n)
        br = rng.uniform(1.5, 3.5, n)
        blob = np.hypot(xx[None] - bx[:, None, None], yy[None] - by[:, None, None]) < br[:, None, None]
        color = _hsv_to_rgb(rng.uniform(0, 1, n), rng.uniform(0.2, 0.8, n), rng.uniform(0.2, 0.9, n))
        bg = np.where(blob[..., None], color[:, None, None, :], bg)

    # object: class hue, textured with stripes in object coordinates
    phase = rng.uniform(0, 2 * np.pi, n)
    stripes = np.sin(np.pi * freq[:, None, None] * 2.2 * (np.cos(theta)[:, None, None] * u + np.sin(theta)[:, None, None] * v) * 2
                     + phase[:, None, None])
    value = np.clip(0.8 + tex_c[:, None, None] * 0.5 * stripes, 0, 1)
    obj = _hsv_to_rgb(hue[:, None, None], sat[:, None, None], value)
    img = mask[..., None] * obj + (1 - mask[..., None]) * bg
    img = img + rng.normal(0, 0.02, img.shape)
    return np.clip(np.round(img * 255), 0, 255).astype(np.uint8)


def generate(spec: SyntheticSpec, split: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Images and per-sample structure of one split ('train' or 'test'); deterministic in (spec, split)."""
    n, stream = {"train": (spec.n_train, 1), "test": (spec.n_test, 2)}[split]
    structure = sample_structure(spec, n, stream)
    if spec.design == "parts":
        from embnorm.data import synthetic_parts  # it builds on this module's shapes and colour helpers

        images = synthetic_parts.render(spec, structure)
    else:
        images = render(spec, structure)
    del structure["rng_seed"]
    return images, structure


def class_names(spec: SyntheticSpec) -> list[str]:
    return [f"f{spec.family}c{c}" for c in range(spec.classes)]
