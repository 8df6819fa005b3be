"""``adaptor: selflabel``: a USB learner trains on the most confident images of a given clustering.

USB-facing glue only (:mod:`.selection` chooses the images). What the mixin
changes in a learner:

* data: no ground-truth label is read (``num_labels: 0``). The labelled split
  is the most confident ``selflabel_fraction`` of each cluster of
  ``selflabel_assignments`` (an assignments CSV with a ``confidence`` column,
  e.g. a run's own ``assignments.csv`` or ``python -m usb_asd.baselines``'s),
  their given clusters as labels, with the augmentations USB gives a labelled
  split; the unlabelled loader is USB's own (every pool image);
* nothing else: the learner, its losses and its schedule are USB's.

So it is the self-labelling stage of SCAN and SPICE run with the same learner
as ASD, and the baseline for ASD started from the same clustering
(``asd_init_assignments``).
"""

from __future__ import annotations

from typing import List

import numpy as np

from ..config import PluginArgument
from ..asd.init_assignments import AssignmentsFileError, GivenAssignments, read_given_assignments
from .selection import DEFAULT_FRACTION, most_confident_per_cluster

#: The self-labelling adaptor's config keys.
SELFLABEL_ARGUMENTS: List[PluginArgument] = [
    PluginArgument("--selflabel_assignments", str, None,
                   "adaptor: selflabel: the given clustering (an assignments CSV with a confidence column, e.g. a "
                   "run's assignments.csv or python -m usb_asd.baselines' output)"),
    PluginArgument("--selflabel_fraction", float, DEFAULT_FRACTION,
                   "adaptor: selflabel: share of each cluster, its most confident images, taken as labelled"),
]


def check_selflabel_settings(args) -> None:
    """The self-labelling keys of a run, alone (the file is read against the pool later).

    Raises:
        ValueError: naming the key and what it must be.
    """
    if not getattr(args, "selflabel_assignments", None):
        raise ValueError("adaptor: selflabel needs selflabel_assignments: the clustering (an assignments CSV) "
                         "whose most confident images become the labelled split")
    if int(getattr(args, "num_labels", 0) or 0) != 0:
        raise ValueError(f"num_labels is {args.num_labels} but adaptor: selflabel takes its labels from "
                         "selflabel_assignments, not from ground truth; set num_labels: 0")
    fraction = getattr(args, "selflabel_fraction", DEFAULT_FRACTION)
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"selflabel_fraction must lie in (0, 1] (a share of each cluster), got {fraction}")


def selflabel_indices(given: GivenAssignments, args) -> np.ndarray:
    """Pool indices of the labelled split: the most confident ``selflabel_fraction`` of each given cluster.

    Raises:
        AssignmentsFileError: the file has no confidences to rank by (a ``.npy``, or a CSV
            without a ``confidence`` column) and the fraction is below 1.
    """
    fraction = float(getattr(args, "selflabel_fraction", DEFAULT_FRACTION))
    confidence = given.confidence
    if confidence is None:
        if fraction < 1.0:
            raise AssignmentsFileError(
                f"selflabel_assignments: {given.path} has no confidence column to pick each cluster's most "
                "confident images by; give an assignments CSV with one, or selflabel_fraction: 1")
        confidence = np.zeros(given.clusters.size)
    return most_confident_per_cluster(given.clusters, confidence, fraction, int(args.num_classes))


class SelfLabelAdaptorMixin:
    """Composes self-labelling with a USB learner; placed before ``PluginLearnerMixin`` in the MRO."""

    def __init__(self, args, net_builder, tb_log=None, logger=None, **kwargs) -> None:
        check_selflabel_settings(args)
        super().__init__(args, net_builder, tb_log=tb_log, logger=logger, **kwargs)

    def requires_labelled_split(self) -> bool:
        return False  # built from the given clustering in adapt_datasets

    def describe_labelled_split(self, size: int) -> str:
        return f"{size} self-labelled (no ground truth)"

    def adapt_datasets(self, dataset_dict):
        from ..data.usb_datasets import ImageDataset, IndexedImages
        from ..outputs.assignments import image_names

        dataset_dict = super().adapt_datasets(dataset_dict)
        pool = dataset_dict["train_ulb"]
        k = int(self.args.num_classes)
        given = read_given_assignments(self.args.selflabel_assignments, image_names(pool.data, len(pool)), k,
                                       "selflabel_assignments")
        chosen = selflabel_indices(given, self.args)
        dataset_dict["train_lb"] = ImageDataset(
            pool.alg, IndexedImages(pool.data, chosen), given.clusters[chosen], k, pool.transform, False,
            pool.strong_transform, False,
        )
        self.print_fn(f"selflabel: {chosen.size} of {len(pool)} images labelled by their cluster in "
                      f"{self.args.selflabel_assignments} (the most confident {self.args.selflabel_fraction:g} "
                      "of each cluster)")
        return dataset_dict
