"""Running one computation off the training step's critical path, in a worker process.

A re-clustering at ImageNet-1k size (``k = 1,000``, ``n_l = 4,000``) takes
seconds (docs/SCALE.md) while the training step waits. It runs here in a
separate process beside the training loop: the step that started it carries on,
and the step that needs the result waits for it (:meth:`BackgroundJob.result`)
only if it is not done. The result is then the same whatever the worker's
speed, so runs stay reproducible.

A process, not a thread: the spectral distance's partial eigensolver
(``scipy.linalg.eigh(subset_by_index=...)``, LAPACK through f2py) holds the GIL
for its whole run: in a thread it would freeze the training thread for as long
as the fit takes (``benchmarks/asd_recluster_lag.py``).

One worker per training process, started on first use with the ``spawn``
method (no fork of a process holding torch's threads or a CUDA context) and
reused; it imports the plugin's numpy stages once (a few seconds, in the
background). In a distributed run's ranks the worker is a thread instead
(``kind="thread"``, :mod:`.distributed`): a rank may be a daemonic process,
which may not start children. A thread is stalled by the spectral
eigensolver's GIL: the result is the same, only the overlap is lost.
Knows nothing of USB or of ASD: a module-level function and picklable
arguments in, its return value out.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from typing import Any, Callable, Dict, Optional

__all__ = ["BackgroundJob", "FinishedJob", "shutdown_worker"]

#: Where a job runs: ``"process"`` (the default) or ``"thread"``.
WORKER_KINDS = ("process", "thread")
_WORKERS: Dict[str, Optional[Executor]] = {kind: None for kind in WORKER_KINDS}


def _executor(kind: str) -> Executor:
    if kind not in WORKER_KINDS:
        raise ValueError(f"worker kind must be one of {WORKER_KINDS}, got {kind!r}")
    if kind == "process" and multiprocessing.current_process().daemon:
        kind = "thread"  # a daemonic process may not have children
    executor = _WORKERS[kind]
    if executor is not None and getattr(executor, "_broken", False):
        executor = None  # a worker that died (e.g. killed for memory) is replaced, not reused
    if executor is None:
        if kind == "thread":
            executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="usb-asd-background")
        else:
            executor = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        _WORKERS[kind] = executor
    return executor


def shutdown_worker() -> None:
    """Stop this process's workers (a later job starts a new one)."""
    for kind in WORKER_KINDS:
        executor, _WORKERS[kind] = _WORKERS[kind], None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)


class BackgroundJob:
    """Run ``fn(*args)`` in this process's background worker, starting now.

    Args:
        fn: A module-level function (it is pickled by reference).
        *args: Its arguments: a snapshot the caller must not change afterwards (the
            executor pickles them in its own thread, shortly after this returns).
        kind: ``"process"`` (this process's worker process) or ``"thread"`` (a worker thread).
    """

    def __init__(self, fn: Callable[..., Any], *args: Any, kind: str = "process") -> None:
        self._future: Future = _executor(kind).submit(fn, *args)

    @property
    def done(self) -> bool:
        """Whether the computation has finished (successfully or not)."""
        return self._future.done()

    def result(self) -> Any:
        """Wait for the computation and return its value; re-raise its exception here."""
        return self._future.result()


class FinishedJob:
    """A job whose result is already known (restored from a checkpoint, or computed at once); same interface."""

    def __init__(self, value: Any) -> None:
        self._value = value

    @property
    def done(self) -> bool:
        return True

    def result(self) -> Any:
        return self._value
