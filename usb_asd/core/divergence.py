"""Stopping a diverged run at the iteration it diverged, before it saves or scores garbage.

:class:`LossGuardHook` runs after the learner's ``train_step`` and before
USB's ``ParamUpdateHook``: a non-finite loss stops the run before the update
would write NaN into the weights. :class:`WeightGuardHook` runs right after
the update and catches weights that became non-finite from a finite loss (a
learning rate that overflows them). Either raises :class:`TrainingDiverged`,
a :class:`UserError` naming the iteration, the non-finite loss terms (USB's
``train/*`` entries of ``log_dict``) and the settings that usually cause it;
the learner refuses to checkpoint non-finite weights, so the last checkpoint
on disk is the last good one, and no results.json is written (a results.json
always means a finished run with real scores).
"""

from __future__ import annotations

import math
import re
from typing import Any, Dict, Iterable, List, Optional

import torch
from semilearn.core.hooks import Hook

from ..errors import UserError

#: Settings that weight loss terms (USB's ``*_loss_ratio``, ``lambda_*``, the plugin's ratios and SuperCM's beta).
_LOSS_WEIGHT = re.compile(r"(loss_ratio$|_ssl_ratio$|^lambda_|_lambda$|^supercm_beta$)")


class TrainingDiverged(UserError):
    """Training produced a non-finite loss or non-finite weights."""


def non_finite_terms(log_dict: Dict[str, Any]) -> Dict[str, float]:
    """USB's ``train/*`` numbers in ``log_dict`` that are NaN or infinite."""
    terms = {}
    for key, value in (log_dict or {}).items():
        if not key.startswith("train/"):
            continue
        if torch.is_tensor(value) and value.numel() == 1:
            value = value.item()
        if isinstance(value, (int, float)) and not math.isfinite(value):
            terms[key] = float(value)
    return terms


def likely_settings(args) -> str:
    """The settings that usually make a run diverge, with this run's values."""
    adaptor = getattr(args, "adaptor", None)
    inactive = tuple(prefix for prefix, active in (
        ("asd_", adaptor not in (None, "", "none", "None")),
        ("supercm_", bool(getattr(args, "supercm", False)) or getattr(args, "algorithm", "") == "supercm"),
    ) if not active)
    weights = [f"{key}: {value}" for key, value in sorted(vars(args).items())
               if _LOSS_WEIGHT.search(key) and not key.startswith(inactive)
               and isinstance(value, (int, float)) and not isinstance(value, bool)]
    parts = [f"lr: {getattr(args, 'lr', '?')} (try a smaller one)"]
    if weights:
        parts.append("the loss weights (" + ", ".join(weights) + ")")
    amp = bool(getattr(args, "amp", False) or getattr(args, "use_amp", False))
    parts.append(f"amp: {amp}" + (" (half precision overflows more easily; try amp: False)" if amp else ""))
    clip = getattr(args, "clip_grad", None)
    if clip is not None:
        parts.append(f"clip_grad: {clip}" + (" (0 is off; a positive value bounds the updates)" if not clip else ""))
    return "; ".join(parts)


def all_finite(tensors: Iterable[torch.Tensor]) -> bool:
    """Whether every element of every tensor is finite (one device synchronisation)."""
    flags = [torch.isfinite(t.detach()).all() for t in tensors if t.is_floating_point()]
    return bool(torch.stack(flags).all().item()) if flags else True


def model_tensors(model: torch.nn.Module) -> List[torch.Tensor]:
    """Parameters and floating-point buffers (BatchNorm statistics) of a model."""
    return [*model.parameters(), *(b for b in model.buffers() if b.is_floating_point())]


def divergence_message(algorithm, what: str, terms: Dict[str, float]) -> str:
    """The message of :class:`TrainingDiverged` for ``algorithm`` at its current iteration."""
    it = int(algorithm.it) + 1  # USB's log numbers iterations from 1
    listed = ", ".join(f"{k} = {v}" for k, v in sorted(terms.items())) or "none of the logged train/* terms"
    last = getattr(algorithm, "last_checkpoint", None)
    kept = (f"the last checkpoint, {last[0]} (iteration {last[1]}), holds the last finite weights and was kept"
            if last else "no checkpoint had been written yet")
    return (f"training diverged at iteration {it} of {algorithm.num_train_iter}: {what}; non-finite loss terms: "
            f"{listed}. Likely settings: {likely_settings(algorithm.args)}. The run stopped; {kept}; "
            "no results.json was written")


class LossGuardHook(Hook):
    """Stops the run when the loss about to be back-propagated is not finite (before the update)."""

    def after_train_step(self, algorithm) -> None:
        loss = algorithm.out_dict.get("loss") if isinstance(algorithm.out_dict, dict) else None
        bad = loss is not None and torch.is_tensor(loss) and not bool(torch.isfinite(loss.detach()).all())
        if algorithm.distributed and torch.distributed.is_initialized():
            # Every process must stop together, or the others wait in the gradient all-reduce forever.
            flag = torch.tensor([1.0 if bad else 0.0], device=loss.device if torch.is_tensor(loss) else "cpu")
            torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
            bad = bool(flag.item() > 0)
        if bad:
            terms = non_finite_terms(algorithm.log_dict)
            if torch.is_tensor(loss) and not terms:
                terms = {"loss": float(loss.detach().float().mean().item())}
            raise_diverged(algorithm, "the loss is not finite", terms)


class WeightGuardHook(Hook):
    """Stops the run when the update left non-finite weights (after ``ParamUpdateHook``)."""

    def after_train_step(self, algorithm) -> None:
        if not all_finite(model_tensors(algorithm.model)):
            raise_diverged(algorithm, "the weights became non-finite in the update", non_finite_terms(algorithm.log_dict))


def raise_diverged(algorithm, what: str, terms: Dict[str, float]) -> None:
    """Log and raise :class:`TrainingDiverged`."""
    message = divergence_message(algorithm, what, terms)
    print_fn: Optional[Any] = getattr(algorithm, "print_fn", None)
    if print_fn is not None:
        print_fn(f"error: {message}")
    algorithm.diverged = message
    raise TrainingDiverged(message)
