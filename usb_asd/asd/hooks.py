"""Thin USB hooks that call ASD's stages at the right moments of a training step."""

from __future__ import annotations

import torch.nn.functional as F
from semilearn.core.hooks import Hook

from ..core.hooks import learner_features
from ..nets.two_head import unwrap
from .host import fetch
from .prototype_means import update_prototype_means
from .schedule import recluster_due


class ASDInstanceHook(Hook):
    """After the learner's step and before USB's update: the instance losses, transitions, warm-up.

    * Sampled instances (the paper's instance-level labels): cross-entropy of the
      instance head on their weak views, target = their instance class (slot).
      Reuses the learner's features of ``x_lb`` when they carry gradients,
      otherwise runs one extra forward.
    * Every unlabelled batch (:class:`.instance_objective.BalancedInstanceObjective`):
      balanced Sinkhorn targets of the weak views, predicted by the strong views
      (swapped prediction), weighted by ``asd_instance_ssl_ratio``; with
      ``asd_prototype_update: mean`` the prototypes then move to their cells' running
      means (:mod:`.prototype_means`) after ``asd_freeze_prototypes_iter`` steps; with ``lloyd`` the
      weak projections are queued for ASDRoundHook's Lloyd steps. Reuses the
      learner's features of ``x_ulb_w`` and ``x_ulb_s``, forwarding only what the
      learner did not return.
    * Class transition tracking (``asd_transitions``): ``views`` records each
      image's weak-view argmax -> strong-view argmax in this batch; ``visits``
      records the weak-view argmax per sample index, a transition being a change
      since the image's previous visit (SoC); ``neighbours``, once the chain's
      labels are on, each image's weak-view argmax -> those of its nearest
      neighbours in the learner's feature space (:mod:`.neighbour_transitions`).
    * Warm-up: until cluster labels are switched on (``asd_labels_ready``),
      the learner's own loss is multiplied by 0 (its labelled targets are placeholders).
    """

    def after_train_step(self, algorithm) -> None:
        batch, args = algorithm.asd_batch, algorithm.args
        model = unwrap(algorithm.model)
        out_dict = algorithm.out_dict
        feat_lb = learner_features(out_dict, "x_lb", with_grad=True)
        if feat_lb is None:
            feat_lb = algorithm.model(batch["x_lb"])["feat"]
        instance_loss = F.cross_entropy(model.instance_logits(feat_lb), batch["slots"])

        feat_w = learner_features(out_dict, "x_ulb_w")
        if feat_w is None and batch["x_ulb_w"] is not None:
            feat_w = algorithm.model(batch["x_ulb_w"])["feat"]
        feat_s = learner_features(out_dict, "x_ulb_s", with_grad=True)
        if feat_s is None and batch["x_ulb_s"] is not None:
            feat_s = algorithm.model(batch["x_ulb_s"])["feat"]
        ssl_loss, weak, strong = instance_loss.new_zeros(()), None, None
        if feat_w is not None:
            objective = algorithm.asd_objective(
                model.instance_head, feat_w, feat_s, freeze_prototypes=algorithm.it < args.asd_freeze_prototypes_iter
            )
            ssl_loss, weak, strong = objective.loss, objective.weak_classes, objective.strong_classes
            momentum = algorithm.asd_prototype_momentum  # None unless asd_prototype_update: mean
            if momentum is not None and algorithm.it >= args.asd_freeze_prototypes_iter:
                update_prototype_means(model.instance_head.prototypes.data, objective.weak_embeddings, momentum,
                                       algorithm.asd_objective.all_reduce)
            if algorithm.asd_prototype_lloyd is not None:  # asd_prototype_update: lloyd (ASDRoundHook refines)
                algorithm.asd_prototype_lloyd.observe(objective.weak_embeddings)

        ready = algorithm.asd_labels_ready()
        learner_loss = out_dict["loss"] if ready else out_dict["loss"] * 0.0
        out_dict["loss"] = (learner_loss + args.asd_instance_loss_ratio * instance_loss
                            + args.asd_instance_ssl_ratio * ssl_loss)

        # One host transfer (one device sync) for the tracker's argmax and the logged scalars.
        source, builder = algorithm.asd_transition_source, algorithm.asd_builder
        # asd_transitions: neighbours reads the learner's feature space once the chain's own labels are on
        # (before, the instance stage's features alone: view moves, as under views).
        neighbours = (source == "neighbours" and weak is not None and batch["idx_ulb"] is not None
                      and ready and not builder.given_labels_on)
        views = source in ("views", "neighbours") and not neighbours and strong is not None
        host = fetch({"instance_loss": instance_loss, "ssl_loss": ssl_loss, "weak": weak,
                      "strong": strong if views else None,
                      "features": F.normalize(feat_w.detach().float(), dim=1) if neighbours else None})
        moves = 0
        if neighbours:
            moves = builder.observe_neighbours(host["features"].reshape(len(host["weak"]), -1), host["weak"],
                                               batch["idx_ulb"].cpu().numpy())
        elif views:
            moves = builder.observe_views(host["weak"], host["strong"])
        elif weak is not None and batch["idx_ulb"] is not None:
            moves = builder.observe(batch["idx_ulb"].cpu().numpy(), host["weak"])
        algorithm.log_dict["train/asd_instance_loss"] = float(host["instance_loss"][0])
        algorithm.log_dict["train/asd_instance_ssl_loss"] = float(host["ssl_loss"][0])
        algorithm.log_dict["train/asd_transitions"] = float(moves)
        algorithm.log_dict["train/asd_labels_ready"] = float(ready)


