"""The USB-facing end of a clustering run: assignments, the cluster figure, no test-label selection.

Composed (by :func:`usb_asd.runner.learner_mixins`) into every clustering
run, i.e. ``adaptor: asd`` or ``num_labels: 0``:

* ``model_best.pth`` is not written: USB picks it by top-1 on the test split,
  which in a run without labels is model selection with test labels. The run
  keeps and scores the final model only (``latest_model.pth``; results.json
  says ``"model_selection": "final"``, and its ``best_top1`` / ``best_it`` are null);
* checkpoints carry the settings :mod:`usb_asd.predict` needs to rebuild the
  network and its input pipeline (``usb_asd_run``);
* at the end, ``assignments.csv`` and ``clusters.png`` are written beside results.json.
"""

from __future__ import annotations

import argparse
import os
from typing import Any, Dict, List, Optional

import numpy as np
import torch
from semilearn.core.hooks import Hook

from ..core.atomic_io import write_json_atomic
from ..nets.two_head import unwrap
from .assignments import SplitAssignments, dataset_logits, image_names, write_assignments_csv
from .cluster_figure import draw_clusters

#: Checkpoint key holding the run's settings (plain values only, so ``torch.load(weights_only=True)`` reads it).
SETTINGS_KEY = "usb_asd_run"
ASSIGNMENTS_FILE = "assignments.csv"
FIGURE_FILE = "clusters.png"


def is_clustering_run(args: argparse.Namespace) -> bool:
    """Whether a run learns without labels: a label-building adaptor, or ``num_labels: 0``."""
    adaptor = getattr(args, "adaptor", None)
    return adaptor not in (None, "", "none", "None") or int(getattr(args, "num_labels", 0) or 0) == 0


def normalisation_of(transform) -> Optional[Dict[str, List[float]]]:
    """The mean / std of the ``Normalize`` step of a torchvision ``Compose``, or ``None``."""
    from torchvision import transforms

    for step in getattr(transform, "transforms", []):
        if isinstance(step, transforms.Normalize):
            return {"mean": [float(v) for v in step.mean], "std": [float(v) for v in step.std]}
    return None


def run_settings(args: argparse.Namespace, eval_transform) -> Dict[str, Any]:
    """The settings a checkpoint carries for predict: every plain-valued key, and the normalisation."""
    plain = {k: v for k, v in vars(args).items() if isinstance(v, (str, int, float, bool)) or v is None}
    return {"args": plain, "normalisation": normalisation_of(eval_transform)}


class ClusteringOutputsHook(Hook):
    """After training (rank 0 only): write assignments.csv and clusters.png, and amend results.json."""

    def after_run(self, algorithm) -> None:
        if algorithm.distributed and algorithm.rank % algorithm.ngpus_per_node != 0:
            return
        algorithm.write_clustering_outputs()


class ClusteringOutputsMixin:
    """Placed first in the MRO of clustering runs (see the module docstring)."""

    def save_model(self, save_name, save_path):
        if save_name == "model_best.pth":
            return  # chosen by test top-1 in USB: no selection with test labels
        super().save_model(save_name, save_path)

    def get_save_dict(self):
        save_dict = super().get_save_dict()
        save_dict[SETTINGS_KEY] = run_settings(self.args, self.dataset_dict["eval"].transform)
        return save_dict

    def set_hooks(self) -> None:
        super().set_hooks()
        # LOWEST and registered last: runs after ResultsHook has written results.json.
        self.register_hook(ClusteringOutputsHook(), "ClusteringOutputsHook", "LOWEST")

    @torch.no_grad()
    def final_assignments(self) -> List[SplitAssignments]:
        """The final model's assignments of the training pool and the test split.

        The model is the one evaluation scores (EMA weights, eval mode), and the
        ids are its argmax, so ACC from the test rows equals the run's ACC.
        """
        model = unwrap(self.model)
        pool, test = self.dataset_dict["train_ulb"], self.dataset_dict["eval"]
        self.ema.apply_shadow()
        was_training = model.training
        model.eval()
        try:
            parts = []
            for split, dataset in (("train", pool), ("test", test)):
                logits = dataset_logits(model, dataset, test.transform, self.device, self.args.eval_batch_size)
                parts.append(SplitAssignments.from_logits(
                    split, image_names(dataset.data, len(dataset)), logits, np.asarray(dataset.targets)))
        finally:
            model.train(was_training)
            self.ema.restore()
        return parts

    def write_clustering_outputs(self) -> None:
        """Write assignments.csv and clusters.png, and record them (and the model kept) in results.json."""
        save_path = os.path.join(self.save_dir, self.save_name)
        pool_part, test_part = self.final_assignments()
        write_assignments_csv(os.path.join(save_path, ASSIGNMENTS_FILE), [pool_part, test_part])
        pool = self.dataset_dict["train_ulb"]
        draw_clusters(
            os.path.join(save_path, FIGURE_FILE), pool_part.clusters, pool_part.confidence,
            lambda i: pool.__sample__(int(i))[0], int(self.args.num_classes),
            y_true=test_part.true_class, y_pred=test_part.clusters,
            class_names=self._class_names(),
            title=f"{self.args.save_name}: {self.args.algorithm} on {self.args.dataset}, final model",
        )
        self.print_fn(f"assignments: {os.path.join(save_path, ASSIGNMENTS_FILE)}; "
                      f"clusters: {os.path.join(save_path, FIGURE_FILE)}")
        record = getattr(self, "results_record", None)
        if record is not None:
            record.update(model_selection="final", best_top1=None, best_it=None,
                          assignments=ASSIGNMENTS_FILE, clusters_figure=FIGURE_FILE)
            write_json_atomic(os.path.join(save_path, "results.json"), record)

    def _class_names(self) -> Optional[List[str]]:
        """Class-folder names of an image folder (other data sets: indices are shown)."""
        if self.args.dataset != "folder":
            return None
        from ..data.folder import load_image_folder

        return load_image_folder(self.args.data_dir, self.args.num_classes).class_names
