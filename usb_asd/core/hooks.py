"""USB hooks the plugin adds or substitutes; each does one thing."""

from __future__ import annotations

import math
import statistics
import os
import time
from typing import Any, Dict, Optional

import numpy as np
import torch
from semilearn.core.hooks import Hook

from ..metrics import NMI_AVERAGE
from ..nets.two_head import unwrap
from ..validation import pool_predictions, validation_indices, validation_scores
from .atomic_io import write_json_atomic
from .batchnorm_recalibration import recalibrate_batchnorm
from .degenerate import degeneracy, describe
from .provenance import git_commit, machine_info


def learner_features(out_dict, key: str, with_grad: bool = False) -> Optional[torch.Tensor]:
    """The features a learner's ``train_step`` returned for one input (``out_dict["feat"][key]``).

    Args:
        out_dict: The learner's ``out_dict``.
        key: ``"x_lb"``, ``"x_ulb_w"``, ``"x_ulb_s"``...
        with_grad: Only return them when they carry gradients (a loss will be built on them).

    Returns:
        The tensor, or ``None`` when the learner did not return it (or it has no gradient and one is needed).
    """
    feats = out_dict.get("feat") if isinstance(out_dict, dict) else None
    value = feats.get(key) if isinstance(feats, dict) else None
    if not torch.is_tensor(value) or (with_grad and not value.requires_grad):
        return None
    return value


class DeviceTimerHook(Hook):
    """USB's ``TimerHook`` without ``torch.cuda.Event``, so it runs on CPU too.

    Logs ``lr``, ``train/prefetch_time`` (waiting for the next batch) and
    ``train/run_time`` (forward, backward and update, as in USB: evaluation and
    checkpointing are excluded) in seconds. The end of the update is stamped by
    :class:`StepEndStampHook`, which runs right after USB's ``ParamUpdateHook``.
    Also logs ``train/iter_time``: the whole previous iteration, from one
    step's start to the next (waiting for data and every hook included, an
    evaluation or checkpoint in that iteration too: what a wall clock sees).
    """

    def before_run(self, algorithm) -> None:
        self._batch_start = time.perf_counter()
        self._step_start = self._batch_start
        self._previous_step_start = None

    def before_train_step(self, algorithm) -> None:
        self._step_start = device_time(algorithm.device)
        self._prefetch = self._step_start - self._batch_start
        self._iter_time = None
        if self._previous_step_start is not None:
            self._iter_time = self._step_start - self._previous_step_start
        self._previous_step_start = self._step_start

    def after_train_step(self, algorithm) -> None:
        end = getattr(algorithm, "step_end_time", None) or device_time(algorithm.device)
        algorithm.log_dict["lr"] = algorithm.optimizer.param_groups[-1]["lr"]
        algorithm.log_dict["train/prefetch_time"] = self._prefetch
        algorithm.log_dict["train/run_time"] = end - self._step_start
        if self._iter_time is not None:
            algorithm.log_dict["train/iter_time"] = self._iter_time
        self._batch_start = time.perf_counter()


class StepEndStampHook(Hook):
    """Stamps ``algorithm.step_end_time`` once the parameter update is done."""

    def after_train_step(self, algorithm) -> None:
        algorithm.step_end_time = device_time(algorithm.device)


