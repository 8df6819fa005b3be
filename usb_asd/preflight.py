"""Every check a run makes before it writes anything, so bad input costs nothing.

:func:`usb_asd.runner.main` makes them before the run's folder is touched. In order:

1. the settings alone (:func:`check_settings`, called by :func:`usb_asd.runner.validate_args`):
   values out of range (``lr <= 0``, ``img_size: 0``, ...), an unknown ``dataset``, ``net``,
   ``optim`` or learner, the ASD adaptor's keys (``num_classes: 1``);
2. the device (``gpu: 3`` on a machine without that GPU), then ASD's schedule
   (:func:`check_asd_schedule`: cluster labels switch on before the last step);
3. (:func:`check_run` from here on) the pretrained weights (:mod:`usb_asd.core.pretrained`):
   https or a local file, the checksum, a state dict inside, nothing run;
4. the data: the folder listed once per real file, every image decoded
   (:mod:`usb_asd.data.pool_check`), the settings against the data
   (``num_classes`` against the pool), a given clustering against the pool
   (``asd_init_assignments``, ``selflabel_assignments``); the fingerprints of the
   pool and of the given clustering go on ``args.data_fingerprint`` for the checkpoints;
5. the checkpoint to resume: whole, a training checkpoint, saved with the same
   settings (ASD's included), trained on the same data.

Each failure is a :class:`~usb_asd.errors.UserError` naming the setting or
file and what would be valid, which the commands print on one line.
"""

from __future__ import annotations

import argparse
import difflib
import logging
from inspect import signature
from typing import Dict, List, Optional, Sequence

from .config import ConfigError
from .core.checkpoints import CheckpointError, check_resume_data, read_checkpoint
from .core.pretrained import check_pretrained, check_sha256_setting

log = logging.getLogger("usb_asd")

#: Data sets USB's own ``get_dataset`` reads (semilearn 0.3.2); the plugin's are in ``usb_asd.data.registry``.
USB_DATASETS = (
    "eurosat", "tissuemnist", "semi_aves", "semi_aves_out", "cifar10", "cifar100", "svhn", "stl10",
    "imagenet", "imagenet127", "esc50", "fsdnoisy", "gtzan", "superbks", "superbsi", "urbansound8k",
    "aclImdb", "ag_news", "amazon_review", "dbpedia", "yahoo_answers", "yelp_review",
)

#: Optimisers USB's ``get_optimizer`` builds.
OPTIMISERS = ("SGD", "AdamW")