class ASDRoundHook(Hook):
    """The schedule: first draw before training, re-clustering and redraws every few iterations.

    With ``asd_prototype_update: lloyd`` each re-clustering after
    ``asd_freeze_prototypes_iter`` steps first moves the instance head's
    prototypes by Lloyd steps on the queued projections (:mod:`.prototype_means`):
    here, after USB's update, so no gradient of this step sees the moved prototypes.

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
        due = recluster_due(it, args.asd_cluster_iter)
        # A background re-clustering applies at its step (or before the next one starts,
        # should a resumed run have changed asd_cluster_iter).
        pending = builder.pending_recluster_at
        if pending is not None and (it >= pending or due):
            algorithm.asd_finish_recluster()
            self._after_map(algorithm, it)
        if due and algorithm.asd_prototype_lloyd is not None and it >= args.asd_freeze_prototypes_iter:
            algorithm.asd_prototype_lloyd.refine(unwrap(algorithm.model).instance_head.prototypes.data)
        if due:
            # asd_cold_refit: labels_on: once labels are on and the chain's own map labels them.
            compete = (getattr(args, "asd_cold_refit", "never") == "labels_on"
                       and algorithm.asd_gate.on_since is not None and not builder.given_labels_on)
            if args.asd_recluster_lag == 0:
                algorithm.asd_recluster(compete_cold=compete)
                self._after_map(algorithm, it)
            else:
                algorithm.asd_start_recluster(it + args.asd_recluster_lag, compete_cold=compete)
        if it % args.asd_round_iter == 0 and it < algorithm.num_train_iter:
            algorithm.asd_new_round(it)
            # The new instances' labels, before any re-clustering.
            self._log_label_score(algorithm, "eval/asd_redraw_label_acc")

    def _after_map(self, algorithm, it: int) -> None:
        """A new map is installed: let the label gate see it, and log its agreement and score.

        Where a given clustering labels the instances (``asd_init_assignments``), the
        gate's switch-on is the hand-over: from then on the chain's own map labels them.
        """
        builder, gate = algorithm.asd_builder, algorithm.asd_gate
        was_on = gate.on_since is not None
        # asd_switch_rule: cold_fit: the map is trusted once a cold fit of the same transitions agrees.
        clusters = builder.slot_clusters
        cold = builder.compare_cold() if gate.needs_cold_fit and clusters is not None else None
        gate.observe_map(it, clusters, None if cold is None else cold.agreement)
        if gate.last_agreement is not None:
            algorithm.log_dict["train/asd_map_agreement"] = gate.last_agreement
        if gate.last_cold_agreement is not None:
            algorithm.log_dict["train/asd_cold_fit_agreement"] = gate.last_cold_agreement
        if not was_on and gate.on_since is not None:
            given = builder.given_labels_on
            before = algorithm.asd_label_score() if given else None
            if given:
                builder.hand_over()
            cold_refit = getattr(algorithm.args, "asd_cold_refit", "never")
            compared = None
            if cold_refit == "labels_on" or (cold_refit == "handover" and given):
                compared = builder.compete_cold()
            score = algorithm.asd_label_score()
            agreement = gate.decisive_agreement
            agree = {"cold_fit": "the map agrees with a cold fit",
                     "held": f"consecutive maps agree at each of the last {gate.hold} re-clusterings"}.get(
                gate.rule, "consecutive maps agree")
            if agreement is not None and agreement >= gate.threshold:
                reason = f"{agree}, ARI {agreement:.3f}"
            else:
                reason = "asd_warmup_iter reached" + ("" if agreement is None else f", map agreement {agreement:.3f}")
            what = "the chain's own map takes over from asd_init_assignments" if given else "cluster labels on"
            right = "" if score is None else f", slot labels {score:.3f} right" + (
                "" if before is None else f" (given: {before:.3f})")
            # Under cold_fit: whether a run with the default rule would have decided otherwise (never later).
            default_step = "" if gate.consecutive_on_since in (None, gate.on_since) else (
                f"; consecutive maps alone would have switched on after step {gate.consecutive_on_since}")
            if compared is not None:
                what += (f" ({'a cold fit replaced' if compared.replaced else 'kept'} the warm-started map: "
                         f"k-Medoids objective {compared.current:.2f}, cold fit {compared.cold:.2f})")
            algorithm.print_fn(f"asd: {what} after step {it} ({reason}{right}{default_step})")
            if score is not None:
                algorithm.log_dict["eval/asd_switch_on_label_acc"] = score
        self._log_label_score(algorithm, "eval/asd_label_acc")

    @staticmethod
    def _log_label_score(algorithm, key: str) -> None:
        score = algorithm.asd_label_score()
        if score is not None:
            algorithm.log_dict[key] = score
