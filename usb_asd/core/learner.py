"""Compose the plugin's behaviour with any USB learner.

As USB's ``imb_algorithms`` do, the plugin builds at run time a class derived
from a mixin and the learner USB registered under ``algorithm:``; USB's
registry itself is left untouched. :class:`PluginLearnerMixin` adds device
placement (CPU or CUDA), the plugin's datasets, clustering scores in
evaluation and results.json.
"""

from __future__ import annotations

import logging
import os
import time
from inspect import signature
from typing import Dict, List, Tuple, Type

import numpy as np
import torch
import torch.nn.functional as F
from semilearn.core.utils import ALGORITHMS
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, precision_score, recall_score
from tqdm.auto import tqdm

from ..config import ConfigError
from ..data.pool_check import run_splits
from ..data.registry import DATASETS
from ..data.usb_datasets import build_domain_adaptation_datasets, build_usb_datasets
from ..data.image_io import load_image
from ..data.image_kind import AUTO_KIND, detect_image_kind
from ..data.transforms import IMAGE_KINDS
from ..device import cuda_calls_to, resolve_device, to_device
from ..metrics import clustering_scores
from .batchnorm_recalibration import resolve_bn_recalibration
from .progress import ProgressBarHook
from .hooks import DeviceTimerHook, FinalBatchNormHook, ResultsHook, StepEndStampHook
from .checkpoint_codec import decode, encode
from .checkpoints import DATA_KEY, SETTINGS_KEY, WALL_KEY, CheckpointError, run_settings, save_checkpoint
from .divergence import LossGuardHook, WeightGuardHook, all_finite, model_tensors, raise_diverged
from .resume import ResumableSampler, capture_rng_state, restore_rng_state, resumable_loader
from .run_folder import RunFolder

#: USB learners the plugin composes with, for image data on CPU and CUDA.
SUPPORTED_LEARNERS: Tuple[str, ...] = (
    "adamatch", "comatch", "defixmatch", "fixmatch", "flexmatch", "freematch",
    "fullysupervised", "meanteacher", "mixmatch", "pimodel", "pseudolabel", "remixmatch",
    "simmatch", "softmatch", "uda", "vat",
    # the plugin's own (registered in USB's ALGORITHMS by usb_asd.plugin)
    "supercm",
)

#: The plugin's learners for domain adaptation only (they need da_target_dataset and uratio: 1).
DOMAIN_ADAPTATION_LEARNERS: Tuple[str, ...] = ("dann",)

#: USB learners the plugin refuses, with why.
UNSUPPORTED_LEARNERS: Dict[str, str] = {
    "dash": "overrides AlgorithmBase.train() with torch.cuda.Event timers and "
    "raw .cuda() calls, so it cannot be placed on CPU without editing USB",
    "crmatch": "its network wrapper hard-codes the feature-map sizes of USB's wrn/resnet/vit nets "
    "(NotImplementedError for any other net) and it replaces AlgorithmBase.train()",
}


def _pixels(item) -> np.ndarray:
    """An image of a store (an array, or a file path decoded as training decodes it)."""
    return load_image(item) if isinstance(item, str) else np.asarray(item)


log = logging.getLogger("usb_asd")


