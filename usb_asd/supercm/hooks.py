"""Thin USB hook that adds SuperCM's clustering-module loss to a learner's step."""

from __future__ import annotations

import torch
from semilearn.core.hooks import Hook

from ..core.hooks import learner_features
from .schedule import ramp_up


def _targets_ready(algorithm) -> bool:
    ready = getattr(algorithm, "labelled_targets_ready", None)
    return ready is None or bool(ready())


@torch.no_grad()
def refresh_centroids_before_step(algorithm) -> None:
    """The public code's centroid update, run before the training forward (``supercm_centroid_forward: eval``).

    Durgesh93/SuperCM ``lib/util.py::set_centroids``: once per iteration, before
    the step, the labelled batch goes through the model in eval mode
    (BatchNorm running statistics, no gradient) and its features update the
    centroids; with ``supercm_admit_threshold > 0`` the weak unlabelled batch
    does too and its confident rows join (``filter_high_conf_psed``). A no-op
    in ``train`` mode, while the labelled targets are placeholders, and when
    already done for this iteration (a learner may call it from its own step).
    """
    args = algorithm.args
    if getattr(args, "supercm_centroid_forward", "train") != "eval" or not _targets_ready(algorithm):
        return
    if getattr(algorithm, "_supercm_centroids_it", None) == algorithm.it:
        return
    batch, cm, model = algorithm.supercm_batch, algorithm.clustering_module, algorithm.model
    admit = args.supercm_admit_threshold > 0 and batch.get("x_ulb_w") is not None
    was_training = model.training
    model.eval()
    try:
        z_lb = model(batch["x_lb"])["feat"]
        z_ulb = model(batch["x_ulb_w"])["feat"] if admit else None
    finally:
        model.train(was_training)
    algorithm.supercm_admitted = cm.update_centroids(
        z_lb, batch["y_lb"], z_ulb=z_ulb, threshold=args.supercm_admit_threshold if admit else None,
        iteration=algorithm.it + 1,
    )
    algorithm._supercm_centroids_it = algorithm.it


class SuperCMHook(Hook):
    """After the learner's step and before USB's update: centroids, then ``beta * cm_loss``.

    1. Features ``z`` of the labelled batch and of the weak unlabelled batch:
       the learner's own (``out_dict["feat"]``) when they carry gradients, else
       one extra forward.
    2. Centroids (no gradient): the labelled features join their class's
       running mean; with ``supercm_admit_threshold > 0``, so do unlabelled
       rows whose CM confidence reaches it (SuperCM's pseudo-labelled variant).
       The centroids are refreshed before the loss, so a class's first batch
       already has a centroid.
    3. ``out_dict["loss"] += beta * ramp(it) * (E1 + E2 + E3 + E4)`` on the
       labelled and unlabelled rows together.

    While the labelled targets are placeholders (ASD's warm-up, see
    ``labelled_targets_ready``) the centroids are not touched and the loss is
    not added. With ``supercm_centroid_forward: eval`` step 2 has already run
    before the step (:func:`refresh_centroids_before_step`) and is skipped here.
    """

    def after_train_step(self, algorithm) -> None:
        if not _targets_ready(algorithm):
            algorithm.log_dict["train/supercm_loss"] = 0.0
            return
        args, batch, out_dict = algorithm.args, algorithm.supercm_batch, algorithm.out_dict
        cm = algorithm.clustering_module

        z_lb = learner_features(out_dict, "x_lb", with_grad=True)
        if z_lb is None:
            z_lb = algorithm.model(batch["x_lb"])["feat"]
        z_ulb = None
        if batch.get("x_ulb_w") is not None:
            z_ulb = learner_features(out_dict, "x_ulb_w", with_grad=True)
            if z_ulb is None:
                z_ulb = algorithm.model(batch["x_ulb_w"])["feat"]
        z = z_lb if z_ulb is None else torch.cat([z_lb, z_ulb])
        g = cm(z)["assignments"]

        if getattr(args, "supercm_centroid_forward", "train") == "eval":
            admitted = getattr(algorithm, "supercm_admitted", None)
        else:
            admit = args.supercm_admit_threshold > 0 and z_ulb is not None
            admitted = cm.update_centroids(
                z_lb,
                batch["y_lb"],
                z_ulb=z_ulb if admit else None,
                probs_ulb=g[len(z_lb):] if admit else None,
                threshold=args.supercm_admit_threshold if admit else None,
                iteration=algorithm.it + 1,
            )
        terms = cm.loss(z, g)
        weight = args.supercm_beta * ramp_up(algorithm.it, args.supercm_ramp_iter)
        out_dict["loss"] = out_dict["loss"] + weight * terms["total"]

        # One device->host copy for all logged values, not one per value.
        names = ["total", "e1", "e2", "e3", "e4"]
        values = torch.stack([terms[n].detach().float() for n in names])
        if admitted is not None:
            names.append("admitted")
            values = torch.cat([values, admitted.float().mean().reshape(1).to(values.device)])
        for name, value in zip(names, values.tolist()):
            algorithm.log_dict["train/supercm_loss" if name == "total" else f"train/supercm_{name}"] = value
