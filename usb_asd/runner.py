"""Starting a run: USB's ``main`` / ``main_worker`` made device-aware.

Mirrors USB's ``train.py`` (save-path handling, seeding, distributed start,
logging), with these differences: placement goes through
:mod:`usb_asd.device` (CPU or CUDA); ``multiprocessing_distributed`` starts
``num_cpu_procs`` gloo processes when there is no GPU; everything is checked
before anything is written (:mod:`usb_asd.preflight`), and a new run takes the
place of an earlier one in ``save_dir/save_name`` only at its first checkpoint
(:mod:`usb_asd.core.run_folder`).
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import socket
import warnings
from typing import Any, Dict, Optional, Tuple

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from . import plugin
from .budget import resolve_run_budget
from .config import ConfigError
from .core.batchnorm_recalibration import resolve_bn_recalibration
from .core.pretrained import PretrainedNetBuilder
from .core.run_folder import RunFolder, recover
from .core.safety import check_run_is_sound
from .data.pool_check import forget_prepared
from .device import distributed_backend, limit_process_threads, place_model, processes_per_node
from .preflight import check_asd_schedule, check_run, check_settings

log = logging.getLogger("usb_asd")


def free_port() -> int:
    """A free TCP port on the loopback interface for the process group."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


#: ``adaptor:`` values and the mixins they compose with the learner: ASD, and the self-labelling
#: baseline (a learner trained on the most confident images of a given clustering).
ADAPTORS = ("asd", "selflabel")


def chosen_adaptor(args: argparse.Namespace) -> Optional[str]:
    """The ``adaptor:`` value, with USB-style spellings of "none" read as no adaptor."""
    adaptor = getattr(args, "adaptor", None)
    return None if adaptor in (None, "", "none", "None") else adaptor


def learner_mixins(args: argparse.Namespace) -> tuple:
    """Mixins selected by the config: the adaptor (``adaptor: asd`` or ``selflabel``) first, then regularisers
    (``supercm: True``)."""
    from .outputs.clustering_run import ClusteringOutputsMixin, is_clustering_run

    # Clustering runs write assignments.csv / clusters.png and keep the final model only.
    mixins: list = [ClusteringOutputsMixin] if is_clustering_run(args) else []
    adaptor = chosen_adaptor(args)
    if adaptor is not None:
        if adaptor not in ADAPTORS:
            raise ConfigError(f"adaptor must be one of {ADAPTORS} or None, got {adaptor!r}")
        if adaptor == "asd":
            from .asd.adaptor import ASDAdaptorMixin

            mixins.append(ASDAdaptorMixin)
        else:
            from .selflabel.adaptor import SelfLabelAdaptorMixin

            mixins.append(SelfLabelAdaptorMixin)
    if getattr(args, "supercm", False):
        from .supercm.regulariser import SuperCMRegulariserMixin

        # The standalone supercm learner already is the clustering module.
        if args.algorithm != "supercm":
            mixins.append(SuperCMRegulariserMixin)
    return tuple(mixins)


def validate_args(args: argparse.Namespace) -> None:
    """Checks of the settings USB makes late or not at all, made before anything is written.

    Counts, ranges, names (``dataset``, ``net``, ``optim``, the learner), the ASD keys and the
    device (:func:`usb_asd.preflight.check_settings`), ASD's schedule
    (:func:`usb_asd.preflight.check_asd_schedule`), and the checkpoint a resume loads.
    The checks that read the data and the weights follow in :func:`usb_asd.preflight.check_run`.

    Raises:
        UserError: naming the key (:class:`ConfigError`) or the checkpoint (``CheckpointError``).
    """
    if args.epoch < 1 or args.num_train_iter % args.epoch != 0:
        raise ConfigError(
            f"num_train_iter ({args.num_train_iter}) must be a positive multiple of epoch ({args.epoch})"
        )
    for key in ("num_train_iter", "batch_size", "eval_batch_size", "uratio", "num_classes"):
        if getattr(args, key) < 1:
            raise ConfigError(f"{key} must be >= 1, got {getattr(args, key)}")
    learner_mixins(args)  # rejects an unknown adaptor before anything is written
    if args.num_labels < -1:
        raise ConfigError(f"num_labels must be >= 0, or -1 for all training labels; got {args.num_labels}")
    if getattr(args, "da_target_dataset", None) and chosen_adaptor(args) is not None:
        raise ConfigError("da_target_dataset (domain adaptation) and adaptor cannot be combined: "
                         "the adaptor builds labels for one unlabelled dataset")
    check_settings(args)  # before the checks below compute with the values (ema_m ** num_train_iter)
    check_asd_schedule(args)
    check_run_is_sound(args)  # a damaged or missing load_path is named with an intact older checkpoint, if any
    if args.resume and not args.load_path:
        raise ConfigError("resume: True needs load_path (a checkpoint to resume from)")
    if args.resume and not os.path.isfile(args.load_path):
        raise ConfigError(f"load_path {args.load_path!r} does not exist (resume: True)")