class PluginLearnerMixin:
    """Mixin placed before a USB learner class in the MRO.

    Adds ``self.device``, routes USB's CUDA-only calls through
    :mod:`usb_asd.device`, reads the plugin's datasets, scores evaluation as a
    clustering (ACC / NMI / ARI beside top-1) and writes results.json.
    """

    def __init__(self, args, net_builder, tb_log=None, logger=None, **kwargs) -> None:
        self.device = resolve_device(args.gpu)
        with cuda_calls_to(self.device):
            super().__init__(args, net_builder, tb_log=tb_log, logger=logger, **kwargs)
        # USB uses ngpus_per_node to find rank 0 of a node; 0 on a CPU machine.
        self.ngpus_per_node = max(1, getattr(args, "procs_per_node", 1))

    # ---- data -------------------------------------------------------------
    def set_dataset(self):
        if self.args.dataset not in DATASETS:
            return super().set_dataset()
        if self.rank != 0 and self.distributed:
            torch.distributed.barrier()
        # The splits the run's checks decoded (usb_asd.preflight), without files skip_bad_images left out.
        skipped = getattr(self.args, "skipped_images", None) or ()
        splits = run_splits(self.args.dataset, self.args.data_dir, self.args.num_classes, skipped)
        num_labels = int(self.args.num_labels or 0)
        kind = check_data_fits(self.args, splits, self.requires_labelled_split())
        # Items are built by learner name; a learner may ask for another's layout.
        item_layout = getattr(self, "dataset_algorithm", None) or self.args.algorithm
        target_name = getattr(self.args, "da_target_dataset", None)
        if target_name:
            target = run_splits(target_name, self.args.da_target_data_dir or self.args.data_dir,
                                self.args.num_classes, skipped)
            dataset_dict = build_domain_adaptation_datasets(
                splits, target, item_layout, kind, img_size=self.args.img_size, crop_ratio=self.args.crop_ratio,
                num_labels=num_labels, seed=self.args.seed,
            )
        else:
            dataset_dict = build_usb_datasets(
                splits,
                item_layout,
                kind,
                img_size=self.args.img_size,
                crop_ratio=self.args.crop_ratio,
                num_labels=num_labels,
                seed=self.args.seed,
                include_lb_to_ulb=self.args.include_lb_to_ulb,
            )
        dataset_dict = self.adapt_datasets(dataset_dict)
        self.args.ulb_dest_len = len(dataset_dict["train_ulb"])
        self.args.lb_dest_len = len(dataset_dict["train_lb"]) if dataset_dict["train_lb"] is not None else 0
        labelled = self.describe_labelled_split(self.args.lb_dest_len)
        domains = f"{self.args.dataset} -> {target_name}" if target_name else self.args.dataset
        self.print_fn(
            f"dataset {domains}: {labelled}, {self.args.ulb_dest_len} unlabelled, "
            f"{len(dataset_dict['eval'])} eval"
        )
        if self.rank == 0 and self.distributed:
            torch.distributed.barrier()
        return dataset_dict

    def describe_labelled_split(self, size: int) -> str:
        """What the run's log calls its labelled split of ``size`` items."""
        return f"{size} labelled" if int(self.args.num_labels or 0) else f"{size} sampled instances (no labels)"

    def labelled_targets_ready(self) -> bool:
        """Whether ``y_lb`` holds real targets; label-building adaptors say no while they warm up."""
        return True

    def requires_labelled_split(self) -> bool:
        """Whether the composed learner needs USB's labelled split (adaptors that build labels say no)."""
        return True

    def adapt_datasets(self, dataset_dict):
        """Hook for adaptors to replace or wrap datasets before loaders are built."""
        return dataset_dict

    # ---- hooks ------------------------------------------------------------
    def set_hooks(self) -> None:
        super().set_hooks()
        for i, hook in enumerate(self._hooks):
            if hook.name == "TimerHook":
                replacement = DeviceTimerHook()
                replacement.priority = hook.priority
                replacement.name = hook.name
                self._hooks[i] = replacement
        self.hooks_dict = {h.name: h for h in self._hooks}
        # Same priority as ParamUpdateHook and registered after it: runs right after the update.
        self.register_hook(StepEndStampHook(), "StepEndStampHook", "HIGHEST")
        self.register_hook(WeightGuardHook(), "WeightGuardHook", "HIGHEST")
        # The loss is checked before ParamUpdateHook back-propagates it (same priority, placed first).
        update = next(i for i, hook in enumerate(self._hooks) if hook.name == "ParamUpdateHook")
        guard = LossGuardHook()
        guard.name, guard.priority = "LossGuardHook", self._hooks[update].priority
        self._hooks.insert(update, guard)
        recalibration = resolve_bn_recalibration(getattr(self.args, "bn_recalibration", "auto"),
                                                 getattr(self.args, "adaptor", None) or None,
                                                 getattr(self.args, "da_target_dataset", None))
        if recalibration == "pool":
            # Same priority as USB's EMAHook and placed right after it: the last step's EMA weights exist,
            # its evaluation and checkpoint (EvaluationHook, CheckpointHook) come next.
            ema = next(i for i, hook in enumerate(self._hooks) if hook.name == "EMAHook")
            recalibrate = FinalBatchNormHook()
            recalibrate.name, recalibrate.priority = "FinalBatchNormHook", self._hooks[ema].priority
            self._hooks.insert(ema + 1, recalibrate)
        self.hooks_dict = {h.name: h for h in self._hooks}
        self.register_hook(ResultsHook(), "ResultsHook", "LOWEST")
        self.register_hook(ProgressBarHook(), "ProgressBarHook", "LOWEST")

    # ---- device -----------------------------------------------------------
    def process_batch(self, input_args=None, **kwargs):
        if input_args is None:
            input_args = list(signature(self.train_step).parameters.keys())
        return {
            arg: to_device(var, self.device)
            for arg, var in kwargs.items()
            if arg in input_args and var is not None
        }

    def train(self):
        with cuda_calls_to(self.device):
            return super().train()

    # ---- checkpoints --------------------------------------------------------
    def set_data_loader(self):
        loader_dict = super().set_data_loader()
        if loader_dict is not None:
            for offset, key in enumerate(("train_lb", "train_ulb")):
                if loader_dict.get(key) is not None:
                    loader_dict[key] = resumable_loader(
                        loader_dict[key], seed=self.args.seed * 1000 + offset,
                        make_sampler=self.labelled_sampler if key == "train_lb" else None,
                    )
        return loader_dict

    def labelled_sampler(self, usb_sampler, batch_size: int) -> ResumableSampler:
        """The labelled loader's sampler; adaptors whose labelled items depend on the iteration override it."""
        return ResumableSampler(usb_sampler)

    def get_save_dict(self):
        save_dict = super().get_save_dict()
        save_dict["rng"] = encode(capture_rng_state())
        save_dict[SETTINGS_KEY] = run_settings(self.args)
        fingerprint = getattr(self.args, "data_fingerprint", None)
        if fingerprint:
            save_dict[DATA_KEY] = fingerprint
        save_dict[WALL_KEY] = self.trained_seconds()
        return save_dict

    def trained_seconds(self) -> float:
        """Seconds of training so far, over this run and the runs it resumes (``wall_s`` of results.json)."""
        started = getattr(self, "run_started_at", None)
        now = 0.0 if started is None else time.perf_counter() - started
        return float(getattr(self, "resumed_wall_s", 0.0)) + now

    def use_run_folder(self, folder: RunFolder) -> None:
        """Write into ``folder.current`` until the first checkpoint takes over the run folder (:mod:`.run_folder`)."""
        self.run_folder = folder
        self.save_dir, self.save_name = os.path.split(folder.current)

    def save_model(self, save_name, save_path):
        """USB's save, written atomically (the previous file stays until the new one is whole).

        Refuses non-finite weights, so a diverged run never overwrites its last good checkpoint.
        The first ``latest_model.pth`` of a new run puts the run in place of the earlier one
        (:meth:`RunFolder.commit`); later saves go to the run folder itself.
        """
        if not all_finite(model_tensors(self.model) + model_tensors(self.ema_model)):
            raise_diverged(self, "the weights to be checkpointed are not finite", {})
        folder = getattr(self, "run_folder", None)
        if folder is not None:
            save_path = folder.resolve(save_path)  # hooks computed it from the folder before the swap
        names = [save_name]
        if save_name == "latest_model.pth" and getattr(self.args, "keep_checkpoints", False):
            names.append(f"model_it{self.it + 1}.pth")
        paths = [os.path.join(save_path, name) for name in names]
        save_checkpoint(self.get_save_dict(), paths, setting="save_dir")
        if folder is not None and not folder.committed and save_name == "latest_model.pth":
            self._take_over_run_folder(folder)
            paths = [os.path.join(folder.final, name) for name in names]
        for path in paths:
            self.print_fn(f"model saved: {path}")
        if save_name == "latest_model.pth" or getattr(self, "last_checkpoint", None) is None:
            # USB stores it + 1 at a checkpoint: the iterations it holds.
            self.last_checkpoint = (paths[0], int(self.it) + 1)

    def _take_over_run_folder(self, folder: RunFolder) -> None:
        """Swap the new run in (:meth:`RunFolder.commit`) and write there from now on.

        The log file's handle follows the renamed folder; TensorBoard's writer reopens its
        file by name at each flush, so it is closed before the swap and opened again after.
        """
        tb = getattr(self, "tb_log", None)
        writer = getattr(tb, "writer", None) if tb is not None and getattr(tb, "use_tensorboard", False) else None
        relative = os.path.relpath(writer.log_dir, folder.current) if writer is not None else None
        if writer is not None:
            writer.close()
        try:
            folder.commit()
        finally:
            self.save_dir, self.save_name = os.path.split(folder.current)
            if writer is not None:
                from torch.utils.tensorboard import SummaryWriter

                tb.writer = SummaryWriter(os.path.join(folder.current, relative))

    def load_model(self, load_path):
        with cuda_calls_to(self.device):
            try:
                checkpoint = super().load_model(load_path)
            except RuntimeError as error:
                # Checkpoints saved before run_settings was recorded reach here on a mismatch.
                first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
                raise CheckpointError(
                    f"checkpoint {load_path} (load_path) does not fit this run's model or optimiser ({first}); "
                    "it was probably saved by a run with other settings (algorithm, adaptor, net, num_classes, "
                    "img_size): resume with those, or start a new run (resume: False)"
                ) from error
        # Training time of the runs before this one; wall_s adds this run's (older checkpoints: unknown, 0).
        self.resumed_wall_s = float(checkpoint.get(WALL_KEY, 0.0) or 0.0)
        if "rng" in checkpoint:
            # A checkpoint of this plugin. USB stores epoch + 1 even mid-epoch;
            # continue inside the epoch instead (USB's "it" counts the completed
            # iterations), skipping the batches of it already trained on.
            done = int(checkpoint["it"])
            self.start_epoch = self.epoch = done // self.num_iter_per_epoch
            into_epoch = done % self.num_iter_per_epoch
            for key in ("train_lb", "train_ulb"):
                loader = self.loader_dict.get(key)
                if loader is not None and isinstance(loader.sampler, ResumableSampler):
                    loader.sampler.skip = into_epoch * loader.batch_size
            restore_rng_state(decode(checkpoint["rng"]))
        return checkpoint

    # ---- evaluation -------------------------------------------------------
    @torch.no_grad()
    def predict(self, eval_dest: str = "eval", out_key: str = "logits") -> Tuple[np.ndarray, np.ndarray]:
        """Logits of the current (EMA-applied by the caller) model on one loader.

        Returns:
            ``(logits (n, C), targets (n,))`` with ``-1`` for unknown targets.
        """
        logits_all: List[np.ndarray] = []
        targets_all: List[np.ndarray] = []
        loader = self.loader_dict[eval_dest]
        for data in tqdm(loader, desc=f"evaluate {eval_dest}", leave=False, disable=None):
            x = to_device(data["x_lb"], self.device)
            logits_all.append(self.model(x)[out_key].float().cpu().numpy())
            targets_all.append(np.asarray(data["y_lb"]).reshape(-1))
        return np.concatenate(logits_all), np.concatenate(targets_all).astype(np.int64)

    def evaluates(self) -> bool:
        """Whether this process runs evaluations: always in one process; rank 0 of each node when distributed.

        USB's ``EvaluationHook`` evaluates on every rank, but only a node's rank 0
        logs, keeps the best model and writes results (the same test as
        ``ResultsHook``). The other ranks would compute the same scores on the same
        weights for nothing, competing for the cores with rank 0 on a CPU machine.
        """
        return not self.distributed or self.rank % self.ngpus_per_node == 0

    def evaluate(self, eval_dest: str = "eval", out_key: str = "logits", return_logits: bool = False):
        if not self.evaluates() and not return_logits:
            # The keys USB's hooks read, as NaN: EvaluationHook's best-model test
            # (NaN > best is False) and the logs, which these ranks do not write.
            # Skipping is safe for DDP: rank 0's eval-mode forward under no_grad runs no
            # collective (broadcast_buffers=False, usb_asd.device), so nothing waits on the
            # others; they go on to the next step's collectives and wait there for rank 0.
            return {f"{eval_dest}/{key}": float("nan") for key in SCORE_KEYS}
        self.model.eval()
        self.ema.apply_shadow()
        try:
            logits, y_true = self.predict(eval_dest, out_key)
        finally:
            self.ema.restore()
            self.model.train()
        eval_dict = score_predictions(logits, y_true, prefix=eval_dest)
        if eval_dest == "eval":  # kept for the degenerate-clusters check of the final model (ResultsHook)
            self.last_eval_cluster_sizes = np.bincount(logits.argmax(axis=1), minlength=logits.shape[1])
        if return_logits:
            eval_dict[f"{eval_dest}/logits"] = logits
        return eval_dict


