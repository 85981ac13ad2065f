"""The built-in synthetic dataset: procedurally drawn 32x32 objects whose structure mimics natural image classes.

Two designs (`SyntheticSpec.design`) render the same per-sample structure (label, mode, blend weight, other class;
`spec.sample_structure`), so the simulated annotators of human_labels.py serve both:
- `parts` (the default, parts.py): a class is a layout of part silhouettes and colour carries no class;
- `appearance` (appearance.py, the first design): classes differ in appearance statistics.

The package's modules, each importing only those above it in this list:
- spec.py: the options and the per-sample structure;
- drawing.py: silhouettes, colour, chunked rendering;
- appearance.py and parts.py: the two designs;
- this module: `generate`, which draws a split's structure and renders it with the spec's design.

    >>> images, structure = generate(SyntheticSpec(n_train=20), "train")
    >>> images.shape, images.dtype.name, class_names(SyntheticSpec(classes=3))
    ((20, 32, 32, 3), 'uint8', ['f0c0', 'f0c1', 'f0c2'])
"""

from __future__ import annotations

import numpy as np

from embnorm.data.synthetic import appearance
from embnorm.data.synthetic.appearance import PROTO_FIELDS, class_prototypes, mode_parameters
from embnorm.data.synthetic.drawing import SHAPE_FUNCS, SHAPES, own_and_partner, render_in_chunks
from embnorm.data.synthetic.spec import FAMILY_STREAM, SIZE, SyntheticSpec, sample_structure


def render(spec: SyntheticSpec, structure: dict[str, np.ndarray]) -> np.ndarray:
    """uint8 images (N, 32, 32, 3) of the samples described by `structure`, drawn in the spec's design."""
    if spec.design == "parts":
        from embnorm.data.synthetic import parts  # imported to draw: a job that draws none lists no parts code

        return parts.render(spec, structure)
    return appearance.render(spec, structure)


def generate(spec: SyntheticSpec, split: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Images and per-sample structure of one split ('train' or 'test'); deterministic in (spec, split)."""
    n, stream = {"train": (spec.n_train, 1), "test": (spec.n_test, 2)}[split]
    structure = sample_structure(spec, n, stream)
    images = render(spec, structure)
    del structure["rng_seed"]
    return images, structure


def class_names(spec: SyntheticSpec) -> list[str]:
    return [f"f{spec.family}c{c}" for c in range(spec.classes)]


__all__ = ["FAMILY_STREAM", "PROTO_FIELDS", "SHAPES", "SHAPE_FUNCS", "SIZE", "SyntheticSpec", "class_names",
           "class_prototypes", "generate", "mode_parameters", "own_and_partner", "render", "render_in_chunks",
           "sample_structure"]
