"""Record a run on the shapes toy (``python -m usb_asd.data.shapes``, flat layout) for docs/BENCHMARKS.md.

    python benchmarks/folder_run_record.py --run saved_models/folder/asd_freematch_folder \\
        --predicted shapes_predicted.csv --groups 3 --out benchmarks/results/shapes_folder.json

The flat toy has no class folders, so the run itself scores nothing; the
planted group of ``img_<n>.png`` is ``n % groups`` (how the toy names its
files), read here only to score the run's ``assignments.csv`` afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from usb_asd.metrics import clustering_scores  # noqa: E402
from usb_asd.outputs.assignments import read_assignments_csv  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", required=True)
    p.add_argument("--predicted", required=True, help="usb-asd-predict's CSV on the same folder")
    p.add_argument("--groups", type=int, required=True)
    p.add_argument("--out", required=True)
    opts = p.parse_args()
    with open(os.path.join(opts.run, "results.json"), encoding="utf-8") as handle:
        record = json.load(handle)
    train = [s for s in read_assignments_csv(os.path.join(opts.run, "assignments.csv")) if s.split == "train"][0]
    planted = np.array([int(re.search(r"img_(\d+)", name).group(1)) % opts.groups for name in train.images])
    scores = clustering_scores(planted, train.clusters)
    predicted = [s for s in read_assignments_csv(opts.predicted) if s.split == "train"][0]
    out = {
        "num_images": len(train.images), "num_classes": record["num_classes"], "iterations": record["iterations"],
        "wall_s": record["wall_s"], "mean_iter_s": record["mean_iter_s"], "planted_acc": scores["acc"],
        "planted_nmi": scores["nmi"], "planted_ari": scores["ari"],
        "clusters_used": int(len(np.unique(train.clusters))),
        "predict_matches_run": bool(predicted.images == train.images
                                    and predicted.clusters.tolist() == train.clusters.tolist()),
        "commit": record["commit"], "machine": record["machine"], "config": record["config"],
    }
    with open(opts.out, "w", encoding="utf-8") as handle:
        json.dump(out, handle, indent=2, sort_keys=True)
        handle.write("\n")
    print(json.dumps({k: v for k, v in out.items() if k != "machine"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