def check_cluster_count(args, pool_size: int) -> None:
    """Refuse a clustering run that asks for more clusters than the data can hold, naming the real bound.

    Args:
        args: The run's settings (``num_classes``; ``adaptor`` and ``asd_num_instances`` for ASD,
            which draws ``n_l`` images of the pool per round, ``n_l = 4 x num_classes`` unless
            ``asd_num_instances`` is set).
        pool_size: Images in the training pool.

    Raises:
        ConfigError: ``num_classes`` (or ASD's draw) above what the pool holds, with the largest
            value that fits.
    """
    k = int(args.num_classes)
    where = f"dataset '{args.dataset}' ({args.data_dir})" if args.dataset == "folder" else f"dataset '{args.dataset}'"
    if getattr(args, "adaptor", None) == "asd":
        given = int(getattr(args, "asd_num_instances", 0) or 0)
        if not given and 4 * k > pool_size:
            other = (f", or keep num_classes: {k} and set asd_num_instances between {k} and {pool_size}"
                     if k <= pool_size else "")
            raise ConfigError(
                f"num_classes is {k} but {where} has {pool_size} training images: ASD draws 4 x num_classes"
                f" = {4 * k} images per round, so num_classes can be at most {pool_size // 4}{other}"
            )
        if given and given > pool_size:
            raise ConfigError(
                f"asd_num_instances is {given} (images drawn per round), but {where} has "
                f"{pool_size} training images; use asd_num_instances <= {pool_size}"
            )
    if k > pool_size:
        raise ConfigError(f"num_classes is {k} but {where} has {pool_size} training images; "
                          f"num_classes can be at most {pool_size}")


