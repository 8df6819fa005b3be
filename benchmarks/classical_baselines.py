"""k-means, agglomerative and spectral clustering on raw pixels of a dataset's test split.

    python benchmarks/classical_baselines.py --dataset digits --seeds 0 1 2 \
        --out benchmarks/results/digits_classical.json

The same test split the deep runs are scored on (digits: the fixed stratified
20% split, 360 images); ground truth is used only to score.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import List

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from run_configs import summarise  # noqa: E402

from usb_asd.baselines import CLASSICAL_METHODS, classical_scores  # noqa: E402
from usb_asd.data.registry import load_splits  # noqa: E402
from usb_asd.results import git_commit, machine_info, write_json_atomic  # noqa: E402


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--data_dir", default="./data")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--out", required=True)
    opts = parser.parse_args(argv)
    commit = git_commit()
    splits = load_splits(opts.dataset, opts.data_dir)
    runs = []
    for method in CLASSICAL_METHODS:
        for seed in opts.seeds:
            start = time.perf_counter()
            scores = classical_scores(method, splits.test_images, splits.test_targets, splits.num_classes, seed)
            runs.append({"method": method, "seed": seed, "wall_s": time.perf_counter() - start, **scores})
            print(f"[classical] {method} seed {seed}: acc {scores['acc']:.4f} nmi {scores['nmi']:.4f} ari {scores['ari']:.4f}")
    write_json_atomic(opts.out, {
        "command": "python " + " ".join([os.path.relpath(__file__)] + (argv if argv is not None else sys.argv[1:])),
        "dataset": opts.dataset,
        "scored_split": "test",
        "num_images": len(splits.test_targets),
        "seeds": opts.seeds,
        "commit": commit,
        "machine": machine_info(),
        "runs": runs,
        "summary": {m: summarise([r for r in runs if r["method"] == m]) for m in CLASSICAL_METHODS},
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
