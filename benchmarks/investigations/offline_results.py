"""What the offline benchmarks (``asd_*_offline.py``) share: a run's pool, its outputs on it, paired scores, JSON."""

from __future__ import annotations

import os
import statistics
import sys
from typing import Any, Callable, Dict, Iterable, Optional, Sequence, Tuple

import numpy as np
import torch
from PIL import Image

import usb_asd  # noqa: F401  (makes PyPI's CUDA torchvision importable)
from usb_asd.data.registry import DATASETS, load_splits
from usb_asd.data.transforms import build_augmentations
from usb_asd.nets.small_cnn import cnn_small
from usb_asd.nets.two_head import TwoHeadNet
from usb_asd.results import git_commit, machine_info, write_json_atomic


def eval_images(store, transform, indices: Optional[Iterable[int]] = None) -> torch.Tensor:
    """Images of ``store`` (uint8 arrays) through ``transform``, stacked: ``indices`` of them, or all.

    Args:
        store: Indexable images (a split's ``train_images``).
        transform: The run's eval transform (``build_augmentations(...).eval``).
        indices: Which images, in order; ``None``: every image.
    """
    chosen = range(len(store)) if indices is None else indices
    return torch.stack([transform(Image.fromarray(np.asarray(store[int(i)]))) for i in chosen])


def train_pool(dataset: str = "digits", img_size: int = 8) -> Tuple[torch.Tensor, np.ndarray]:
    """A bundled dataset's training split (the ASD pool) in the eval transform, and its targets (to score only).

    Args:
        dataset: A dataset that ships with a package (``digits``, ``mnist5k``).
        img_size: The runs' ``img_size``.
    """
    spec = DATASETS[dataset]
    if spec.needs_dir:
        raise ValueError(f"--dataset: offline replays read bundled datasets only, not {dataset!r}")
    splits = load_splits(dataset, "")
    tf = build_augmentations(spec.kind, img_size, 0.875, splits.mean, splits.std).eval
    return eval_images(splits.train_images, tf), splits.train_targets


def add_pool_arguments(parser) -> None:
    """``--dataset`` and ``--img_size`` of the runs being replayed (digits at 8x8 by default)."""
    parser.add_argument("--dataset", default="digits", help="the runs' dataset (a bundled one)")
    parser.add_argument("--img_size", type=int, default=8, help="the runs' img_size")


def pool_outputs(checkpoint: dict, num_instances: int, images: torch.Tensor) -> Tuple[np.ndarray, np.ndarray]:
    """Features and instance-head log-softmax of the whole pool (eval mode, the raw model, as training).

    For ``net: cnn_small`` runs with the plain two-head net (not SuperCM's); a net of another shape is refused.
    """
    net = TwoHeadNet(cnn_small(num_classes=10), num_instances)
    net.load_state_dict(checkpoint["model"])
    net.eval()
    with torch.no_grad():
        out = net(images)
        return out["feat"].double().numpy(), torch.log_softmax(out["logits_instance"].double(), dim=1).numpy()


def score_run_folders(
    folders: Iterable[str], score: Callable[[str], Optional[Dict[str, Any]]], keys: Sequence[str]
) -> Dict[str, Dict[str, Any]]:
    """``{run name: score(its latest_model.pth)}`` over finished run folders, sorted; a run scored None is left out.

    Prints each row's ``keys``. A folder without ``latest_model.pth`` is refused (not a finished run).
    """
    rows: Dict[str, Dict[str, Any]] = {}
    for folder in sorted(folders):
        checkpoint = os.path.join(folder, "latest_model.pth")
        if not os.path.isfile(checkpoint):
            raise FileNotFoundError(f"--runs: {folder!r} has no latest_model.pth (not a finished run folder)")
        row = score(checkpoint)
        if row is not None:
            name = os.path.basename(os.path.normpath(folder))
            rows[name] = row
            print(f"{name:48s} " + " ".join(f"{k} {row[k]:.3f}" for k in keys))
    return rows


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
