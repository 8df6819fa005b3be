"""Checks made before a run writes anything: an EMA model stuck near its random start, a checkpoint it cannot resume.

Called by :mod:`usb_asd.runner`; each check raises a :class:`UserError`
naming the setting at fault, so ``train.py`` prints one line and exits 2.
"""

from __future__ import annotations

import logging

from .checkpoints import resume_checkpoint

log = logging.getLogger("usb_asd")


#: Above this share of the initial weights left in the EMA model at the end of a run, warn.
EMA_INITIAL_SHARE_LIMIT = 0.05


def ema_initial_share(ema_m: float, num_train_iter: int) -> float:
    """Weight of the initial (random) parameters in USB's EMA model after ``num_train_iter`` updates.

    USB evaluates and saves the EMA model ``shadow <- m shadow + (1 - m) param``,
    started from the initial parameters, so after ``n`` updates they keep weight
    ``m ** n`` (and the BatchNorm statistics are the current model's, which do
    not match averaged weights while that share is large).

    Args:
        ema_m: USB's ``ema_m``, in ``[0, 1)``.
        num_train_iter: Updates in the run.

    Returns:
        ``ema_m ** num_train_iter``.
    """
    return float(ema_m) ** int(num_train_iter)


def warn_if_ema_lags(args) -> bool:
    """Log a warning when the evaluated EMA model would still be mostly its starting point.

    USB scores and saves the EMA model, so a run too short for its ``ema_m``
    reports a model that fits even its training images far worse than the
    trained one (docs/DOMAIN_ADAPTATION.md).

    Args:
        args: The run's settings (``ema_m``, ``num_train_iter``).

    Returns:
        Whether it warned.
    """
    share = ema_initial_share(args.ema_m, args.num_train_iter)
    if share <= EMA_INITIAL_SHARE_LIMIT:
        return False
    log.warning("ema_m %s over num_train_iter %d: the evaluated (EMA) model still carries %.0f%% of the "
                "initial random weights at the end; raise num_train_iter or lower ema_m",
                args.ema_m, args.num_train_iter, 100 * share)
    return True


def check_run_is_sound(args) -> None:
    """Warn about an EMA model that would stay near its random start; check the checkpoint a resume loads.

    The checks of a method's own settings (ASD's schedule:
    :func:`usb_asd.preflight.check_asd_schedule`) come before, from :mod:`usb_asd.runner`.

    Args:
        args: The run's settings; with ``resume: True``, ``args.load_path`` may be
            replaced by an intact older checkpoint (``resume_fallback: True``).

    Raises:
        CheckpointError: The checkpoint to resume from is damaged or of other settings.
    """
    warn_if_ema_lags(args)
    if getattr(args, "resume", False) and getattr(args, "load_path", None):
        args.load_path = resume_checkpoint(args)
