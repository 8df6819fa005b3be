"""The ``train.py`` / ``usb-asd-train`` command."""

from __future__ import annotations

import sys
from typing import List, Optional

from .config import ConfigError, parse_config
from .errors import UserError


def _extra_arguments(args) -> list:
    """The chosen learner's own arguments (USB's ``get_argument()``) and the plugin's adaptors' and regulariser's keys."""
    from semilearn.core.utils import ALGORITHMS

    from . import plugin
    from .asd.adaptor import ASD_ARGUMENTS
    from .selflabel.adaptor import SELFLABEL_ARGUMENTS
    from .supercm.regulariser import SUPERCM_ARGUMENTS

    plugin.register()  # the plugin's own learners (supercm) are in USB's registry

    if args.algorithm not in ALGORITHMS:
        raise ConfigError(f"key 'algorithm': unknown USB learner {args.algorithm!r}; known: {sorted(ALGORITHMS.keys())}")
    return (list(ALGORITHMS[args.algorithm].get_argument()) + list(ASD_ARGUMENTS) + list(SELFLABEL_ARGUMENTS)
            + list(SUPERCM_ARGUMENTS))


def format_scores(record: dict) -> str:
    """One line with the run's clustering scores (and top-1 when labels exist)."""
    def fmt(key: str) -> str:
        value = record.get(key)
        return "n/a" if value is None else f"{value:.4f}"

    from .core.degenerate import describe

    flag = describe(record.get("degenerate"))
    return (
        f"{record['algorithm']} on {record['dataset']} ({record['iterations']} iterations, "
        f"{record['wall_s']:.0f} s, {record['device']}): ACC {fmt('acc')}  NMI {fmt('nmi')}  "
        f"ARI {fmt('ari')}  top-1 {fmt('top1')}"
    ) + (f"  [{flag}]" if flag else "")


def run_from_command_line(argv: Optional[List[str]] = None) -> int:
    """Parse settings, train, print the scores; returns a process exit code.

    A user error prints one line and returns 2; ``--debug`` (or ``USB_ASD_DEBUG=1``) re-raises it.
    """
    from . import plugin
    from .command_errors import report, split_debug_flag
    from .runner import main

    argv, debug = split_debug_flag(list(sys.argv[1:] if argv is None else argv))
    plugin.register()
    try:
        args = parse_config(argv, extra_arguments=_extra_arguments)
        record = main(args)
    except UserError as error:
        return report(error, debug)
    if record is not None:
        print(format_scores(record))
        print(f"results: {args.save_dir}/{args.save_name}/results.json")
    return 0


def main() -> None:
    """Console-script entry point (``usb-asd-train --c CONFIG``)."""
    import usb_asd  # noqa: F401

    sys.exit(run_from_command_line(sys.argv[1:]))
