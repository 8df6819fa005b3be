"""Train a USB learner with usb-asd: ``python train.py --c config/<name>.yaml``.

Same ``--c`` flag and YAML keys as USB's ``train.py``; runs on CPU or CUDA,
scores the final model as a clustering (ACC / NMI / ARI) and writes
``<save_dir>/<save_name>/results.json``.
"""

from __future__ import annotations

import sys

import usb_asd  # noqa: F401  (import-time fixes before semilearn loads)
from usb_asd.cli import run_from_command_line

if __name__ == "__main__":
    sys.exit(run_from_command_line(sys.argv[1:]))
