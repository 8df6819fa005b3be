"""Import-time compatibility for semilearn 0.3.2 on current package releases.

Nothing here edits an installed package. Each function works around one
problem described in ``docs/INSTALL.md`` and is a no-op where the problem is
absent, e.g. on a CUDA machine with matching torch/torchvision builds.
"""

from __future__ import annotations

import glob
import importlib.machinery
import importlib.util
import os
import sys
import types
from typing import Optional

import torch

# Keep the library object alive: torch drops a Library's definitions when it is
# garbage-collected.
_TORCHVISION_SCHEMA_LIB: Optional["torch.library.Library"] = None


def _torchvision_ops_loadable(package_dir: str) -> bool:
    """Whether torchvision's compiled operator library loads with this torch."""
    candidates = glob.glob(os.path.join(package_dir, "_C*.so")) + glob.glob(
        os.path.join(package_dir, "_C*.pyd")
    )
    if not candidates:
        return False
    try:
        torch.ops.load_library(candidates[0])
        return True
    except (OSError, RuntimeError):
        return False


def ensure_torchvision_importable() -> bool:
    """Let ``import torchvision`` succeed when its compiled ops cannot load.

    PyPI's torchvision 0.28.0 is a CUDA build. On a CPU-only torch its ``_C``
    library fails to load, and ``torchvision/_meta_registrations.py`` then fails
    registering fake kernels for ``torchvision::nms`` / ``qnms``, which do not
    exist. Declaring the two schemas (without kernels) first lets the import
    finish; transforms, datasets and models work, ``torchvision.ops.nms`` still
    does not (nothing in this project uses it).

    Returns:
        True when the schemas had to be declared, False when nothing was needed.
    """
    global _TORCHVISION_SCHEMA_LIB
    if "torchvision" in sys.modules or _TORCHVISION_SCHEMA_LIB is not None:
        return False
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return False
    package_dir = list(spec.submodule_search_locations)[0]
    if _torchvision_ops_loadable(package_dir):
        return False
    lib = torch.library.Library("torchvision", "DEF")
    lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _TORCHVISION_SCHEMA_LIB = lib
    return True


class _MissingTorchaudio(types.ModuleType):
    """Stands in for torchaudio: importable, but any use raises ImportError."""

    def __init__(self, reason: str) -> None:
        super().__init__("torchaudio")
        self.__spec__ = importlib.machinery.ModuleSpec("torchaudio", None)
        self._reason = reason

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        raise ImportError(
            f"torchaudio.{name} is unavailable ({self._reason}); USB's audio datasets need "
            "a torchaudio build that matches your torch."
        )


def guard_torchaudio() -> bool:
    """Stand in for a missing or broken ``torchaudio`` so ``import semilearn`` works.

    ``semilearn.datasets.audio_datasets`` imports torchaudio at module level, so
    ``import semilearn`` fails without it, although only the audio datasets use it.
    PyPI's torchaudio is a CUDA build that cannot load on a CPU torch. When it
    is absent or fails to import, a placeholder module is registered whose every
    attribute access raises ImportError with the reason, so image work is
    unaffected and audio work fails with a clear message.

    Returns:
        True when the placeholder was installed.
    """
    if "torchaudio" in sys.modules:
        return False
    if importlib.util.find_spec("torchaudio") is None:
        reason = "torchaudio is not installed"
    else:
        try:
            import torchaudio  # noqa: F401

            return False
        except Exception as error:  # noqa: BLE001 - any failure means unusable
            reason = f"importing it failed with {type(error).__name__}"
            for name in [m for m in sys.modules if m.startswith("torchaudio")]:
                del sys.modules[name]
    sys.modules["torchaudio"] = _MissingTorchaudio(reason)
    return True


def prepare_imports() -> None:
    """Apply every import-time fix; call before the first ``import semilearn``."""
    guard_torchaudio()
    ensure_torchvision_importable()