def check_data_fits(args, splits, needs_labelled_split: bool) -> str:
    """The checks of a run's settings against its data; the augmentation kind to use.

    Args:
        args: The run's settings.
        splits: The data set (:class:`~usb_asd.data.splits.ImageSplits`).
        needs_labelled_split: Whether the learner trains on USB's labelled split (a label-building
            adaptor says no).

    Returns:
        ``image_kind`` as the run uses it.

    Raises:
        ConfigError: ``num_classes`` against the data set's classes or pool, ``image_kind``, or
            ``num_labels: 0`` for a learner that needs labels.
    """
    num_labels = int(args.num_labels or 0)
    # Training on labels needs one output per class; a label-free run may ask
    # for any number of clusters (ACC / NMI / ARI handle k != #classes).
    if num_labels != 0 and splits.num_classes != args.num_classes:
        raise ConfigError(
            f"num_classes is {args.num_classes} but dataset '{args.dataset}' has "
            f"{splits.num_classes} classes; set num_classes: {splits.num_classes}"
        )
    kind = getattr(args, "image_kind", None) or DATASETS[args.dataset].kind
    if kind == AUTO_KIND:
        kind = detect_image_kind(len(splits.train_images), lambda i: _pixels(splits.train_images[i]))
        args.image_kind = kind  # the checkpoint records the policy the run trained with
        log.info("image_kind: auto -> %s (read from the images, usb_asd.data.image_kind)", kind)
    if kind not in IMAGE_KINDS:
        raise ConfigError(f"image_kind must be one of {IMAGE_KINDS} or {AUTO_KIND!r}, got {kind!r}")
    if num_labels == 0 and needs_labelled_split:
        raise ConfigError(
            f"num_labels is 0 but learner '{args.algorithm}' trains on a labelled split; "
            "give num_labels > 0, or let a label-free adaptor (e.g. ASD) build the labels"
        )
    if num_labels == 0:
        check_cluster_count(args, len(splits.train_targets) + len(splits.extra_train_images or ()))
    return kind


