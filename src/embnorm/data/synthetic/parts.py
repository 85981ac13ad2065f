"""The `parts` design of the built-in synthetic dataset: a class is a layout of parts, not a colour.

Why: in the `appearance` design (appearance.py) classes differ in global colour and texture statistics, which a random
network already separates (test kNN about 80 % at initialization), so SSL adds little. Natural image classes are
carried by structure that survives SimCLR's augmentations (shape, the layout of parts) while colour varies within a
class. Here:
- Each class is an object made of PARTS primitive silhouettes (drawing.SHAPES), each with a class-specific shape,
  position in the object frame, size, elongation, rotation, stripe texture (orientation, frequency) and tone (light
  or dark part).
- Colour carries no class: object hue, background hue, brightness and saturation are drawn per image from one
  distribution shared by all classes. Parts keep their class's light/dark order, which brightness and hue jitter do
  not destroy, but the mean colour of an image says nothing about its class. The palette is narrow (hue within a
  fifth of the circle, low saturation): a colour that varies more than SimCLR's colour jitter covers becomes its
  instance-discrimination shortcut, and the class is then not learned (docs/synthetic-data.md, learnability log).
- Nuisances that crops cover (object position and scale) keep a random network's kNN low.
- Typicality is frequency and density (as in the appearance design): each class has `modes` layout modes with Zipf
  frequencies; mode m moves the layout parameters a distance ~sqrt(m) from the prototype (mode 0).
- Ambiguity lies between classes: a blended sample morphs every part (signed distance fields, positions, sizes)
  with weight alpha in (0, 0.5) towards another class's prototype layout.
- Families draw their layouts from disjoint random streams (family 1 is family 0's out-of-distribution partner).

Example:

    >>> from embnorm.data.synthetic import SyntheticSpec, generate
    >>> images, structure = generate(SyntheticSpec(design="parts", n_train=20), "train")
    >>> images.shape, sorted(structure)
    ((20, 32, 32, 3), ['alpha', 'label', 'mode', 'other'])
"""

from __future__ import annotations

import numpy as np

from embnorm.data.synthetic.drawing import SHAPES, hsv_to_rgb, own_and_partner, render_in_chunks, sdf
from embnorm.data.synthetic.spec import FAMILY_STREAM, SIZE, SyntheticSpec

PARTS = 3
LAYOUT_FIELDS = ("shape", "px", "py", "log_size", "log_aspect", "rot", "light", "tex_theta", "tex_freq")
MODE_STEPS = {"px": 0.10, "py": 0.10, "log_size": 0.10, "log_aspect": 0.12, "rot": 0.30,  # per unit of sqrt(m)
              "tex_theta": 0.2, "tex_freq": 0.1}
PART_SIZE, OBJECT_SCALE = (0.4, 0.7), (8.5, 14.5)  # part radius in object units; object unit in pixels
POSITION_JITTER = 4.5  # pixels, uniform in each direction
TEXTURE = 0.5  # contrast of the parts' stripes
# colour statistics per image, the same for every class: hue within HUE_SPREAD of the circle around HUE_CENTRE and
# low saturation, so that colour jitter covers most of the colour variation (a wider one is SimCLR's shortcut)
HUE_CENTRE, HUE_SPREAD = 0.6, 0.2
OBJECT_SAT, BACKGROUND_SAT = (0.2, 0.5), (0.1, 0.3)


def class_layouts(spec: SyntheticSpec) -> dict[str, np.ndarray]:
    """The prototype layout of each class of the family: shape (K, PARTS) per field."""
    rng = np.random.default_rng([FAMILY_STREAM, spec.family, 100])
    k = spec.classes
    angle = rng.uniform(0, 2 * np.pi, (k, 1)) + np.arange(PARTS)[None] * 2 * np.pi / PARTS \
        + rng.normal(0, 0.4, (k, PARTS))
    radius = rng.uniform(0.25, 0.6, (k, PARTS))
    light = np.stack([rng.permutation(PARTS) < 1 + rng.integers(0, PARTS - 1) for _ in range(k)])
    return {
        "shape": rng.integers(0, len(SHAPES), (k, PARTS)),
        "px": radius * np.cos(angle),
        "py": radius * np.sin(angle),
        "log_size": rng.uniform(np.log(PART_SIZE[0]), np.log(PART_SIZE[1]), (k, PARTS)),
        "log_aspect": rng.normal(0, 0.3, (k, PARTS)),
        "rot": rng.uniform(0, np.pi, (k, PARTS)),
        "light": light.astype(float),
        "tex_theta": rng.uniform(0, np.pi, (k, PARTS)),
        "tex_freq": rng.uniform(1.0, 2.0, (k, PARTS)),
    }


