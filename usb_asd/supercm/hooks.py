"""Thin USB hook that adds SuperCM's clustering-module loss to a learner's step."""

from __future__ import annotations

import torch
from semilearn.core.hooks import Hook

from ..core.hooks import learner_features
from .schedule import ramp_up


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
    not added.
    """

    def after_train_step(self, algorithm) -> None:
        ready = getattr(algorithm, "labelled_targets_ready", None)
        if ready is not None and not ready():
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

        admit = args.supercm_admit_threshold > 0 and z_ulb is not None
        admitted = cm.update_centroids(
            z_lb,
            batch["y_lb"],
            z_ulb=z_ulb if admit else None,
            probs_ulb=g[len(z_lb):] if admit else None,
            threshold=args.supercm_admit_threshold if admit else None,
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