def resolve_settings(args: argparse.Namespace) -> None:
    """Settings whose value depends on the run, made concrete so the checkpoint and results.json say what ran.

    ``bn_recalibration: auto`` becomes ``pool`` or ``none``
    (:func:`usb_asd.core.batchnorm_recalibration.resolve_bn_recalibration`).
    """
    value = getattr(args, "bn_recalibration", "auto")
    args.bn_recalibration = resolve_bn_recalibration(value, chosen_adaptor(args),
                                                     getattr(args, "da_target_dataset", None))
    if value != args.bn_recalibration:
        log.info("bn_recalibration: %s -> %s", value, args.bn_recalibration)


def resumes_in_place(args: argparse.Namespace, save_path: str) -> bool:
    """Whether a run continues the run in its own folder (``resume: True`` from a checkpoint inside it)."""
    if not args.resume or not args.load_path:
        return False
    return os.path.realpath(os.path.dirname(os.path.abspath(args.load_path))) == os.path.realpath(save_path)


def plan_run_folder(args: argparse.Namespace) -> RunFolder:
    """Where the run writes: its own folder when it resumes the run there, else a new folder swapped in later.

    Raises:
        ConfigError: ``overwrite: False`` and the folder already holds a run.
    """
    save_path = os.path.join(args.save_dir, args.save_name)
    in_place = resumes_in_place(args, save_path)
    if not in_place and os.path.lexists(save_path) and not args.overwrite:
        raise ConfigError(f"{save_path} (save_dir/save_name) already holds a run and overwrite is False: set "
                          "overwrite: True to replace it (only once the new run has a checkpoint), choose another "
                          "save_name, or resume it (resume: True, load_path: its latest_model.pth)")
    return RunFolder(save_path, staged=not in_place)


def main(args: argparse.Namespace, extra_mixins: Tuple[type, ...] = ()) -> Optional[Dict[str, Any]]:
    """Run one training job as USB's ``train.py`` would; returns the results record on rank 0.

    Everything is checked before anything is written (:func:`usb_asd.preflight.check_run`). A
    new run replaces an earlier run in ``save_dir/save_name`` only once it has written its
    first checkpoint (:mod:`usb_asd.core.run_folder`); a failure before that leaves the
    earlier run as it was.

    Args:
        args: The run's settings (:func:`usb_asd.config.parse_config`).
        extra_mixins: Behaviour composed before the config's own mixins (e.g.
            the grid runner's evaluation recorder); classes defined at module
            level, so spawned processes can unpickle them.
    """
    plugin.register()
    save_path = os.path.join(args.save_dir, args.save_name)
    for done in recover(save_path):
        log.warning("save folder %s: %s", save_path, done)
    try:
        filled = resolve_run_budget(args)
        if filled:
            log.info("auto budget: %s", ", ".join(f"{k} {v}" for k, v in filled.items()))
        validate_args(args)
        resolve_settings(args)
        check_run(args)
        folder = plan_run_folder(args)
        if args.gpu is not None:
            warnings.warn("You have chosen a specific GPU. This will completely disable data parallelism.")
        args.distributed = args.world_size > 1 or args.multiprocessing_distributed
        procs = processes_per_node(args.num_cpu_procs) if args.multiprocessing_distributed else 1
        args.procs_per_node = procs
        if args.distributed:
            args.dist_backend = distributed_backend(args.dist_backend)
            if args.dist_url == "tcp://127.0.0.1:11111":
                args.dist_url = f"tcp://127.0.0.1:{free_port()}"
        try:
            folder.prepare()
            if args.multiprocessing_distributed:
                args.world_size = procs * args.world_size
                mp.spawn(main_worker, nprocs=procs, args=(procs, args, tuple(extra_mixins), folder))
                return _read_results(save_path)
            return main_worker(args.gpu, procs, args, tuple(extra_mixins), folder)
        finally:
            # Before its first checkpoint a new run leaves nothing; after it, the incoming folder is
            # gone (or holds the earlier run's remains). A resumed run keeps its folder either way.
            folder.abandon()
    finally:
        forget_prepared()


