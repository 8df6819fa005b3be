"""Worker subprocess: run one grid cell (``python -m usb_asd.compare.cell --config CELL.yaml``).

Started by :func:`usb_asd.compare.execute.run_in_workers`. The worker exits when
its parent dies, so a grid killed with SIGKILL leaves no cell training behind
that the next invocation would start a second time.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
import traceback
from typing import List, Optional


def exit_with_parent(poll_s: float = 0.5) -> None:
    """End this process when its parent process ends.

    Linux delivers SIGKILL at once (``prctl(PR_SET_PDEATHSIG)``); elsewhere a
    daemon thread notices the re-parenting within ``poll_s`` seconds.

    Args:
        poll_s: Polling period of the fallback thread.
    """
    parent = os.getppid()
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
    except (OSError, AttributeError):
        pass

    def watch() -> None:
        while True:
            if os.getppid() != parent:
                os._exit(3)
            time.sleep(poll_s)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def main(argv: Optional[List[str]] = None) -> int:
    """Run the cell; returns a process exit code (0: results.json written).

    Args:
        argv: ``--config CELL.yaml [--overrides JSON] [--threads N]``.

    Returns:
        0 on success, 1 on a failed run.
    """
    parser = argparse.ArgumentParser(description="run one usb_asd.compare grid cell")
    parser.add_argument("--config", required=True, help="the cell's config file")
    parser.add_argument("--overrides", default="{}", help="JSON object of per-invocation keys")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    opts = parser.parse_args(argv)
    exit_with_parent()
    if opts.threads > 0:
        import torch

        torch.set_num_threads(opts.threads)
    overrides = json.loads(opts.overrides)
    if not isinstance(overrides, dict):
        parser.error(f"--overrides must be a JSON object, got {opts.overrides!r}")
    from .execute import run_cell

    try:
        run_cell(opts.config, overrides)
    except Exception:  # noqa: BLE001 - reported through the exit code and the log
        traceback.print_exc()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