#: The scores of an evaluation, each key prefixed by its split (``eval/acc``).
SCORE_KEYS = ("loss", "top-1-acc", "balanced_acc", "precision", "recall", "F1", "acc", "nmi", "ari")


def score_predictions(logits: np.ndarray, y_true: np.ndarray, prefix: str = "eval") -> Dict[str, float]:
    """USB's evaluation scores plus clustering scores, from logits.

    Args:
        logits: ``(n, C)`` model outputs; the prediction is the argmax.
        y_true: ``(n,)`` classes, ``-1`` where unknown.
        prefix: Key prefix (USB's ``eval_dest``).

    Returns:
        ``{prefix}/loss``, ``top-1-acc``, ``balanced_acc``, ``precision``,
        ``recall``, ``F1`` (USB's keys) and ``acc``, ``nmi``, ``ari``; NaN for every
        score when some targets are unknown.
    """
    y_pred = logits.argmax(axis=1)
    if len(y_true) == 0 or np.any(y_true < 0):
        return {f"{prefix}/{k}": float("nan") for k in SCORE_KEYS}
    scores = clustering_scores(y_true, y_pred)
    num_out = logits.shape[1]
    loss = float("nan")
    if y_true.max() < num_out:
        loss = float(F.cross_entropy(torch.from_numpy(logits), torch.from_numpy(y_true)).item())
    return {
        f"{prefix}/loss": loss,
        f"{prefix}/top-1-acc": float(accuracy_score(y_true, y_pred)),
        f"{prefix}/balanced_acc": float(balanced_accuracy_score(y_true, y_pred)),
        f"{prefix}/precision": float(precision_score(y_true, y_pred, average="macro", zero_division=0)),
        f"{prefix}/recall": float(recall_score(y_true, y_pred, average="macro", zero_division=0)),
        f"{prefix}/F1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
        f"{prefix}/acc": scores["acc"],
        f"{prefix}/nmi": scores["nmi"],
        f"{prefix}/ari": scores["ari"],
    }


