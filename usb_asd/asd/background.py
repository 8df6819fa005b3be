"""Running one computation off the training step's critical path, in a thread.

A re-clustering at ImageNet-1k size (``k = 1,000``, ``n_l = 4,000``) takes
seconds (docs/SCALE.md) while the training step waits. Its work is numpy,
scipy and scikit-learn calls that release the GIL, so a thread runs it beside
the training loop: the step that started it carries on, and the step that needs
the result waits for it (:meth:`BackgroundJob.result`) only if it is not done.
The result is then the same whatever the worker's speed, so runs stay
reproducible.

Knows nothing of USB or of ASD: a callable in, its return value out.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Optional

__all__ = ["BackgroundJob", "FinishedJob"]


class BackgroundJob:
    """Run ``fn()`` in a daemon thread started at construction.

    Args:
        fn: A zero-argument callable. It must work on its own copies of
            whatever it reads (a snapshot): the caller goes on changing its state.
        name: Thread name (shows in debuggers and ``py-spy``).
    """

    def __init__(self, fn: Callable[[], Any], name: str = "usb-asd-background") -> None:
        self._value: Any = None
        self._error: Optional[BaseException] = None
        # Daemon: an interrupted run must not hang at exit waiting for a fit nobody will use.
        self._thread = threading.Thread(target=self._run, args=(fn,), name=name, daemon=True)
        self._thread.start()

    def _run(self, fn: Callable[[], Any]) -> None:
        try:
            self._value = fn()
        except BaseException as error:  # re-raised in the thread that asks for the result
            self._error = error

    @property
    def done(self) -> bool:
        """Whether the computation has finished (successfully or not)."""
        return not self._thread.is_alive()

    def result(self) -> Any:
        """Wait for the computation and return its value; re-raise its exception here."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value


class FinishedJob:
    """A job whose result is already known (restored from a checkpoint); same interface."""

    def __init__(self, value: Any) -> None:
        self._value = value

    @property
    def done(self) -> bool:
        return True

    def result(self) -> Any:
        return self._value
