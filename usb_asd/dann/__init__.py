"""DANN, domain-adversarial training (Ganin & Lempitsky 2015), in pieces.

* :mod:`.gradient_reversal`: identity forward, ``-lambda * grad`` backward;
* :mod:`.discriminator`: the two-hidden-layer domain discriminator, its BCE
  loss and accuracy;
* :mod:`.schedule`: the reversal coefficient and learning-rate annealing;
* :mod:`.learner`: the USB learner ``algorithm: dann`` (imports semilearn).

Everything but :mod:`.learner` is plain torch.
"""

from .discriminator import DomainDiscriminator, domain_accuracy, domain_loss
from .gradient_reversal import GradientReversal, grad_reverse
from .schedule import AnnealedLR, grl_coefficient, lr_anneal_factor, progress

__all__ = [
    "AnnealedLR",
    "DomainDiscriminator",
    "GradientReversal",
    "domain_accuracy",
    "domain_loss",
    "grad_reverse",
    "grl_coefficient",
    "lr_anneal_factor",
    "progress",
]
