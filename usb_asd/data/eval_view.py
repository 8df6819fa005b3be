"""Images of a USB dataset through one (evaluation) transform, for inference passes.

One view serves ASD's pool forwards, the final assignments, predict and the
validation part: each reads ``dataset.__sample__(i) -> (image, target)``.
"""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset


class EvalView(Dataset):
    """``transform(image)`` of a dataset's images, all of them or those at ``indices``, in order.

    Args:
        dataset: Has ``__len__`` and ``__sample__(i) -> (image, target)`` (USB's ``BasicDataset``).
        transform: The evaluation transform (PIL image -> tensor).
        indices: Dataset indices to read; ``None`` reads every image.
    """

    def __init__(self, dataset, transform: Callable, indices: Optional[np.ndarray] = None) -> None:
        self.dataset, self.transform = dataset, transform
        self.indices = None if indices is None else np.asarray(indices, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.dataset) if self.indices is None else len(self.indices)

    def __getitem__(self, i: int) -> torch.Tensor:
        img, _ = self.dataset.__sample__(i if self.indices is None else int(self.indices[i]))
        if isinstance(img, np.ndarray):
            img = Image.fromarray(img)
        return self.transform(img)
