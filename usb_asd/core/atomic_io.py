"""Writing files so that a kill, a full disk or a failed writer never leaves half a file.

Every file a run writes (checkpoints, results.json, the comparison command's
reports and figures) goes through :func:`write_atomic`: the bytes go to a
temporary file in the destination's folder, are flushed and fsync'ed, and
only then renamed over the destination (``os.replace``, atomic on POSIX and
Windows within one file system); the folder is fsync'ed so the rename itself
survives a power cut. Until the rename, the previous complete file is
untouched; a failure removes the temporary file. A process killed outright
(SIGKILL, power cut) can leave a temporary ``.<name>.<random>.tmp`` file, never
a truncated destination; :func:`remove_stale_temporaries` clears those.

Failures of the operating system (no space, no permission, a file where a
folder should be) become a :class:`WriteError`, a :class:`UserError` naming
the path, the setting that chose it and the cause.
"""

from __future__ import annotations

import errno
import json
import os
import re
import tempfile
from typing import IO, Any, Callable, List, Optional

from ..errors import UserError

#: Temporary files are named ``.<destination name>.<random>.tmp``.
_TEMP_SUFFIX = ".tmp"
_TEMP_PATTERN = re.compile(r"^\..+\.[A-Za-z0-9_]+\.tmp$")

#: What each cause means for the user, by errno.
_ADVICE = {
    errno.ENOSPC: "the disk is full; free space or choose another folder",
    errno.EDQUOT: "the disk quota is exhausted; free space or choose another folder",
    errno.EACCES: "no permission to write there; choose a folder you can write to",
    errno.EPERM: "no permission to write there; choose a folder you can write to",
    errno.EROFS: "the file system is read-only; choose a folder you can write to",
    errno.ENOTDIR: "a file stands where a folder is needed; move it or choose another folder",
    errno.EEXIST: "a file stands where a folder is needed; move it or choose another folder",
    errno.EISDIR: "a folder stands where the file should be written; move it or choose another path",
}


class WriteError(UserError):
    """A file could not be written; names the path, the setting that chose it and the cause.

    Attributes:
        path: The file (or folder) that could not be written.
        setting: The setting that chose the folder (``save_dir``, ``--out``), or ``None``.
        cause: The operating system's error.
    """

    def __init__(self, path: str, cause: OSError, setting: Optional[str] = None) -> None:
        self.path = path
        self.cause = cause
        self.setting = setting
        super().__init__(self._message())

    def _message(self) -> str:
        reason = cause_text(self.cause)
        advice = _ADVICE.get(self.cause.errno or -1)
        where = f" (folder chosen by {self.setting})" if self.setting else ""
        return f"cannot write {self.path}{where}: {reason}" + (f"; {advice}" if advice else "")

    def under_setting(self, setting: str) -> "WriteError":
        """The same error, naming ``setting`` when it named none."""
        return self if self.setting else WriteError(self.path, self.cause, setting)


def cause_text(error: OSError) -> str:
    """``strerror`` with its errno name, e.g. ``No space left on device [ENOSPC]``."""
    name = errno.errorcode.get(error.errno or -1)
    text = error.strerror or str(error)
    return f"{text} [{name}]" if name else text


def _write_all(handle: IO[bytes], data) -> None:
    """Write ``data`` to ``handle`` (one place, so tests can inject a failing disk)."""
    handle.write(data)


def write_atomic(
    path: str, write: Callable[[IO[bytes]], None], suffix: str = "", setting: Optional[str] = None
) -> None:
    """Write a file through a temporary sibling, fsync and a rename.

    Args:
        path: Destination file; its folder is created if missing.
        write: ``write(handle)`` fills the binary handle of the temporary file.
        suffix: Extension the writer sees on the temporary file (some look at it,
            e.g. ``.png``); the temporary file always ends in ``.tmp`` after it.
        setting: The setting that chose the folder, named in errors.

    Raises:
        WriteError: The operating system refused (no space, permission, a file in the way);
            the destination is unchanged and no temporary file is left.
    """
    directory = os.path.dirname(os.path.abspath(path))
    _refuse_file_in_the_way(directory, setting)
    try:
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=suffix + _TEMP_SUFFIX, dir=directory)
    except OSError as error:
        raise WriteError(path, error, setting) from error
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp creates 0600; give the file the permissions an ordinary open() would.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException as error:
        _remove_quietly(tmp)
        if isinstance(error, OSError):
            raise WriteError(path, error, setting) from error
        raise
    fsync_directory(directory)


def write_bytes_atomic(path: str, data, setting: Optional[str] = None) -> None:
    """Write ``data`` (bytes or a buffer) to ``path`` atomically (:func:`write_atomic`)."""
    write_atomic(path, lambda handle: _write_all(handle, data), setting=setting)


def write_text_atomic(path: str, text: str, suffix: str = ".txt", setting: Optional[str] = None) -> None:
    """Write UTF-8 text to ``path`` atomically (:func:`write_atomic`)."""
    write_atomic(path, lambda handle: _write_all(handle, text.encode("utf-8")), suffix=suffix, setting=setting)


def write_json_atomic(path: str, payload: Any, setting: Optional[str] = None) -> None:
    """Write ``payload`` as indented, key-sorted JSON to ``path`` atomically (:func:`write_atomic`).

    A value JSON cannot encode is written as its ``item()`` (one-element tensors, NumPy scalars), else its
    ``tolist()``, else its ``str``.
    """
    text = json.dumps(payload, indent=2, sort_keys=True, default=_jsonable) + "\n"
    write_text_atomic(path, text, suffix=".json", setting=setting)


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def write_figure_atomic(fig, path: str, setting: Optional[str] = None) -> None:
    """Save a matplotlib figure as PNG atomically (:func:`write_atomic`) and close it, written or not."""
    import matplotlib.pyplot as plt

    try:
        write_atomic(path, lambda handle: fig.savefig(handle, format="png"), suffix=".png", setting=setting)
    finally:
        plt.close(fig)


def ensure_writable_dir(path: str, setting: str) -> None:
    """Create ``path`` if needed and check a file can be written in it.

    Args:
        path: The folder a run will write to.
        setting: The setting that chose it (``save_dir``, ``--out``), named in the error.

    Raises:
        WriteError: A file is in the way, the place is read-only, the disk is full...
    """
    _refuse_file_in_the_way(path, setting)
    try:
        os.makedirs(path, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-probe.", suffix=_TEMP_SUFFIX, dir=path)
    except OSError as error:
        raise WriteError(path, error, setting) from error
    os.close(fd)
    _remove_quietly(probe)


def _refuse_file_in_the_way(folder: str, setting: Optional[str]) -> None:
    """WriteError naming the file that stands where ``folder`` (or a folder above it) should be."""
    existing = os.path.abspath(folder)
    while not os.path.exists(existing) and os.path.dirname(existing) != existing:
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise WriteError(existing, NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), existing), setting)


def remove_stale_temporaries(folder: str) -> List[str]:
    """Remove temporary files a killed writer left in ``folder``; returns their names.

    Only names of the form :func:`write_atomic` creates are touched; call it
    when no other process writes to ``folder`` (at the start of a run).
    """
    if not os.path.isdir(folder):
        return []
    removed = []
    for name in sorted(os.listdir(folder)):
        if _TEMP_PATTERN.match(name) and os.path.isfile(os.path.join(folder, name)):
            _remove_quietly(os.path.join(folder, name))
            removed.append(name)
    return removed


def _remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def fsync_directory(directory: str) -> None:
    """Make a rename durable; some platforms (Windows) cannot open folders, which is fine there."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
