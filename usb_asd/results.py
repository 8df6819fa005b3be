"""Writing a run's results as JSON, atomically, with where they came from."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from typing import IO, Any, Callable, Dict, Optional

import torch

from .core import atomic_io


_COMMITS: Dict[str, Optional[str]] = {}


def git_commit(repo_dir: Optional[str] = None) -> Optional[str]:
    """The commit of the repository holding this package, read once per process, or ``None``.

    Read once so a long benchmark reports the code it started with, even if the
    working tree changes while it runs; ``-dirty`` marks uncommitted changes.
    """
    repo_dir = repo_dir or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if repo_dir not in _COMMITS:
        _COMMITS[repo_dir] = _read_commit(repo_dir)
    return _COMMITS[repo_dir]


def _read_commit(repo_dir: str) -> Optional[str]:
    try:
        out = subprocess.run(
            ["git", "-C", repo_dir, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    dirty = subprocess.run(
        ["git", "-C", repo_dir, "status", "--porcelain", "--untracked-files=no"],
        capture_output=True, text=True, timeout=5,
    )
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def machine_info() -> Dict[str, Any]:
    """Processor, core count, Python/torch versions and GPU name, for reproducibility records."""
    info: Dict[str, Any] = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def write_atomic(path: str, write: Callable[[IO[bytes]], None], suffix: str = "", setting: Optional[str] = None) -> None:
    """Write a file through a temporary sibling, fsync and a rename (:func:`usb_asd.core.atomic_io.write_atomic`).

    Args:
        path: Destination file.
        write: ``write(handle)`` fills the binary handle of the temporary file.
        suffix: Suffix of the temporary file (some writers look at it, e.g. ``.png``).
        setting: The setting that chose the folder (``save_dir``, ``--out``), named if the write fails.
    """
    atomic_io.write_atomic(path, write, suffix=suffix, setting=setting)


def write_figure_atomic(fig, path: str, setting: Optional[str] = None) -> None:
    """Save a matplotlib figure as PNG atomically (:func:`write_atomic`) and close it, written or not."""
    import matplotlib.pyplot as plt

    try:
        write_atomic(path, lambda handle: fig.savefig(handle, format="png"), suffix=".png", setting=setting)
    finally:
        plt.close(fig)


def write_text_atomic(path: str, text: str, setting: Optional[str] = None) -> None:
    """Write UTF-8 text to ``path`` atomically (:func:`write_atomic`)."""
    atomic_io.write_text_atomic(path, text, setting=setting)


def write_json_atomic(path: str, payload: Any, setting: Optional[str] = None) -> None:
    """Write JSON to ``path`` atomically (:func:`write_atomic`), so readers never see half a file."""
    text = json.dumps(payload, indent=2, sort_keys=True, default=_jsonable) + "\n"
    atomic_io.write_text_atomic(path, text, suffix=".json", setting=setting)


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)
