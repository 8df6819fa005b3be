"""One host transfer for the values a training step's ASD hook needs on the host.

Each ``.item()`` or ``.cpu()`` of a CUDA tensor waits for the device to finish the
work queued so far. The instance hook needs, every step, the instance head's
argmax (for the transition tracker) and three scalars (for USB's log); fetched one
by one that is four waits per step, fetched together it is one.
"""

from __future__ import annotations

from typing import Dict, Optional

import numpy as np
import torch

__all__ = ["fetch"]

#: Integers up to this magnitude survive the float32 round trip exactly (instance classes do: n_l <= 5,000).
_EXACT_INT = 2**24


def fetch(tensors: Dict[str, Optional[torch.Tensor]]) -> Dict[str, np.ndarray]:
    """Bring several device tensors to the host in one transfer.

    Args:
        tensors: Name -> tensor (any shape; floating or integer), or None (skipped).
            Integer tensors must hold values within ``+-2^24``.

    Returns:
        Name -> flat numpy array: float32 for floating tensors (a float32 value
        as ``.item()`` would give it), int64 for integer ones, same values.
    """
    present = {name: t.detach().reshape(-1) for name, t in tensors.items() if t is not None}
    if not present:
        return {}
    sizes = [t.numel() for t in present.values()]
    # float32 holds every float32 loss exactly (and bf16/fp16 ones), and these integers.
    flat = torch.cat([t.to(torch.float32) for t in present.values()]).cpu().numpy()
    out: Dict[str, np.ndarray] = {}
    offset = 0
    for (name, tensor), size in zip(present.items(), sizes):
        part = flat[offset: offset + size]
        offset += size
        if tensor.dtype.is_floating_point:
            out[name] = part
        else:
            if part.size and np.abs(part).max() > _EXACT_INT:
                raise ValueError(f"fetch: integer tensor {name!r} exceeds 2^24 and would lose precision")
            out[name] = part.astype(np.int64)
    return out
