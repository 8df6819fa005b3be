"""Checks made before a run writes anything: a run that cannot do what it says, a folder it cannot write.

Called by :mod:`usb_asd.runner`; each check raises a :class:`UserError`
naming the setting at fault, so ``train.py`` prints one line and exits 2.
"""

from __future__ import annotations

import logging

from ..config import ConfigError
from .atomic_io import ensure_writable_dir, remove_stale_temporaries
from .checkpoints import resume_checkpoint

log = logging.getLogger("usb_asd")


def _adaptor(args) -> str:
    adaptor = getattr(args, "adaptor", None)
    return "" if adaptor in (None, "", "none", "None") else str(adaptor)


def check_run_is_sound(args) -> None:
    """Refuse runs that would silently not do what they say; check the checkpoint a resume loads.

    Args:
        args: The run's settings; with ``resume: True``, ``args.load_path`` may be
            replaced by an intact older checkpoint (``resume_fallback: True``).

    Raises:
        ConfigError: ``adaptor: asd`` with ``asd_warmup_iter >= num_train_iter``.
        CheckpointError: The checkpoint to resume from is damaged or of other settings.
    """
    warmup = getattr(args, "asd_warmup_iter", None)
    if _adaptor(args) == "asd" and warmup is not None and warmup >= args.num_train_iter:
        raise ConfigError(
            f"asd_warmup_iter ({warmup}) must be smaller than num_train_iter ({args.num_train_iter}): "
            "adaptor: asd trains on its cluster labels only after the warm-up, so this run would end "
            "before ever using them; lower asd_warmup_iter or raise num_train_iter"
        )
    if getattr(args, "resume", False) and getattr(args, "load_path", None):
        args.load_path = resume_checkpoint(args)


def prepare_save_folder(save_path: str) -> None:
    """Create the run's folder (``save_dir/save_name``), check it is writable, clear killed writes' leftovers.

    Raises:
        WriteError: A file is in the way, the place is read-only, the disk is full (names ``save_dir``).
    """
    ensure_writable_dir(save_path, "save_dir")
    removed = remove_stale_temporaries(save_path)
    if removed:
        log.warning("removed %d temporary file(s) an interrupted write left in %s: %s",
                    len(removed), save_path, ", ".join(removed))