def _suggest(value: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(str(value), list(known), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}? " if close else ""


def known_datasets() -> List[str]:
    """Every ``dataset:`` value a run can read: the plugin's and USB's own."""
    from .data.registry import DATASETS

    return sorted(set(DATASETS) | set(USB_DATASETS))


def known_nets(from_name: bool) -> List[str]:
    """Names ``net:`` may take: torchvision's models (``net_from_name: True``) or USB's and the plugin's nets."""
    if from_name:
        import torchvision.models as nets
    else:
        import semilearn.nets as nets

        from . import plugin

        plugin.register()  # the plugin's nets live in USB's namespace
    return sorted(name for name in dir(nets) if name.islower() and not name.startswith("_")
                  and callable(getattr(nets, name)))


def _check_range(args: argparse.Namespace) -> None:
    """Numeric settings USB takes without a check and fails on late, or trains nonsense with."""
    def need(ok: bool, key: str, what: str) -> None:
        if not ok:
            raise ConfigError(f"key '{key}' must be {what}, got {getattr(args, key)!r}")

    need(args.lr > 0, "lr", "a positive number (the learning rate)")
    need(args.img_size >= 1, "img_size", "a positive number of pixels (the side images are resized to)")
    need(0 < args.crop_ratio <= 1, "crop_ratio", "in (0, 1]")
    need(0 <= args.ema_m < 1, "ema_m", "in [0, 1)")
    need(args.momentum >= 0, "momentum", ">= 0")
    need(args.weight_decay >= 0, "weight_decay", ">= 0")
    need(args.clip_grad >= 0, "clip_grad", ">= 0 (0 is off)")
    need(args.num_workers >= 0, "num_workers", ">= 0")
    need(args.num_warmup_iter >= 0, "num_warmup_iter", ">= 0")
    for key in ("num_eval_iter", "num_log_iter", "world_size", "num_cpu_procs"):
        need(getattr(args, key) >= 1, key, ">= 1")
    need(args.rank >= 0, "rank", ">= 0")
    need(args.ulb_loss_ratio >= 0, "ulb_loss_ratio", ">= 0")
    if args.optim not in OPTIMISERS:
        raise ConfigError(f"key 'optim': USB builds {' or '.join(OPTIMISERS)}, got {args.optim!r}")


def _check_names(args: argparse.Namespace) -> None:
    """``dataset``, ``da_target_dataset`` and ``net`` name something that exists."""
    known = known_datasets()
    for key in ("dataset", "da_target_dataset"):
        value = getattr(args, key, None)
        if key == "da_target_dataset" and not value:
            continue
        if value not in known:
            raise ConfigError(f"key '{key}': unknown data set {value!r}; {_suggest(value, known)}"
                              f"known: {', '.join(known)}")
    nets = known_nets(bool(args.net_from_name))
    if args.net not in nets:
        where = "torchvision's models (net_from_name: True)" if args.net_from_name else "USB's and the plugin's nets"
        raise ConfigError(f"key 'net': unknown net {args.net!r} among {where}; {_suggest(args.net, nets)}"
                          f"known: {', '.join(nets[:40])}{' ...' if len(nets) > 40 else ''}")


def _check_bn_recalibration(args: argparse.Namespace) -> None:
    """``bn_recalibration`` names a way the final model's batch-norm statistics are set."""
    from .core.batchnorm_recalibration import BN_RECALIBRATIONS

    value = getattr(args, "bn_recalibration", "auto")
    if value not in BN_RECALIBRATIONS:
        raise ConfigError(f"key 'bn_recalibration': expected one of {', '.join(BN_RECALIBRATIONS)}, got {value!r}")


def _check_learner(args: argparse.Namespace) -> None:
    """The learner exists and the plugin can compose it (``dash`` and ``crmatch`` it cannot)."""
    from .core.learner import compose_learner
    from .runner import learner_mixins

    compose_learner(args.algorithm, learner_mixins(args))


def _check_asd(args: argparse.Namespace) -> None:
    """The ASD adaptor's keys, as the adaptor itself will read them."""
    from .asd.adaptor import asd_settings_from_args
    from .core.learner import compose_learner
    from .runner import chosen_adaptor, learner_mixins

    if chosen_adaptor(args) != "asd":
        return
    try:
        asd_settings_from_args(args)
    except ValueError as error:  # the adaptor's own checks (num_classes >= 2, n_l >= k, names, ranges)
        raise ConfigError(str(error)) from error
    cls = compose_learner(args.algorithm, learner_mixins(args))
    if args.asd_transitions == "views" and "x_ulb_s" not in signature(cls.train_step).parameters:
        raise ConfigError(f"asd_transitions: views reads the strong unlabelled view (x_ulb_s), which algorithm "
                          f"'{args.algorithm}' does not use; set asd_transitions: visits")


def check_asd_schedule(args: argparse.Namespace) -> None:
    """Refuse an ASD run that would end before its learner trains on cluster labels.

    ASD trains on cluster labels only after ``asd_warmup_iter``, and only once a first
    clustering map is installed (:func:`usb_asd.asd.schedule.latest_switch_on`); both must
    come before ``num_train_iter``, or the run is a plain learner that reports itself as ASD.

    Raises:
        ConfigError: ``asd_warmup_iter >= num_train_iter``, or a latest first switch-on of
            cluster labels at or after the last step, naming the keys to change.
    """
    from .asd.schedule import latest_switch_on
    from .runner import chosen_adaptor

    warmup = getattr(args, "asd_warmup_iter", None)
    if chosen_adaptor(args) != "asd" or warmup is None:
        return
    if warmup >= args.num_train_iter:
        raise ConfigError(
            f"asd_warmup_iter ({warmup}) must be smaller than num_train_iter ({args.num_train_iter}): "
            "adaptor: asd trains on its cluster labels only after the warm-up, so this run would end "
            "before ever using them; lower asd_warmup_iter or raise num_train_iter"
        )
    cluster_iter = getattr(args, "asd_cluster_iter", None)
    lag = getattr(args, "asd_recluster_lag", 0) or 0
    if cluster_iter is None or cluster_iter < 1:
        return  # asd_settings_from_args names that key
    latest = latest_switch_on(args.asd_warmup_iter, cluster_iter, lag)
    if latest >= args.num_train_iter:
        raise ConfigError(
            f"ASD's cluster labels might switch on only after step {latest} (asd_warmup_iter "
            f"({args.asd_warmup_iter}), or the first map: asd_cluster_iter ({cluster_iter}) plus "
            f"asd_recluster_lag ({lag})), not before num_train_iter ({args.num_train_iter}): the learner "
            "might never train on cluster labels; lower asd_warmup_iter, asd_cluster_iter or "
            "asd_recluster_lag, or raise num_train_iter"
        )


#: The key naming a given clustering, per adaptor that reads one.
GIVEN_CLUSTERING_KEYS = {"asd": "asd_init_assignments", "selflabel": "selflabel_assignments"}


def _check_given_clustering_keys(args: argparse.Namespace) -> None:
    """A given clustering is named only for the adaptor that reads it, and the self-labelling adaptor has one."""
    from .runner import chosen_adaptor

    adaptor = chosen_adaptor(args)
    for owner, key in GIVEN_CLUSTERING_KEYS.items():
        if getattr(args, key, None) and adaptor != owner:
            raise ConfigError(f"key '{key}' is read by adaptor: {owner}, but this run has adaptor: {adaptor}; "
                              f"set adaptor: {owner} or leave {key} out")
    if adaptor == "selflabel":
        from .selflabel.adaptor import check_selflabel_settings

        try:
            check_selflabel_settings(args)
        except ValueError as error:
            raise ConfigError(str(error)) from error


def pool_image_names(splits) -> List[str]:
    """What names each image of the training pool a clustering run trains on (its path, or its index).

    The same names the run writes in ``assignments.csv``: the pool is the training images
    followed by the extra unlabelled ones (``usb_asd.data.usb_datasets.build_usb_datasets``).
    """
    from .data.usb_datasets import ConcatImages
    from .outputs.assignments import image_names

    store = splits.train_images
    if splits.extra_train_images is not None:
        store = ConcatImages([splits.train_images, splits.extra_train_images])
    return image_names(store, len(store))


def check_given_clustering(args: argparse.Namespace, splits) -> Optional[Dict]:
    """Read the run's given clustering (``asd_init_assignments``, ``selflabel_assignments``) against its pool.

    Returns:
        Its fingerprint (:func:`usb_asd.asd.init_assignments.given_fingerprint`), or None when the run names none.

    Raises:
        UserError: the file cannot be used (:class:`usb_asd.asd.init_assignments.AssignmentsFileError`),
            or it cannot be self-labelled from (no confidences to rank each cluster's images by).
    """
    from .asd.init_assignments import given_fingerprint, read_given_assignments
    from .runner import chosen_adaptor

    key = GIVEN_CLUSTERING_KEYS.get(chosen_adaptor(args) or "")
    path = getattr(args, key, None) if key else None
    if not path:
        return None
    given = read_given_assignments(path, pool_image_names(splits), int(args.num_classes), key)
    if key == "selflabel_assignments":
        from .selflabel.adaptor import selflabel_indices

        selflabel_indices(given, args)
    return given_fingerprint(given)


def check_device(args: argparse.Namespace) -> None:
    """``gpu`` names a device this machine has (``multiprocessing_distributed`` picks its own).

    Raises:
        ConfigError: naming ``gpu`` and how many CUDA devices there are.
    """
    from .device import resolve_device

    if args.gpu is None or args.multiprocessing_distributed:
        return
    try:
        resolve_device(args.gpu)
    except ValueError as error:
        raise ConfigError(str(error)) from error


def check_settings(args: argparse.Namespace) -> None:
    """Checks of the settings alone (no file read).

    Raises:
        ConfigError: naming the key and what would be valid.
    """
    _check_range(args)
    _check_names(args)
    _check_bn_recalibration(args)
    _check_learner(args)
    check_sha256_setting(getattr(args, "pretrain_sha256", None))
    _check_asd(args)
    _check_given_clustering_keys(args)
    check_device(args)


def check_data(args: argparse.Namespace) -> Optional[Dict[str, Dict]]:
    """List and decode the run's data, check the settings against it, remember it for the run.

    Sets ``args.data_fingerprint`` (``{"pool": ..., "target": ...}``) and
    ``args.skipped_images`` (files left out by ``skip_bad_images: True``).

    Returns:
        The fingerprints, or ``None`` for data sets USB reads itself.

    Raises:
        UserError: a missing or malformed folder, an image that cannot be decoded, a setting the
            data contradicts (``num_classes``), a domain-adaptation pair with other classes.
    """
    from .core.learner import check_data_fits
    from .data.pool_check import pool_fingerprint, prepare_splits
    from .data.registry import DATASETS, dataset_root
    from .runner import chosen_adaptor

    if args.dataset not in DATASETS:
        return None
    skip = bool(getattr(args, "skip_bad_images", False))
    check = bool(getattr(args, "check_images", True))
    skipped: List[str] = []

    def prepare(name: str, data_dir: str):
        splits, bad = prepare_splits(name, data_dir, args.num_classes, skip, check=check)
        skipped.extend(bad)
        root = dataset_root(DATASETS[name], data_dir) if DATASETS[name].needs_dir else ""
        return splits, pool_fingerprint(splits, root)

    splits, pool = prepare(args.dataset, args.data_dir)
    fingerprints = {"pool": pool}
    check_data_fits(args, splits, needs_labelled_split=chosen_adaptor(args) is None)
    given = check_given_clustering(args, splits)
    if given is not None:
        fingerprints["init"] = given
    target_name = getattr(args, "da_target_dataset", None)
    if target_name:
        if target_name not in DATASETS:
            raise ConfigError(f"key 'da_target_dataset': {target_name!r} is read by USB itself; domain adaptation "
                              f"reads the plugin's data sets: {', '.join(sorted(DATASETS))}")
        target, fingerprints["target"] = prepare(target_name, args.da_target_data_dir or args.data_dir)
        if target.num_classes != splits.num_classes:
            raise ConfigError(f"domain adaptation needs the same classes in both domains: dataset "
                              f"'{args.dataset}' has {splits.num_classes}, da_target_dataset '{target_name}' has "
                              f"{target.num_classes}")
        if int(args.num_labels or 0) == 0:
            raise ConfigError("da_target_dataset is set but num_labels is 0: the source must be labelled (-1: all)")
    if skipped:
        log.warning("skip_bad_images: True: %d image file(s) cannot be decoded and are left out: %s",
                    len(skipped), ", ".join(skipped))
    args.skipped_images = skipped
    args.data_fingerprint = fingerprints
    return fingerprints


def check_resume(args: argparse.Namespace) -> None:
    """The checkpoint a ``resume: True`` run loads was trained on this run's data, by an adaptor like this one.

    (Its integrity and recorded settings were checked with the settings:
    :func:`usb_asd.core.safety.check_run_is_sound`.)

    Raises:
        CheckpointError: other data, or an ASD run resuming a checkpoint without ASD state.
    """
    from .runner import chosen_adaptor

    if not args.resume:
        return
    if chosen_adaptor(args) == "asd" and "asd" not in read_checkpoint(args.load_path):
        raise CheckpointError(f"checkpoint {args.load_path} (load_path) holds no ASD state: it was not saved by an "
                              "adaptor: asd run; resume it without the adaptor, or start a new run (resume: False)")
    fingerprints = getattr(args, "data_fingerprint", None)
    if fingerprints:
        check_resume_data(args.load_path, fingerprints)


def check_run(args: argparse.Namespace) -> None:
    """The checks that read files (steps 3 to 5 of the module docstring), after
    :func:`usb_asd.runner.validate_args`; nothing is written.

    Raises:
        UserError: the first problem found.
    """
    check_pretrained(args)
    check_data(args)
    check_resume(args)
