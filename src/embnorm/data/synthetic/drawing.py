"""Drawing helpers both designs share: silhouettes as signed distance fields, HSV colour, and rendering a split in
chunks from each sample's own parameters and its blend partner's."""

from __future__ import annotations

import numpy as np

from embnorm.data.synthetic.spec import SIZE

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


def sdf(shape: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Signed distance of each sample's silhouette (shape index per sample) at coordinates x, y of shape (N, H, W)."""
    out = np.empty_like(x)
    for s in np.unique(shape):
        sel = shape == s
        xs, ys = x[sel], y[sel]
        out[sel] = SHAPE_FUNCS[int(s)](xs, ys, np.hypot(xs, ys), np.arctan2(ys, xs), np.abs(xs), np.abs(ys))
    return out


def hsv_to_rgb(h, s, v):
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
