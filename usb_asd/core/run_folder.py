"""A run's folder is replaced only once the new run has something to put in its place.

A new run (not a resume of the run in the folder) writes into a hidden
sibling, ``<save_dir>/.<save_name>.incoming``, until its first checkpoint is
written. Then :meth:`RunFolder.commit` swaps the two folders and removes the
earlier run: on Linux with one atomic ``renameat2(RENAME_EXCHANGE)``,
elsewhere (or on file systems that refuse it) with two renames through
``.<save_name>.replaced``. A run that fails or is killed before its first
checkpoint leaves the earlier run exactly as it was.

A kill in the middle of a swap leaves hidden folders that :func:`recover`
sorts out when the next run starts there:

* ``.replaced`` and no run folder: the kill fell between the two renames, so
  the earlier run is put back;
* ``.replaced`` beside a run folder: the swap was done, the earlier run's
  remains are removed;
* ``.incoming``: a run killed before its first checkpoint (or the earlier
  run's remains after an exchange): removed.

At any moment ``save_dir/save_name`` therefore holds the earlier run whole or
the new one with a checkpoint. One run at a time may use a save folder.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import shutil
from typing import List, Optional

from .atomic_io import WriteError, ensure_writable_dir, fsync_directory, remove_stale_temporaries

log = logging.getLogger("usb_asd")

INCOMING_SUFFIX = ".incoming"
REPLACED_SUFFIX = ".replaced"

#: ``renameat2`` flag that swaps two paths atomically (Linux 3.15+).
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def incoming_path(final: str) -> str:
    """``<save_dir>/.<save_name>.incoming``: where a new run writes until its first checkpoint."""
    head, name = os.path.split(os.path.abspath(final))
    return os.path.join(head, f".{name}{INCOMING_SUFFIX}")


def replaced_path(final: str) -> str:
    """``<save_dir>/.<save_name>.replaced``: the earlier run between the two renames of a swap."""
    head, name = os.path.split(os.path.abspath(final))
    return os.path.join(head, f".{name}{REPLACED_SUFFIX}")


def _exchange(a: str, b: str) -> bool:
    """Swap two existing paths atomically; ``False`` where the OS or file system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):  # not Linux, or a C library without renameat2
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False  # the file system does not support the exchange: fall back to two renames
    raise OSError(code, os.strerror(code), a)


def recover(final: str) -> List[str]:
    """Finish or undo what a killed run left beside ``final`` (module docstring); returns what it did."""
    done = []
    replaced, incoming = replaced_path(final), incoming_path(final)
    if os.path.isdir(replaced):
        if os.path.lexists(final):
            shutil.rmtree(replaced, ignore_errors=True)
            done.append(f"removed the remains of a replaced run ({replaced})")
        else:
            os.rename(replaced, final)
            fsync_directory(os.path.dirname(os.path.abspath(final)))
            done.append(f"put back the earlier run a killed swap had moved aside ({replaced} -> {final})")
    if os.path.isdir(incoming):
        shutil.rmtree(incoming, ignore_errors=True)
        done.append(f"removed the folder of a run stopped before its first checkpoint ({incoming})")
    return done


class RunFolder:
    """Where a run writes, and when it takes over ``save_dir/save_name``.

    Args:
        final: ``save_dir/save_name``.
        staged: Write into :func:`incoming_path` until :meth:`commit` (a new run);
            ``False`` writes into ``final`` directly (a resume of the run there).
    """

    def __init__(self, final: str, staged: bool) -> None:
        self.final = os.path.abspath(final)
        self.incoming: Optional[str] = incoming_path(final) if staged else None
        self.committed = not staged

    @property
    def current(self) -> str:
        """The folder the run writes into now."""
        return self.final if self.committed else self.incoming

    def resolve(self, path: str) -> str:
        """``path`` with the incoming folder replaced by the run folder once committed (paths computed before)."""
        if self.incoming and self.committed and os.path.abspath(path) == self.incoming:
            return self.final
        return path

    def prepare(self) -> None:
        """Create the folder the run writes into, check it is writable, clear killed writes' leftovers.

        Raises:
            WriteError: a file where a folder should be, a read-only place, a full disk (names ``save_dir``).
        """
        if os.path.lexists(self.final) and not os.path.isdir(self.final):
            raise WriteError(self.final, NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), self.final),
                             "save_dir")
        if self.incoming is not None:
            shutil.rmtree(self.incoming, ignore_errors=True)
        try:
            ensure_writable_dir(self.current, "save_dir")
        except WriteError as error:
            # Named as the user set it: the incoming folder is an implementation detail beside it.
            raise WriteError(self.final if error.path == self.current else error.path, error.cause,
                             "save_dir") from error
        removed = remove_stale_temporaries(self.current)
        if removed:
            log.warning("removed %d temporary file(s) an interrupted write left in %s: %s",
                        len(removed), self.current, ", ".join(removed))

    def commit(self) -> None:
        """Put the new run in place of the earlier one (module docstring); idempotent.

        Raises:
            WriteError: the operating system refused a rename (names ``save_dir``).
        """
        if self.committed:
            return
        incoming, final, replaced = self.incoming, self.final, replaced_path(self.final)
        try:
            if not os.path.lexists(final):
                os.rename(incoming, final)
            elif _exchange(incoming, final):
                # The earlier run now sits at the incoming name; move it out of the way, then remove it.
                os.rename(incoming, replaced)
            else:
                os.rename(final, replaced)
                os.rename(incoming, final)
        except OSError as error:
            if not os.path.lexists(final) and os.path.isdir(replaced):
                os.rename(replaced, final)  # the second rename failed: the earlier run goes back
            raise WriteError(final, error, "save_dir") from error
        self.committed = True
        fsync_directory(os.path.dirname(os.path.abspath(final)))
        shutil.rmtree(replaced, ignore_errors=True)

    def abandon(self) -> None:
        """Remove the incoming folder of a run that failed before its first checkpoint (the earlier run stays)."""
        if not self.committed and self.incoming is not None:
            shutil.rmtree(self.incoming, ignore_errors=True)
