"""Array input shared by the stages: numpy arrays or torch tensors, without importing torch."""

from __future__ import annotations

import numpy as np


def as_numpy(values) -> np.ndarray:
    """``values`` as a numpy array; a torch tensor is detached and moved to the CPU first."""
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    return np.asarray(values)
