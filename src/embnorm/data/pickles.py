"""The one module that reads pickle-based files, because two upstream formats are pickles and have no other form.

- CIFAR-10/100 python-version batches (`data_batch_1`, `test_batch`, `train`, `meta`, ...): Python pickles of dicts
  holding lists and numpy arrays.
- CIFAR-10N/100N labels (`CIFAR-10_human.pt`, `CIFAR-100_human.pt`): `torch.save` of a dict of numpy arrays and lists.

Neither reader can run arbitrary code. Both refuse any global outside a short allowlist of what numpy arrays need
(`numpy.ndarray`, `numpy.dtype` and its int64 class, numpy's array reconstructor, and `_codecs.encode` for byte
strings), and both are called only on bytes whose md5 was first checked against the published checksum. The CIFAR-N
labels are converted once into a pickle-free `.npz`; everything downstream reads `.npy`/`.npz` with allow_pickle=False.
"""

from __future__ import annotations

import codecs
import io as _io
import pickle
from pathlib import Path

import numpy as np

from embnorm.errors import EmbnormError

try:  # numpy >= 2 moved the reconstructor to numpy._core; files written by numpy 1 name numpy.core
    from numpy._core.multiarray import _reconstruct
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core.multiarray import _reconstruct

ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): codecs.encode,
}


class _NumpyOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        try:
            return ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refused global {module}.{name} (only numpy arrays are allowed)") from None


def load_cifar_batch(data: bytes, where: str) -> dict[str, object]:
    """A CIFAR python-version batch as a dict with str keys (written by Python 2: latin1, as torchvision reads it)."""
    try:
        batch = _NumpyOnlyUnpickler(_io.BytesIO(data), encoding="latin1").load()
    except Exception as e:
        raise EmbnormError(f"{where}: not a CIFAR python-version batch ({type(e).__name__}: {e})") from None
    if not isinstance(batch, dict):
        raise EmbnormError(f"{where}: expected a dict, found {type(batch).__name__}")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in batch.items()}


def load_numpy_pt(path: Path) -> dict[str, object]:
    """A `torch.save`d dict of numpy arrays and lists, read with `weights_only=True` and the numpy allowlist."""
    import torch

    safe = [(_reconstruct, "numpy.core.multiarray._reconstruct"), np.ndarray, np.dtype, type(np.dtype(np.int64))]
    try:
        with torch.serialization.safe_globals(safe):
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise EmbnormError(f"{path}: not a readable CIFAR-N label file ({type(e).__name__}: {str(e)[:300]})") from None
    if not isinstance(obj, dict):
        raise EmbnormError(f"{path}: expected a dict of label arrays, found {type(obj).__name__}")
    return obj
