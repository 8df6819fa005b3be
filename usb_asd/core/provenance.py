"""Where a run's results came from: the commit of the code and the machine it ran on."""

from __future__ import annotations

import os
import platform
import subprocess
from typing import Any, Dict, Optional

import torch

_COMMITS: Dict[str, Optional[str]] = {}

#: The repository holding the package: the folder above ``usb_asd/``.
_REPO_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def git_commit(repo_dir: Optional[str] = None) -> Optional[str]:
    """The commit of the repository holding this package, read once per process, or ``None``.

    Read once so a long benchmark reports the code it started with, even if the
    working tree changes while it runs; ``-dirty`` marks uncommitted changes.
    """
    repo_dir = repo_dir or _REPO_DIR
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
