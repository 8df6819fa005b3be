"""How the commands (train.py, compare, predict, choose_k) show a :class:`~usb_asd.errors.UserError`.

One line on stderr, ``error: <message>``, and exit status 2; no traceback
unless ``--debug`` is given or ``USB_ASD_DEBUG=1`` is set, in which case the
error is re-raised as is.
"""

from __future__ import annotations

import os
import sys
from typing import List, Tuple

from .errors import UserError

#: Exit status of a command stopped by a user error.
USER_ERROR_EXIT = 2
DEBUG_FLAG = "--debug"
DEBUG_ENV = "USB_ASD_DEBUG"


def split_debug_flag(argv: List[str]) -> Tuple[List[str], bool]:
    """``argv`` without ``--debug``, and whether tracebacks were asked for (the flag or ``USB_ASD_DEBUG=1``)."""
    debug = DEBUG_FLAG in argv or os.environ.get(DEBUG_ENV, "").strip().lower() in ("1", "true", "yes")
    return [word for word in argv if word != DEBUG_FLAG], debug


def one_line(error: BaseException) -> str:
    """The message of a user error on one line.

    An error raised in a ``DataLoader`` worker comes back with the worker's
    traceback in its message; only its last line (the original message) is kept.
    """
    text = str(error)
    if "Traceback (most recent call last)" in text:
        last = [line for line in text.strip().splitlines() if line.strip()][-1]
        head, sep, rest = last.partition(": ")
        text = rest if sep and "Error" in head else last
    return " ".join(text.split()) if "\n" in text else text


def report(error: UserError, debug: bool) -> int:
    """Print ``error: <message>`` on stderr and return the exit status, or re-raise under debug."""
    if debug:
        raise error
    print(f"error: {one_line(error)}", file=sys.stderr)
    return USER_ERROR_EXIT
