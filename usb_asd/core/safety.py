"""Checks made before a run writes anything: a run that cannot do what it says, a checkpoint it cannot resume.

Called by :mod:`usb_asd.runner`; each check raises a :class:`UserError`
naming the setting at fault, so ``train.py`` prints one line and exits 2.
"""

from __future__ import annotations

import logging

from ..config import ConfigError
from .checkpoints import resume_checkpoint

log = logging.getLogger("usb_asd")


def _adaptor(args) -> str:
    adaptor = getattr(args, "adaptor", None)
    return "" if adaptor in (None, "", "none", "None") else str(adaptor)


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

    Measured on the DA real pair (docs/DOMAIN_ADAPTATION.md): ``ema_m: 0.99`` over
    200 iterations left 13 % of the random initial weights in the EMA model,
    which fitted the source's training images at 18-23 % while the trained
    model fitted 80-89 %.

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


def _check_first_map_in_run(args) -> None:
    """Refuse an ASD run whose cluster labels might switch on only after its last step."""
    from ..asd.schedule import latest_switch_on

    cluster_iter = getattr(args, "asd_cluster_iter", None)
    lag = getattr(args, "asd_recluster_lag", 0) or 0
    if cluster_iter is None or cluster_iter < 1:
        return  # asd_settings_from_args names that key
    latest = latest_switch_on(args.asd_warmup_iter, cluster_iter, lag)
    if latest >= args.num_train_iter:
        raise ConfigError(
            f"ASD's cluster labels might switch on only after step {latest} (asd_warmup_iter "
            f"({args.asd_warmup_iter}), or the first map: asd_cluster_iter ({cluster_iter}) plus "
            f"asd_recluster_lag ({lag})), not before num_train_iter ({args.num_train_iter}): the learner "
            "might never train on cluster labels; lower asd_warmup_iter, asd_cluster_iter or "
            "asd_recluster_lag, or raise num_train_iter"
        )


def check_run_is_sound(args) -> None:
    """Refuse runs that would silently not do what they say; check the checkpoint a resume loads.

    Args:
        args: The run's settings; with ``resume: True``, ``args.load_path`` may be
            replaced by an intact older checkpoint (``resume_fallback: True``).

    Raises:
        ConfigError: ``adaptor: asd`` with ``asd_warmup_iter >= num_train_iter``, or a first
            latest switch-on of cluster labels (:func:`usb_asd.asd.schedule.latest_switch_on`) at or after the last step.
        CheckpointError: The checkpoint to resume from is damaged or of other settings.
    """
    warmup = getattr(args, "asd_warmup_iter", None)
    if _adaptor(args) == "asd" and warmup is not None:
        if warmup >= args.num_train_iter:
            raise ConfigError(
                f"asd_warmup_iter ({warmup}) must be smaller than num_train_iter ({args.num_train_iter}): "
                "adaptor: asd trains on its cluster labels only after the warm-up, so this run would end "
                "before ever using them; lower asd_warmup_iter or raise num_train_iter"
            )
        _check_first_map_in_run(args)
    warn_if_ema_lags(args)
    if getattr(args, "resume", False) and getattr(args, "load_path", None):
        args.load_path = resume_checkpoint(args)
