"""The final model's batch-norm statistics, re-estimated on the pool as prediction sees it.

A BatchNorm layer predicts with running estimates ``mu, sigma^2`` of its input's
mean and variance (Ioffe and Szegedy, ICML 2015, Algorithm 2). During USB's
training they are exponential averages over the training forwards, whose
batches mix the labelled, weak and strong views (strong: RandAugment and the
like), computed by the raw weights; prediction then runs the EMA weights on
un-augmented images. ``bn_recalibration: pool`` replaces them, once at the end
of training, by the statistics of the final (EMA) weights on the pool's images
under the evaluation transform (as SWA re-estimates them for averaged weights,
Izmailov et al., UAI 2018; as AdaBN does for a new domain, Li et al., 2018):

.. math:: \\mu = \\frac{1}{M} \\sum_{m=1}^{M} \\mu_m, \\qquad \\sigma^2 = \\frac{1}{M} \\sum_{m=1}^{M} \\sigma_m^2,

the mean over the ``M`` batches of the pool of each batch's mean and unbiased
variance (``torch.optim.swa_utils.update_bn``, a cumulative average). No label is read. The
weights do not change; only the buffers the evaluation reads. Plain torch;
nothing here imports semilearn.
"""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

__all__ = ["BN_RECALIBRATIONS", "batchnorm_layers", "recalibrate_batchnorm", "resolve_bn_recalibration"]

#: ``bn_recalibration``: none (USB's training-time running statistics), the pool's at the end of
#: training, or auto (:func:`resolve_bn_recalibration`).
BN_RECALIBRATIONS = ("auto", "none", "pool")


def resolve_bn_recalibration(value: str, adaptor: Optional[str], target_dataset: Optional[str]) -> str:
    """What ``bn_recalibration`` does in a run: ``auto`` made ``pool`` or ``none``.

    ``auto`` is ``pool`` where it was measured and adopted (docs/PROTOCOL.md): runs of the ASD
    adaptor (label-free, no domain adaptation), where it raised the validation mean without
    lowering the worst seed on every learner and data set paired. Elsewhere (labelled learners,
    the other adaptors, domain adaptation) it was not measured, and ``auto`` keeps USB's ``none``.

    Args:
        value: The setting (one of :data:`BN_RECALIBRATIONS`).
        adaptor: The run's adaptor (``None`` for none).
        target_dataset: ``da_target_dataset`` (``None`` when the run does not adapt domains).

    Returns:
        ``"none"`` or ``"pool"``.
    """
    if value != "auto":
        return value
    return "pool" if adaptor == "asd" and not target_dataset else "none"


def batchnorm_layers(model: nn.Module) -> int:
    """How many BatchNorm layers with running statistics ``model`` holds."""
    return sum(1 for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats)


@torch.no_grad()
def recalibrate_batchnorm(model: nn.Module, dataset, transform: Callable, device: torch.device, batch_size: int,
                          indices: Optional[np.ndarray] = None) -> int:
    """Re-estimate every BatchNorm layer's running statistics of ``model`` on ``dataset``'s images.

    Args:
        model: The net with the weights to predict with (unwrapped; its training flag is restored).
        dataset: USB's dataset (``__sample__(i) -> (image, target)``); only the images are read.
        transform: The evaluation transform.
        device: Where the model is.
        batch_size: Images per forward (the statistics are averaged over batches).
        indices: Only these images (``None``: all).

    Returns:
        The number of images read (0 when the model has no BatchNorm layer: nothing is done); a
        last batch of a single image is left out.
    """
    if batchnorm_layers(model) == 0:
        return 0
    from ..data.eval_view import EvalView

    view = EvalView(dataset, transform, indices)
    # A last batch of one image has no variance (BatchNorm1d refuses it in training mode): leave it out.
    drop_last = len(view) > batch_size and len(view) % batch_size == 1
    loader = DataLoader(view, batch_size=batch_size, shuffle=False, num_workers=0, drop_last=drop_last)
    torch.optim.swa_utils.update_bn(loader, model, device)
    return len(view) - (len(view) % batch_size if drop_last else 0)
