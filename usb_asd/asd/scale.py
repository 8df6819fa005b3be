"""Sizes each ASD option can serve within its budget, and a clear refusal beyond them.

Budgets (costs by ``benchmarks/asd_stage_costs.py``, docs/SCALE.md):
one re-clustering or redraw under 10 s and peak extra memory under 2 GB. The
options whose cost grows with the whole pool (``N`` images) or with ``n_l^2``
refuse a size beyond their limit when the run starts, naming the option and the
limit, instead of stalling training for minutes or being killed for memory
hours into a run.
"""

from __future__ import annotations

from typing import Dict, Tuple

from ..config import ConfigError
from .pipeline import ASDSettings

__all__ = ["LIMITS", "check_scale"]

#: (setting, value) -> (what is limited, largest allowed, why). ``N`` = unlabelled pool size.
LIMITS: Dict[Tuple[str, str], Tuple[str, int, str]] = {
    ("asd_sampler", "prototype"): (
        "N", 200_000,
        "each draw seeds prototypes and ranks neighbours over the whole pool's features "
        "(> 300 s per draw, 8 GB, measured at 1.28 M images)",
    ),
    ("asd_mapping", "features"): (
        "N", 200_000,
        "each re-clustering runs k-means on the whole pool's features in float64 "
        "(killed at 17.7 GB before its first iteration at 1.28 M images)",
    ),
    ("asd_feature_clustering", "spectral"): (
        "N", 20_000,
        "the kNN-graph spectral clustering of the pool did not finish at 50,000 images",
    ),
    ("asd_kmedoids_distance", "spectral"): (
        "n_l", 5_000,
        "the embedding needs the n_l x n_l eigenproblem's top k eigenvectors (seconds at 4,000, "
        "growing as n_l^3)",
    ),
    ("asd_kmedoids_distance", "linear"): (
        "n_l", 5_000,
        "k-Medoids holds several dense n_l x n_l float64 matrices (0.6 GB at 5,000, growing as n_l^2)",
    ),
}


def check_scale(settings: ASDSettings, num_samples: int) -> None:
    """Refuse a pool or sample-set size an option cannot serve within its budget.

    Args:
        settings: ASD's settings.
        num_samples: ``N``, the unlabelled pool's size.

    Raises:
        ConfigError: naming the option, its value, the size and the limit.
    """
    values = {
        "asd_sampler": settings.sampler,
        "asd_mapping": settings.mapping,
        "asd_feature_clustering": settings.feature_clustering,
        # The k-Medoids distance is only used by the transition map.
        "asd_kmedoids_distance": settings.kmedoids_distance if settings.mapping == "ctt" else None,
    }
    sizes = {"N": int(num_samples), "n_l": int(settings.num_instances)}
    for key, value in values.items():
        limit = LIMITS.get((key, value))
        if limit is None:
            continue
        what, largest, why = limit
        if sizes[what] > largest:
            raise ConfigError(
                f"{key}: {value} serves at most {what} = {largest:,} ({why}); this run has {what} = "
                f"{sizes[what]:,}. Choose another {key} or a smaller "
                f"{'pool' if what == 'N' else 'asd_num_instances'}"
            )