def _read_results(save_path: str) -> Optional[Dict[str, Any]]:
    import json

    path = os.path.join(save_path, "results.json")
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def main_worker(
    local_index: Optional[int], procs: int, args: argparse.Namespace, extra_mixins: Tuple[type, ...] = (),
    folder: Optional[RunFolder] = None,
) -> Optional[Dict[str, Any]]:
    """One training process (USB's ``main_worker``).

    Args:
        local_index: The GPU (or CPU worker) index of a spawned process; ``args.gpu`` otherwise.
        procs: Processes on this node.
        args: The run's settings, checked (:func:`main`).
        extra_mixins: Behaviour composed before the config's own mixins.
        folder: Where the run writes (:func:`plan_run_folder`); default: ``save_dir/save_name`` itself.
    """
    from semilearn.core.utils import TBLog, count_parameters, get_logger, get_net_builder

    from .core.learner import build_learner
    from .device import cuda_available

    plugin.register()
    if args.multiprocessing_distributed:
        # local_index is the spawn index: a GPU on CUDA machines, a CPU worker otherwise.
        args.gpu = local_index if cuda_available() else None
        args.rank = args.rank * procs + local_index
        if procs > 1:  # the processes share the node's cores (usb_asd.device.threads_per_process)
            limit_process_threads(procs)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = True

    if args.distributed:
        dist.init_process_group(
            backend=args.dist_backend, init_method=args.dist_url, world_size=args.world_size, rank=args.rank
        )
    if folder is None:
        folder = RunFolder(os.path.join(args.save_dir, args.save_name), staged=False)
    save_path = folder.current  # open log and event files follow the folder when it is swapped in
    is_main = args.rank % procs == 0
    tb_log = TBLog(save_path, "tensorboard", use_tensorboard=args.use_tensorboard) if is_main else None
    handlers_before = list(logging.getLogger(args.save_name).handlers)
    logger = get_logger(args.save_name, save_path, "INFO" if is_main else "WARNING")
    # USB's get_logger leaves the level to logging.basicConfig, a no-op when the
    # root logger is already configured (pytest, notebooks): set it explicitly.
    logger.setLevel(logging.INFO if is_main else logging.WARNING)
    try:
        # Pretrained weights are loaded by the plugin (weights_only, https, checksum), never by USB's builder.
        net_builder = PretrainedNetBuilder(get_net_builder(args.net, args.net_from_name), args)
        learner = build_learner(args, net_builder, tb_log, logger, mixins=tuple(extra_mixins) + learner_mixins(args))
        learner.use_run_folder(folder)
        logger.info(f"Device: {learner.device}; trainable parameters: {count_parameters(learner.model)}")
        learner.model = place_model(args, learner.model, learner.device)
        learner.ema_model = place_model(args, learner.ema_model, learner.device)
        logger.info(f"Arguments: {learner.args}")
        if args.resume:
            learner.load_model(args.load_path)
            logger.info(f"Resumed from {args.load_path} at iteration {learner.it}")
        logger.info("Model training")
        learner.train()
        for key, item in learner.results_dict.items():
            logger.info(f"Model result - {key} : {item}")
        if is_main:
            learner.save_model("latest_model.pth", os.path.join(learner.save_dir, learner.save_name))
        return getattr(learner, "results_record", None)
    finally:
        # USB's get_logger adds a file handler per call: close this run's, so a later run in this
        # process (compare, choose_k, tests) does not write into this run's log.
        for handler in [h for h in logger.handlers if h not in handlers_before]:
            logger.removeHandler(handler)
            handler.close()
        # The background re-clustering worker (asd_recluster_lag) must not outlive its run: several runs may
        # share one Python process (benchmarks, the compare command). After the final save, which reads a
        # pending fit's result.
        from .asd.background import shutdown_worker

        shutdown_worker()
        if args.distributed and dist.is_initialized():
            dist.destroy_process_group()
