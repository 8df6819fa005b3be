"""Boost an existing clustering: ASD from a start against self-labelling from the same start.

    # a classical start (raw pixels), then ASD and self-labelling from it, 5 seeds each
    python benchmarks/boost_from_start.py --config config/asd_freematch_mnist5k.yaml --start spectral \
        --seeds 0 1 2 3 4 --out benchmarks/results/boost_mnist5k_spectral.json

    # a good clustering (an earlier run's assignments.csv) with 30 % of its labels randomised
    python benchmarks/boost_from_start.py --config config/asd_freematch_digits.yaml \
        --start saved/asd_freematch_digits_seed0/assignments.csv --corrupt 0.3 --seeds 0 1 2 --out ...

The start is written once (``--start_seed``) under ``SAVE_DIR/starts/`` and scored on its pool rows
(labels read only to score) and its test rows. Each seed then runs two ordinary ``train.py`` runs
through ``run_configs.py``: variant ``asd`` (``asd_init_assignments``) and variant ``selflabel``
(``adaptor: selflabel``, SCAN's and SPICE's last stage); ``--methods`` may add ``asd_handover``
(ASD from the start with ``asd_cold_refit: handover``: a cold fit competes once at the hand-over). The JSON holds ``run_configs``' records and
summary, plus a ``start`` block: how the start was made, its sha256 and its scores.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from typing import Any, Dict, List, Optional

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import usb_asd  # noqa: E402,F401
from usb_asd.baselines import CLASSICAL_METHODS, write_start  # noqa: E402
from usb_asd.metrics import clustering_scores  # noqa: E402
from usb_asd.outputs.assignments import (SplitAssignments, read_assignments_csv,  # noqa: E402
                                         write_assignments_csv)
from usb_asd.results import write_json_atomic  # noqa: E402

import run_configs  # noqa: E402


#: Each method's ``run_configs`` variant (``NAME:key=value,...``), ``{start}`` the start's path.
BOOST_METHODS = {
    "asd": "asd:asd_init_assignments={start}",
    "asd_handover": "asd_handover:asd_init_assignments={start},asd_cold_refit=handover",
    "selflabel": "selflabel:adaptor=selflabel,selflabel_assignments={start}",
}


def corrupt_parts(parts: List[SplitAssignments], fraction: float, k: int, seed: int) -> List[SplitAssignments]:
    """Give a ``fraction`` of each split's images a cluster drawn uniformly from ``0..k-1`` (confidence 0).

    The drawn cluster may equal the old one, so about ``fraction * (1 - 1/k)`` of the labels change.
    """
    rng = np.random.default_rng(seed)
    out = []
    for part in parts:
        clusters = np.array(part.clusters, dtype=np.int64)
        confidence = np.array(part.confidence, dtype=np.float64)
        hit = rng.random(len(clusters)) < fraction
        clusters[hit] = rng.integers(0, k, int(hit.sum()))
        confidence[hit] = 0.0
        out.append(SplitAssignments(part.split, part.images, clusters, confidence, part.true_class))
    return out


def part_scores(part: SplitAssignments) -> Optional[Dict[str, float]]:
    """ACC / NMI / ARI of the rows whose class is known, or None."""
    known = np.asarray(part.true_class) >= 0
    if not known.any():
        return None
    return clustering_scores(np.asarray(part.true_class)[known], np.asarray(part.clusters)[known])


def make_start(opts) -> Dict[str, Any]:
    """Write the start CSV and return its description and scores."""
    from usb_asd.config import parse_config
    from usb_asd.cli import _extra_arguments

    k = int(parse_config(["--c", opts.config], extra_arguments=_extra_arguments).num_classes)
    folder = os.path.join(opts.save_dir, "starts")
    os.makedirs(folder, exist_ok=True)
    stem = os.path.splitext(os.path.basename(opts.out))[0]
    path = os.path.abspath(os.path.join(folder, stem + ".csv"))
    if opts.start in CLASSICAL_METHODS:
        write_start(opts.config, opts.start, path, seed=opts.start_seed)
        made = {"method": opts.start, "seed": opts.start_seed}
    else:
        made = {"from_file": opts.start}
        parts = read_assignments_csv(opts.start)
        write_assignments_csv(path, parts)
    parts = read_assignments_csv(path)
    if opts.corrupt:
        made["before_corruption"] = {p.split: part_scores(p) for p in parts}
        parts = corrupt_parts(parts, opts.corrupt, k, opts.start_seed)
        write_assignments_csv(path, parts)
        made.update(corrupt_fraction=opts.corrupt, corrupt_seed=opts.start_seed)
    with open(path, "rb") as handle:
        digest = hashlib.sha256(handle.read()).hexdigest()
    made.update(path=path, sha256=digest, scores={p.split: part_scores(p) for p in parts})
    return made


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--start", required=True,
                        help=f"a classical method ({', '.join(sorted(CLASSICAL_METHODS))}) or an assignments.csv")
    parser.add_argument("--start_seed", type=int, default=0, help="seed of the start (and of its corruption)")
    parser.add_argument("--corrupt", type=float, default=0.0, help="fraction of labels to randomise")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--methods", nargs="+", default=["asd", "selflabel"], choices=list(BOOST_METHODS))
    parser.add_argument("--out", required=True)
    parser.add_argument("--save_dir", default="./saved_models/benchmarks")
    opts = parser.parse_args(argv)

    start = make_start(opts)
    print(f"[boost] start {start['path']}: {json.dumps(start['scores'])}")
    for method in opts.methods:
        run_configs.main(["--configs", opts.config, "--seeds", *map(str, opts.seeds), "--out", opts.out,
                          "--save_dir", opts.save_dir, "--variant", BOOST_METHODS[method].format(start=start["path"])])
        with open(opts.out, encoding="utf-8") as handle:
            payload = json.load(handle)
        payload["start"] = start
        payload["boost_command"] = "python " + " ".join(
            [os.path.relpath(__file__)] + (argv if argv is not None else sys.argv[1:]))
        write_json_atomic(opts.out, payload)
    return 0


if __name__ == "__main__":
    sys.exit(main())
