"""The one base class of errors that are the user's to fix (a setting, a path, a file).

Commands (``train.py``, the compare command, predict) catch :class:`UserError`
and print its message on one line, without a traceback, exiting non-zero;
any other exception is a programming error and still raises. Subclasses name
the setting or path at fault and what was expected.
"""

from __future__ import annotations


class UserError(Exception):
    """A mistake in the user's settings, paths or files; the message says which and what was expected."""