_COMPOSED: Dict[Tuple[type, ...], type] = {}


def compose_learner(algorithm: str, mixins: Tuple[type, ...] = ()) -> Type:
    """The class ``(*mixins, PluginLearnerMixin, USB learner)`` for ``algorithm``.

    Args:
        algorithm: Name under which USB registered the learner.
        mixins: Extra behaviour (adaptors, regularisers) placed first in the MRO.

    Returns:
        The composed class (cached, so pickling in spawned processes sees one class).
    """
    if algorithm in UNSUPPORTED_LEARNERS:
        raise ConfigError(f"algorithm '{algorithm}' is not supported by usb_asd: {UNSUPPORTED_LEARNERS[algorithm]}")
    if algorithm not in ALGORITHMS:
        raise ConfigError(f"algorithm '{algorithm}' is not a USB learner; known: {sorted(ALGORITHMS.keys())}")
    base = ALGORITHMS[algorithm]
    key = (*mixins, PluginLearnerMixin, base)
    if key not in _COMPOSED:
        name = "".join(m.__name__.replace("Mixin", "") for m in mixins) + base.__name__
        _COMPOSED[key] = type(name, key, {})
    return _COMPOSED[key]


def build_learner(args, net_builder, tb_log=None, logger=None, mixins: Tuple[type, ...] = ()):
    """Instantiate the composed learner for ``args.algorithm``."""
    cls = compose_learner(args.algorithm, mixins)
    return cls(args=args, net_builder=net_builder, tb_log=tb_log, logger=logger)
