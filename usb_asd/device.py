"""CPU and CUDA placement for USB learners.

semilearn 0.3.2 hard-codes CUDA (``send_model_cuda`` refuses to run without a
GPU; ``.cuda(self.gpu)`` in ``process_batch``, ``evaluate`` and several
learners' ``load_model``/``train_step``). The plugin decides the device once,
from USB's own settings (``gpu``, ``multiprocessing_distributed``), and routes
every placement through this module. On CUDA it delegates to USB's own
``send_model_cuda`` so GPU behaviour is unchanged.
"""

from __future__ import annotations

import contextlib
from argparse import Namespace
from typing import Any, Iterator, Optional

import torch
import torch.nn as nn


def cuda_available() -> bool:
    """Whether a usable CUDA device is present (``CUDA_VISIBLE_DEVICES=""`` hides it)."""
    return torch.cuda.is_available() and torch.cuda.device_count() > 0


def resolve_device(gpu: Optional[int]) -> torch.device:
    """The device a process trains on, from USB's ``gpu`` setting.

    Args:
        gpu: USB's ``gpu`` key: a CUDA index, or ``None`` for "all GPUs when
            present" (USB's DataParallel path), which on a machine without CUDA
            means the CPU.

    Returns:
        ``cuda:<gpu>``, ``cuda`` (current device) or ``cpu``.

    Raises:
        ValueError: naming ``gpu`` when an index is given but CUDA is absent or
            the index is out of range.
    """
    if gpu is None:
        return torch.device("cuda") if cuda_available() else torch.device("cpu")
    if not isinstance(gpu, int) or isinstance(gpu, bool):
        raise ValueError(f"gpu must be an integer CUDA index or None, got {gpu!r}")
    if not cuda_available():
        raise ValueError(f"gpu: {gpu} asks for a CUDA device but none is available; set gpu: None to train on CPU")
    if gpu >= torch.cuda.device_count():
        raise ValueError(f"gpu: {gpu} is out of range: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return torch.device("cuda", gpu)


def processes_per_node(num_cpu_procs: int) -> int:
    """How many processes USB's ``multiprocessing_distributed`` starts on this node.

    USB starts one per GPU; without CUDA the plugin starts ``num_cpu_procs``
    CPU processes (gloo backend).
    """
    if cuda_available():
        return torch.cuda.device_count()
    if num_cpu_procs < 1:
        raise ValueError(f"num_cpu_procs must be >= 1, got {num_cpu_procs}")
    return num_cpu_procs


def threads_per_process(procs: int) -> int:
    """CPU threads each of ``procs`` processes on this node should use.

    Every process's torch (OpenMP) pool otherwise takes all cores, so ``procs``
    processes run ``procs x cores`` spinning threads on ``cores`` cores and
    each runs many times slower (docs/SCALE.md). ``OMP_NUM_THREADS``, when the
    user set it, wins.

    Args:
        procs: Training processes started on this node.

    Returns:
        ``max(1, usable cores // procs)``, or ``OMP_NUM_THREADS``.
    """
    import os

    chosen = os.environ.get("OMP_NUM_THREADS")
    if chosen and chosen.isdigit() and int(chosen) > 0:
        return int(chosen)
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, cores // max(1, int(procs)))


def limit_process_threads(procs: int) -> int:
    """Set torch's intra-op threads for one of ``procs`` processes sharing this node's cores.

    Returns:
        The number of threads set.
    """
    threads = threads_per_process(procs)
    torch.set_num_threads(threads)
    return threads


def distributed_backend(requested: str) -> str:
    """The process-group backend: gloo on CPU (NCCL needs CUDA), USB's setting otherwise."""
    return requested if cuda_available() else "gloo"


def place_model(args: Namespace, model: nn.Module, device: torch.device) -> nn.Module:
    """Put a model on the run's device, wrapping it for data parallelism as USB does.

    Args:
        args: Run settings (USB's ``distributed`` and ``gpu``).
        model: The bare model.
        device: From :func:`resolve_device`.

    Returns:
        The placed model: USB's ``send_model_cuda`` result on CUDA; on CPU the
        model itself, or a ``DistributedDataParallel`` wrapper when distributed
        (no SyncBatchNorm: it needs CUDA).
    """
    if device.type == "cuda":
        from semilearn.core.utils import send_model_cuda

        return send_model_cuda(args, model, clip_batch=False)
    model = model.to(device)
    if getattr(args, "distributed", False):
        return nn.parallel.DistributedDataParallel(
            model, broadcast_buffers=False, find_unused_parameters=True
        )
    return model


def to_device(value: Any, device: torch.device) -> Any:
    """Move a tensor, or a dict of tensors (USB's NLP inputs), to ``device``."""
    if isinstance(value, dict):
        return {k: to_device(v, device) for k, v in value.items()}
    if isinstance(value, torch.Tensor):
        return value.to(device, non_blocking=device.type == "cuda")
    return value


@contextlib.contextmanager
def cuda_calls_to(device: torch.device) -> Iterator[None]:
    """Within the block, ``Tensor.cuda(...)`` moves to ``device`` when it is not CUDA.

    Several USB learners call ``.cuda(self.gpu)`` inside ``__init__``,
    ``train_step`` or ``load_model`` (comatch, simmatch, vat, crmatch,
    freematch's and flexmatch's ``load_model``, ...). On a CPU run these calls
    would raise; this context redirects them to the run's device without
    editing USB. On a CUDA device it changes nothing. The upstream fix is in
    ``patches/0001-device-agnostic-placement.patch``.
    """
    if device.type == "cuda":
        yield
        return
    original = torch.Tensor.cuda

    def _to_run_device(self: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
        return self.to(device)

    torch.Tensor.cuda = _to_run_device  # type: ignore[method-assign]
    try:
        yield
    finally:
        torch.Tensor.cuda = original  # type: ignore[method-assign]
