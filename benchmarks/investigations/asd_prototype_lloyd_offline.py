"""Are the instance head's prototypes at their cells' centres? Lloyd steps from them, offline on finished ASD runs.

    python benchmarks/investigations/asd_prototype_lloyd_offline.py RUN_DIR [RUN_DIR ...] \\
        --out benchmarks/results/mnist5k_asd_prototype_lloyd_offline.json

For each finished ASD run (its ``latest_model.pth``) this reads the raw model's
unit projections ``z`` of the whole pool (the instance head's ``embed``) and its
prototypes ``c_j``, and runs spherical k-means (Lloyd) steps started from the
prototypes, the projections fixed:

.. math:: a_i = \\arg\\max_j z_i^\\top c_j, \\qquad c_j \\leftarrow \\frac{\\sum_{a_i = j} z_i}{\\lVert \\sum_{a_i = j} z_i \\rVert}.

Each step keeps the classes' identities (class ``j`` stays near prototype
``j``). Scored after 0 (the run's own head), 1, 3 and 10 steps: the instance
classes' purity on the validation part (the best any map over them can do;
labels read only to score) and the largest class's size. A rise means the
training left the prototypes short of their cells' centres, what
``asd_prototype_update: mean`` changes. Nothing is chosen here.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Dict, List

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from asd_instance_stage import run_pool_outputs  # noqa: E402
from asd_map_refit_offline import offline_main  # noqa: E402

STEPS = (0, 1, 3, 10)


def purity(targets: np.ndarray, classes: np.ndarray) -> float:
    """Share of images whose class is their instance class's majority class."""
    return float(sum(np.bincount(targets[classes == c]).max() for c in np.unique(classes)) / len(targets))


def score_run(run_dir: str) -> Dict[str, Any]:
    import torch
    import torch.nn.functional as F

    run = run_pool_outputs(run_dir)
    head = run["model"].instance_head
    with torch.no_grad():
        z = head.embed(torch.from_numpy(run["features"])).double().numpy()
        centres = F.normalize(head.prototypes, dim=1).double().numpy()
    targets, val = run["targets"], run["val"]
    row: Dict[str, Any] = {"run": os.path.basename(os.path.normpath(run_dir)), "algorithm": run["args"].algorithm,
                           "seed": int(run["args"].seed), "lloyd": {}}
    done = 0
    for steps in STEPS:
        for _ in range(steps - done):
            assigned = (z @ centres.T).argmax(axis=1)
            for j in np.unique(assigned):
                mean = z[assigned == j].sum(axis=0)
                centres[j] = mean / np.linalg.norm(mean)
        done = steps
        classes = (z @ centres.T).argmax(axis=1)
        row["lloyd"][str(steps)] = {"val_purity": purity(targets[val], classes[val]),
                                    "largest_class": int(np.bincount(classes).max()),
                                    "classes_used": int(len(np.unique(classes)))}
    return row


def describe(row: Dict[str, Any]) -> str:
    return ", ".join(f"{s} steps: purity {v['val_purity']:.3f} (largest {v['largest_class']})"
                     for s, v in row["lloyd"].items())


def main(argv: List[str] | None = None) -> int:
    return offline_main(__doc__.splitlines()[0], score_run, describe, "prototype lloyd", __file__, argv)


if __name__ == "__main__":
    sys.exit(main())