def device_time(device: torch.device) -> float:
    """``time.perf_counter()`` after queued CUDA work on ``device`` has finished."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


class FinalBatchNormHook(Hook):
    """``bn_recalibration: pool``: after the last step's EMA update, before its evaluation and checkpoint.

    The EMA weights are applied, every BatchNorm layer's running statistics are
    re-estimated on the pool under the evaluation transform
    (:mod:`.batchnorm_recalibration`), the raw weights are restored, and the
    new statistics are copied into the EMA model, so the evaluation, results.json,
    the assignments and ``latest_model.pth`` all hold the same final model. Every
    rank computes them on the whole pool, so the ranks agree.
    """

    def after_train_step(self, algorithm) -> None:
        if not self.is_last_iter(algorithm):
            return
        pool = algorithm.dataset_dict["train_ulb"]
        model = unwrap(algorithm.model)
        algorithm.ema.apply_shadow()
        try:
            images = recalibrate_batchnorm(model, pool, algorithm.dataset_dict["eval"].transform, algorithm.device,
                                           algorithm.args.eval_batch_size)
        finally:
            algorithm.ema.restore()
        buffers = {name: buffer for name, buffer in model.named_buffers()}
        target = unwrap(algorithm.ema_model)
        for name, buffer in target.named_buffers():
            buffer.copy_(buffers[name])
        if images:
            algorithm.print_fn(f"bn_recalibration: pool: the final model's batch-norm statistics re-estimated on "
                               f"{images} pool images (evaluation transform)")


class ResultsHook(Hook):
    """Writes ``<save_dir>/<save_name>/results.json`` when training ends.

    The scores are those of the evaluation at the last iteration (USB's
    ``EvaluationHook`` runs one there), i.e. of the final EMA model: no model is
    picked with test labels.
    """

    def before_run(self, algorithm) -> None:
        self._start = time.perf_counter()
        # Checkpoints record the training time from here on (PluginLearnerMixin.trained_seconds).
        algorithm.run_started_at = self._start
        self._final: Dict[str, Any] = {}
        self._step_times: list = []
        self._iter_times: list = []
        if algorithm.it >= algorithm.num_train_iter:
            # Resumed from the checkpoint of the last iteration (killed after USB
            # saved it, before results.json): nothing is left to train, so no
            # evaluation would run; score the final model now. USB's last save
            # stores it = num_train_iter + 1: the run trained num_train_iter.
            algorithm.it = int(algorithm.num_train_iter)
            eval_dict = algorithm.evaluate("eval")
            algorithm.log_dict = {**(getattr(algorithm, "log_dict", None) or {}), **eval_dict}
            self._final = {k: v for k, v in eval_dict.items() if k.startswith("eval/")}

    def after_train_step(self, algorithm) -> None:
        if "train/run_time" in algorithm.log_dict:
            self._step_times.append(float(algorithm.log_dict["train/run_time"]))
        if "train/iter_time" in algorithm.log_dict:
            self._iter_times.append(float(algorithm.log_dict["train/iter_time"]))
        if self.is_last_iter(algorithm):
            self._final = {k: v for k, v in algorithm.log_dict.items() if k.startswith("eval/")}

    def after_run(self, algorithm) -> None:
        if algorithm.distributed and algorithm.rank % algorithm.ngpus_per_node != 0:
            return
        # A resumed run adds its time to that of the runs before it (recorded in the checkpoint).
        seconds = getattr(algorithm, "resumed_wall_s", 0.0) + time.perf_counter() - self._start
        record = build_results_record(algorithm, self._final, seconds)
        record["median_step_s"] = float(statistics.median(self._step_times)) if self._step_times else None
        # Mean, not median: periodic work (ASD's re-clustering, redraws) belongs in the cost.
        record["mean_iter_s"] = float(statistics.fmean(self._iter_times)) if self._iter_times else None
        record.update(validation_record(algorithm))
        extras = getattr(algorithm, "results_extras", None)  # an adaptor's own entries (e.g. ASD's switch-on)
        if extras is not None:
            record.update(extras())
        sizes = getattr(algorithm, "last_eval_cluster_sizes", None)
        record["degenerate"] = degeneracy(sizes) if sizes is not None else None
        if record["degenerate"]:
            algorithm.print_fn(f"warning: {describe(record['degenerate'])} (final model, scored images)")
        algorithm.results_record = record
        write_json_atomic(os.path.join(algorithm.save_dir, algorithm.save_name, "results.json"), record,
                          setting="save_dir")


def validation_record(algorithm) -> Dict[str, Any]:
    """Scores of the final (EMA) model on the validation part of the training pool (:mod:`usb_asd.validation`).

    Empty for domain adaptation (the pool is the target domain) and for pools
    with unknown labels. These are the only labels a setting may be chosen with.
    """
    if getattr(algorithm.args, "da_target_dataset", None):
        return {}
    pool = algorithm.dataset_dict.get("train_ulb")
    if pool is None or getattr(pool, "targets", None) is None:
        return {}
    indices = validation_indices(np.asarray(pool.targets))
    if indices is None:
        return {}
    algorithm.ema.apply_shadow()
    try:
        preds = pool_predictions(
            algorithm.model, pool, algorithm.dataset_dict["eval"].transform, indices,
            algorithm.device, algorithm.args.eval_batch_size,
        )
    finally:
        algorithm.ema.restore()
    return {**validation_scores(preds, np.asarray(pool.targets)[indices]), "val_size": int(len(indices))}


def _finite_or_none(value: Optional[float]) -> Optional[float]:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def build_results_record(algorithm, final_eval: Dict[str, Any], wall_s: float) -> Dict[str, Any]:
    """The results.json record of a finished run."""
    args = algorithm.args
    return {
        "acc": _finite_or_none(final_eval.get("eval/acc")),
        "nmi": _finite_or_none(final_eval.get("eval/nmi")),
        "ari": _finite_or_none(final_eval.get("eval/ari")),
        "top1": _finite_or_none(final_eval.get("eval/top-1-acc")),
        "best_top1": _finite_or_none(algorithm.best_eval_acc),
        "best_it": int(algorithm.best_it),
        "nmi_average": NMI_AVERAGE,
        "scored_split": "test",
        "num_eval_samples": len(algorithm.dataset_dict["eval"]),
        "iterations": int(algorithm.it),
        "wall_s": float(wall_s),
        "algorithm": args.algorithm,
        "dataset": args.dataset,
        "net": args.net,
        "num_labels": int(args.num_labels),
        "adaptor": getattr(args, "adaptor", None) or None,
        "supercm": bool(getattr(args, "supercm", False)) or args.algorithm == "supercm",
        "target_dataset": getattr(args, "da_target_dataset", None) or None,
        "bn_recalibration": getattr(args, "bn_recalibration", None),
        "num_classes": int(args.num_classes),
        "seed": args.seed,
        "device": str(algorithm.device),
        "world_size": int(args.world_size) if algorithm.distributed else 1,
        "config": getattr(args, "c", ""),
        "data_fingerprint": getattr(args, "data_fingerprint", None),
        "skipped_images": list(getattr(args, "skipped_images", None) or []),
        "commit": git_commit(),
        "machine": machine_info(),
    }
