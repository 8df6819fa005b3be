"""Thin USB hooks that call ASD's stages at the right moments of a training step."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from semilearn.core.hooks import Hook

from ..core.hooks import learner_features
from ..nets.two_head import unwrap
from .host import fetch
from .schedule import recluster_due


def _instance_argmax(algorithm, model, out_dict, key: str, x) -> torch.Tensor:
    """The instance head's argmax on one input of the step: the learner's features, else one forward."""
    feat = learner_features(out_dict, key)
    if feat is None:
        if x is None:
            raise RuntimeError(f"asd: algorithm '{algorithm.args.algorithm}' gave no {key} in this batch")
        feat = algorithm.model(x)["feat"]
    return model.instance_logits(feat.detach()).argmax(dim=1)


class ASDInstanceHook(Hook):
    """After the learner's step and before USB's update: instance loss, transitions, warm-up.

    * Instance loss: cross-entropy of the instance head on the sampled
      instances' weak views, target = their slot (ASD's instance-level labels).
      Reuses the learner's features of ``x_lb`` when they carry gradients,
      otherwise runs one extra forward.
    * Class transition tracking (``asd_transitions``): ``visits`` records the
      instance head's argmax on the weak unlabelled views per sample index, a
      transition being a change since the image's previous visit (SoC);
      ``views`` records weak-view argmax -> strong-view argmax of the same
      image in this batch.
    * Instance-level consistency (``asd_instance_ssl_ratio``): the instance
      head's confident argmax on a weak view (``>= asd_instance_p_cutoff``) is
      the target of its prediction on the strong view of the same image.
    * Warm-up: until cluster labels exist and ``asd_warmup_iter`` has passed,
      the learner's own loss is multiplied by 0 (its labelled targets are placeholders).
    """

    def after_train_step(self, algorithm) -> None:
        batch = algorithm.asd_batch
        model = unwrap(algorithm.model)
        out_dict = algorithm.out_dict
        feat_lb = learner_features(out_dict, "x_lb", with_grad=True)
        if feat_lb is None:
            feat_lb = algorithm.model(batch["x_lb"])["feat"]
        instance_loss = F.cross_entropy(model.instance_logits(feat_lb), batch["slots"])

        with torch.no_grad():
            feat_w = learner_features(out_dict, "x_ulb_w")
            if feat_w is None and batch["x_ulb_w"] is not None:
                feat_w = algorithm.model(batch["x_ulb_w"])["feat"]
            moves, probs_w = 0, None
            if feat_w is not None:
                probs_w = torch.softmax(model.instance_logits(feat_w.detach()).float(), dim=1)
            preds_w = None if probs_w is None else probs_w.argmax(dim=1)
            views = preds_w is not None and algorithm.args.asd_transitions == "views"
            preds_s = _instance_argmax(algorithm, model, out_dict, "x_ulb_s", batch["x_ulb_s"]) if views else None

        # Instance-level consistency on unlabelled images (FixMatch form): the
        # instance head is itself trained semi-supervised, on instance labels.
        ssl_loss = instance_loss.new_zeros(())
        feat_s = learner_features(out_dict, "x_ulb_s", with_grad=True)
        ratio = algorithm.args.asd_instance_ssl_ratio
        mask = None
        if ratio > 0 and probs_w is not None and feat_s is not None:
            conf, pseudo = probs_w.max(dim=1)
            mask = (conf >= algorithm.args.asd_instance_p_cutoff).float()
            per_sample = F.cross_entropy(model.instance_logits(feat_s), pseudo, reduction="none")
            ssl_loss = (per_sample * mask).mean()

        ready = algorithm.asd_labels_ready()
        learner_loss = out_dict["loss"] if ready else out_dict["loss"] * 0.0
        out_dict["loss"] = learner_loss + algorithm.args.asd_instance_loss_ratio * instance_loss + ratio * ssl_loss

        # One host transfer (one device sync) for the tracker's argmax and the logged scalars.
        host = fetch({
            "instance_loss": instance_loss, "ssl_loss": ssl_loss, "mask": None if mask is None else mask.mean(),
            "preds_w": preds_w, "preds_s": preds_s,
        })
        if views:
            moves = algorithm.asd_builder.observe_views(host["preds_w"], host["preds_s"])
        elif preds_w is not None and batch["idx_ulb"] is not None:
            moves = algorithm.asd_builder.observe(batch["idx_ulb"].cpu().numpy(), host["preds_w"])
        if mask is not None:
            algorithm.log_dict["train/asd_instance_mask"] = float(host["mask"][0])
        algorithm.log_dict["train/asd_instance_loss"] = float(host["instance_loss"][0])
        algorithm.log_dict["train/asd_instance_ssl_loss"] = float(host["ssl_loss"][0])
        algorithm.log_dict["train/asd_transitions"] = float(moves)
        algorithm.log_dict["train/asd_labels_ready"] = float(ready)


class ASDRoundHook(Hook):
    """The schedule: first draw before training, re-clustering and redraws every few iterations.

    With ``asd_recluster_lag: L > 0`` the re-clustering due after iteration ``t``
    runs in a background worker on a snapshot taken then, and its map is applied
    after iteration ``t + L`` (before that step's redraw), so the labels of
    iterations ``t + L + 1`` on come from it, whatever the worker's speed.
    """

    def before_run(self, algorithm) -> None:
        if algorithm.asd_builder.slots is None:
            algorithm.asd_new_round(algorithm.it)
        else:  # resumed: the checkpoint's slots serve the next iteration
            algorithm.asd_publish_slots(algorithm.it)

    def after_train_step(self, algorithm) -> None:
        args, it = algorithm.args, algorithm.it + 1
        builder = algorithm.asd_builder
        due = recluster_due(it, args.asd_warmup_iter, args.asd_cluster_iter)
        # A background re-clustering applies at its step (or before the next one starts,
        # should a resumed run have changed asd_cluster_iter).
        pending = builder.pending_recluster_at
        if pending is not None and (it >= pending or due):
            algorithm.asd_finish_recluster()
            self._log_label_score(algorithm, "eval/asd_label_acc")
        if due:
            if args.asd_recluster_lag == 0:
                algorithm.asd_recluster()
                self._log_label_score(algorithm, "eval/asd_label_acc")
            else:
                algorithm.asd_start_recluster(it + args.asd_recluster_lag)
        if it % args.asd_round_iter == 0 and it < algorithm.num_train_iter:
            algorithm.asd_new_round(it)
            # The new instances' labels, before any re-clustering.
            self._log_label_score(algorithm, "eval/asd_redraw_label_acc")

    @staticmethod
    def _log_label_score(algorithm, key: str) -> None:
        score = algorithm.asd_label_score()
        if score is not None:
            algorithm.log_dict[key] = score