def mode_layouts(spec: SyntheticSpec, protos: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Layout of every (class, mode), shape (K, M, PARTS). Mode 0 is the prototype; mode m moves ~sqrt(m) away."""
    rng = np.random.default_rng([FAMILY_STREAM, spec.family, 101])
    k, m = spec.classes, spec.modes
    dist = np.sqrt(np.arange(m))[None, :, None]
    out = {f: np.repeat(protos[f][:, None], m, axis=1) for f in ("shape", "light")}
    for field, step in MODE_STEPS.items():
        out[field] = protos[field][:, None] + step * dist * rng.normal(0, 1, (k, m, PARTS))
    return out


def render(spec: SyntheticSpec, structure: dict[str, np.ndarray], chunk: int = 1024) -> np.ndarray:
    """Render the samples described by `structure` into uint8 images (N, 32, 32, 3)."""
    return render_in_chunks(_render_chunk, mode_layouts(spec, class_layouts(spec)), structure, chunk)


def _render_chunk(modes: dict[str, np.ndarray], s: dict[str, np.ndarray]) -> np.ndarray:
    n = len(s["label"])
    rng = np.random.default_rng(s["rng_seed"])
    own, oth = own_and_partner(modes, s, LAYOUT_FIELDS)  # (n, PARTS) per field
    a = s["alpha"][:, None]
    lerp = lambda f: (1 - a) * own[f] + a * oth[f]  # noqa: E731

    # the object: position, scale and a small rotation per image (identical statistics for every class and mode)
    cx = SIZE / 2 + rng.uniform(-POSITION_JITTER, POSITION_JITTER, n)
    cy = SIZE / 2 + rng.uniform(-POSITION_JITTER, POSITION_JITTER, n)
    scale = rng.uniform(*OBJECT_SCALE, n)
    turn = rng.normal(0, 0.2, n)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64) + 0.5
    gx = (xx[None] - cx[:, None, None]) / scale[:, None, None]
    gy = (yy[None] - cy[:, None, None]) / scale[:, None, None]
    ct, st = np.cos(turn)[:, None, None], np.sin(turn)[:, None, None]
    ox, oy = ct * gx + st * gy, -st * gx + ct * gy  # object frame

    # colours: drawn per image from one distribution for all classes
    bg_val = rng.uniform(0.2, 0.8, n)
    grad = 1.0 + 0.25 * (yy[None] / SIZE - 0.5) * rng.choice([-1, 1], n)[:, None, None]
    bg = hsv_to_rgb(_hue(rng, n)[:, None, None], rng.uniform(*BACKGROUND_SAT, n)[:, None, None],
                     np.clip(bg_val[:, None, None] * grad, 0, 1))
    hue = _hue(rng, n)
    sat = rng.uniform(*OBJECT_SAT, n)
    # light parts are bright, dark parts dim, both away from the background's brightness
    dark_val = np.clip(bg_val - rng.uniform(0.25, 0.45, n), 0.05, 1)
    light_val = np.clip(bg_val + rng.uniform(0.25, 0.45, n), 0, 1)
    dark_val = np.where(bg_val < 0.45, np.clip(bg_val * 0.4, 0.03, 1), dark_val)
    light_val = np.where(bg_val > 0.6, np.clip(0.6 + bg_val * 0.4, 0, 1), light_val)

    img = bg
    for j in range(PARTS):
        px, py = lerp("px")[:, j], lerp("py")[:, j]
        size = np.exp(lerp("log_size")[:, j])
        aspect = np.exp(lerp("log_aspect")[:, j])
        rot = _angle_lerp(own["rot"][:, j], oth["rot"][:, j], a[:, 0])
        light = lerp("light")[:, j]
        cr, sr = np.cos(rot)[:, None, None], np.sin(rot)[:, None, None]
        dx = (ox - px[:, None, None]) / size[:, None, None]
        dy = (oy - py[:, None, None]) / size[:, None, None]
        u = (cr * dx + sr * dy) / aspect[:, None, None]
        v = (-sr * dx + cr * dy) * aspect[:, None, None]
        distance = (1 - a)[:, :, None] * sdf(own["shape"][:, j], u, v) + a[:, :, None] * sdf(oth["shape"][:, j], u, v)
        pixels = (scale * size)[:, None, None]
        mask = 1.0 / (1.0 + np.exp(np.clip(distance * pixels * 2.0, -30, 30)))
        val = (light * light_val + (1 - light) * dark_val)[:, None, None]
        theta = _angle_lerp(own["tex_theta"][:, j], oth["tex_theta"][:, j], a[:, 0])[:, None, None]
        freq = lerp("tex_freq")[:, j, None, None]
        stripes = np.sin(2 * np.pi * freq * (np.cos(theta) * u + np.sin(theta) * v)
                         + rng.uniform(0, 2 * np.pi, n)[:, None, None])
        val = np.clip(val * (1 + TEXTURE * stripes), 0, 1)
        color = hsv_to_rgb((hue + 0.04 * j)[:, None, None], sat[:, None, None], val)
        img = mask[..., None] * color + (1 - mask[..., None]) * img
    img = img + rng.normal(0, 0.02, img.shape)
    return np.clip(np.round(img * 255), 0, 255).astype(np.uint8)


def _hue(rng: np.random.Generator, n: int) -> np.ndarray:
    return (HUE_CENTRE + HUE_SPREAD * rng.uniform(-0.5, 0.5, n)) % 1.0


def _angle_lerp(a, b, t):
    """Interpolate part rotations (period pi) along the shorter way."""
    d = ((b - a + np.pi / 2) % np.pi) - np.pi / 2
    return a + t * d
