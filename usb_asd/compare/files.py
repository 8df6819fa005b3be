"""Atomic file writes for the grid's outputs (JSON goes through :func:`usb_asd.results.write_json_atomic`)."""

from __future__ import annotations

import os
import tempfile
from typing import IO, Callable


def write_atomic(path: str, write: Callable[[IO[bytes]], None], suffix: str = "") -> None:
    """Write a file through a temporary sibling and a rename, so a reader (or a kill) never leaves half a file.

    Args:
        path: Destination file.
        write: ``write(handle)`` fills the binary handle of the temporary file.
        suffix: Suffix of the temporary file (some writers look at it, e.g. ``.png``).
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        # mkstemp creates 0600; give the file the permissions an ordinary open() would.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(path: str, text: str) -> None:
    """Write UTF-8 text to ``path`` atomically.

    Args:
        path: Destination file.
        text: Its whole content.
    """
    write_atomic(path, lambda handle: handle.write(text.encode("utf-8")), suffix=".txt")
