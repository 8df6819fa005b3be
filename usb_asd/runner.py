"""Starting a run: USB's ``main`` / ``main_worker`` made device-aware.

Mirrors USB's ``train.py`` (save-path handling, seeding, distributed start,
logging), with three differences: placement goes through
:mod:`usb_asd.device` (CPU or CUDA); ``multiprocessing_distributed`` starts
``num_cpu_procs`` gloo processes when there is no GPU; a run that fails before
training removes the save folder it created.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import shutil
import socket
import warnings
from typing import Any, Dict, Optional, Tuple

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from . import plugin
from .config import ConfigError
from .core.safety import check_run_is_sound, prepare_save_folder
from .device import distributed_backend, limit_process_threads, place_model, processes_per_node

log = logging.getLogger("usb_asd")


def free_port() -> int:
    """A free TCP port on the loopback interface for the process group."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


#: ``adaptor:`` values and the mixins they compose with the learner.
ADAPTORS = ("asd",)


def chosen_adaptor(args: argparse.Namespace) -> Optional[str]:
    """The ``adaptor:`` value, with USB-style spellings of "none" read as no adaptor."""
    adaptor = getattr(args, "adaptor", None)
    return None if adaptor in (None, "", "none", "None") else adaptor


def learner_mixins(args: argparse.Namespace) -> tuple:
    """Mixins selected by the config: the adaptor (``adaptor: asd``) first, then regularisers (``supercm: True``)."""
    from .outputs.clustering_run import ClusteringOutputsMixin, is_clustering_run

    # Clustering runs write assignments.csv / clusters.png and keep the final model only.
    mixins: list = [ClusteringOutputsMixin] if is_clustering_run(args) else []
    adaptor = chosen_adaptor(args)
    if adaptor is not None:
        if adaptor != "asd":
            raise ConfigError(f"adaptor must be one of {ADAPTORS} or None, got {adaptor!r}")
        from .asd.adaptor import ASDAdaptorMixin

        mixins.append(ASDAdaptorMixin)
    if getattr(args, "supercm", False):
        from .supercm.regulariser import SuperCMRegulariserMixin

        # The standalone supercm learner already is the clustering module.
        if args.algorithm != "supercm":
            mixins.append(SuperCMRegulariserMixin)
    return tuple(mixins)


def validate_args(args: argparse.Namespace) -> None:
    """Checks USB makes late or not at all, made before anything is written (:class:`ConfigError` naming the key)."""
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
    check_run_is_sound(args)  # a damaged or missing load_path is named with an intact older checkpoint, if any
    if args.resume and not args.load_path:
        raise ConfigError("resume: True needs load_path (a checkpoint to resume from)")
    if args.resume and not os.path.isfile(args.load_path):
        raise ConfigError(f"load_path {args.load_path!r} does not exist (resume: True)")


def main(args: argparse.Namespace, extra_mixins: Tuple[type, ...] = ()) -> Optional[Dict[str, Any]]:
    """Run one training job as USB's ``train.py`` would; returns the results record on rank 0.

    Args:
        args: The run's settings (:func:`usb_asd.config.parse_config`).
        extra_mixins: Behaviour composed before the config's own mixins (e.g.
            the grid runner's evaluation recorder); classes defined at module
            level, so spawned processes can unpickle them.
    """
    plugin.register()
    validate_args(args)
    save_path = os.path.join(args.save_dir, args.save_name)
    if os.path.exists(save_path) and args.overwrite and not args.resume:
        shutil.rmtree(save_path)
    if os.path.exists(save_path) and not args.overwrite and not args.resume:
        raise FileExistsError(f"already existing model: {save_path} (set overwrite: True to replace it)")
    created = not os.path.exists(save_path)
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
        prepare_save_folder(save_path)
        if args.multiprocessing_distributed:
            args.world_size = procs * args.world_size
            mp.spawn(main_worker, nprocs=procs, args=(procs, args, tuple(extra_mixins)))
            return _read_results(save_path)
        return main_worker(args.gpu, procs, args, tuple(extra_mixins))
    except BaseException:
        # Remove only what a run that never trained left (a log); an interrupted
        # training keeps its checkpoints for resume.
        if created and os.path.isdir(save_path) and not _has_outputs(save_path):
            shutil.rmtree(save_path, ignore_errors=True)
        raise


def _has_outputs(save_path: str) -> bool:
    """Whether a save folder holds a checkpoint or results worth keeping."""
    return any(name.endswith(".pth") or name == "results.json" for name in os.listdir(save_path))


def _read_results(save_path: str) -> Optional[Dict[str, Any]]:
    import json

    path = os.path.join(save_path, "results.json")
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def main_worker(
    local_index: Optional[int], procs: int, args: argparse.Namespace, extra_mixins: Tuple[type, ...] = ()
) -> Optional[Dict[str, Any]]:
    """One training process (USB's ``main_worker``)."""
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
    save_path = os.path.join(args.save_dir, args.save_name)
    is_main = args.rank % procs == 0
    tb_log = TBLog(save_path, "tensorboard", use_tensorboard=args.use_tensorboard) if is_main else None
    logger = get_logger(args.save_name, save_path, "INFO" if is_main else "WARNING")
    # USB's get_logger leaves the level to logging.basicConfig, a no-op when the
    # root logger is already configured (pytest, notebooks): set it explicitly.
    logger.setLevel(logging.INFO if is_main else logging.WARNING)
    try:
        net_builder = get_net_builder(args.net, args.net_from_name)
        learner = build_learner(args, net_builder, tb_log, logger, mixins=tuple(extra_mixins) + learner_mixins(args))
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
            learner.save_model("latest_model.pth", save_path)
        return getattr(learner, "results_record", None)
    finally:
        # The background re-clustering worker (asd_recluster_lag) must not outlive its run: several runs may
        # share one Python process (benchmarks, the compare command). After the final save, which reads a
        # pending fit's result.
        from .asd.background import shutdown_worker

        shutdown_worker()
        if args.distributed and dist.is_initialized():
            dist.destroy_process_group()
