"""What the offline benchmarks (``asd_mapping_offline.py``, ``asd_labels_offline.py``) share: paired scores and their JSON."""

from __future__ import annotations

import os
import statistics
import sys
from typing import Any, Dict

from usb_asd.results import git_commit, machine_info, write_json_atomic


def paired_difference(rows: Dict[str, Dict[str, float]], new: str, old: str) -> Dict[str, float]:
    """Mean of ``row[new] - row[old]`` over runs, and how many runs it raises and lowers."""
    diff = [r[new] - r[old] for r in rows.values()]
    return {"mean": statistics.fmean(diff), "wins": sum(d > 0 for d in diff), "losses": sum(d < 0 for d in diff)}


def write_offline_record(path: str, rows: Dict[str, Any], summary: Dict[str, Any], **extra: Any) -> None:
    """Print the summary's means and write the JSON record (command, commit, machine, ``extra``, runs, summary)."""
    print(" ".join(f"{k} {v['mean']:.3f}" for k, v in summary.items()))
    write_json_atomic(path, {
        "command": " ".join([os.path.basename(sys.executable), *sys.argv]),
        "commit": git_commit(),
        "machine": machine_info(),
        **extra,
        "runs": rows,
        "summary": summary,
    })
