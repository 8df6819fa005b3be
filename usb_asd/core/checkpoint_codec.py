"""Store plugin state in USB checkpoints in a form ``torch.load(weights_only=True)`` accepts.

Since torch 2.6, ``torch.load`` (which USB's ``load_model`` calls without
``weights_only``) refuses pickled numpy objects. Plugin state (samplers,
transition ring, RNG states) holds numpy arrays, so it is encoded with tensors
and plain Python values only.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

_ARRAY = "__ndarray__"


def encode(obj: Any) -> Any:
    """Recursively replace numpy arrays and scalars by tensors and Python values."""
    if isinstance(obj, np.ndarray):
        arr = np.ascontiguousarray(obj)
        return {_ARRAY: torch.from_numpy(arr.reshape(-1).view(np.uint8).copy()), "dtype": arr.dtype.str,
                "shape": list(arr.shape)}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return {k: encode(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(encode(v) for v in obj)
    return obj


def decode(obj: Any) -> Any:
    """Inverse of :func:`encode` (arrays come back with their dtype and shape)."""
    if isinstance(obj, dict):
        if _ARRAY in obj:
            raw = obj[_ARRAY].numpy()
            return raw.view(np.dtype(obj["dtype"])).reshape(obj["shape"]).copy()
        return {k: decode(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(decode(v) for v in obj)
    return obj
