"""DANN (domain-adversarial training) as a USB learner, registered as ``dann``.

Ganin & Lempitsky, "Unsupervised Domain Adaptation by Backpropagation", ICML
2015; Ganin et al., "Domain-Adversarial Training of Neural Networks", JMLR
2016. With a labelled source batch ``x_lb`` and an unlabelled target batch of
the same size ``x_ulb_w`` (``da_target_dataset``, ``uratio: 1``):

``L = CE(logits(x_lb), y_lb) + w * BCE(D(R_lambda(f(x_lb) ∪ f(x_ulb_w))), source 0 / target 1)``

where ``f`` are the features the classifier sees (``out["feat"]``), ``D`` the
:class:`~usb_asd.dann.discriminator.DomainDiscriminator`, ``R_lambda`` the
gradient-reversal layer with DANN's coefficient schedule, and the learning
rate is annealed as ``lr0 (1 + 10 p)^-0.75``.

The discriminator lives beside the model, not inside it: USB's EMA model,
evaluation and prediction never see it; its parameters are a param group of
the learner's optimiser, and its weights travel in checkpoints under
``"discriminator"``. ``supercm: True`` composes SuperCM's clustering module
with it (DANN + CM, the journal version of SuperCM): the CM loss then runs
on the source and target features this step returns.
"""

from __future__ import annotations

from typing import List, Optional

import torch
from semilearn.core import AlgorithmBase
from semilearn.core.utils import get_cosine_schedule_with_warmup, get_optimizer
from torch.optim.lr_scheduler import LambdaLR

from ..config import ConfigError, PluginArgument
from .discriminator import DomainDiscriminator, domain_accuracy, domain_loss
from .gradient_reversal import grad_reverse
from .schedule import AnnealedLR, grl_coefficient, progress

#: ``dann_lr_schedule`` values: DANN's annealing, or USB's cosine schedule.
LR_SCHEDULES = ("anneal", "cosine")

#: The learner's config keys (USB's ``get_argument`` shape).
DANN_ARGUMENTS: List[PluginArgument] = [
    PluginArgument("--dann_loss_weight", float, 1.0,
                   "weight of the domain loss; 0: source only (no target row reaches the model)"),
    PluginArgument("--dann_gamma", float, 10.0, "slope of the reversal coefficient 2/(1+exp(-gamma p))-1"),
    PluginArgument("--dann_hidden", int, 256, "width of the discriminator's two hidden layers"),
    PluginArgument("--dann_lr_schedule", str, "anneal",
                   f"one of {LR_SCHEDULES}: lr0 (1 + 10 p)^-0.75 (DANN) or USB's cosine schedule"),
]


def check_dann_args(args) -> None:
    """Check the ``dann_*`` keys and the domain-adaptation setting, naming the key at fault.

    Raises:
        ConfigError: on any bad value.
    """
    if not getattr(args, "da_target_dataset", None):
        raise ConfigError("algorithm: dann adapts to an unlabelled target domain: set da_target_dataset "
                          "(dataset: is the labelled source)")
    if int(args.uratio) != 1:
        raise ConfigError(f"algorithm: dann trains on equal source and target batches: set uratio: 1, "
                          f"got {args.uratio}")
    if not args.dann_loss_weight >= 0:
        raise ConfigError(f"dann_loss_weight must be >= 0, got {args.dann_loss_weight}")
    if not args.dann_gamma > 0:
        raise ConfigError(f"dann_gamma must be > 0, got {args.dann_gamma}")
    if args.dann_hidden < 1:
        raise ConfigError(f"dann_hidden must be >= 1, got {args.dann_hidden}")
    if args.dann_lr_schedule not in LR_SCHEDULES:
        raise ConfigError(f"dann_lr_schedule must be one of {LR_SCHEDULES}, got {args.dann_lr_schedule!r}")


class DANN(AlgorithmBase):
    """Cross-entropy on the source batch plus the adversarial domain loss on source and target features."""

    #: Items carry the weak unlabelled view only (``pseudolabel``'s layout).
    dataset_algorithm = "pseudolabel"

    def __init__(self, args, net_builder, tb_log=None, logger=None, **kwargs) -> None:
        check_dann_args(args)  # before USB builds datasets and nets
        self.discriminator: Optional[DomainDiscriminator] = None
        super().__init__(args, net_builder, tb_log, logger, **kwargs)

    # ---- model and optimiser ------------------------------------------------
    def set_model(self):
        net = super().set_model()
        dim = int(getattr(net, "num_features", 0) or 0)
        if dim <= 0:
            raise ConfigError(f"algorithm: dann needs a net with a feature size (num_features); "
                              f"{type(net).__name__} has none")
        self.discriminator = DomainDiscriminator(dim, self.args.dann_hidden).to(self._discriminator_device())
        return net

    def _discriminator_device(self) -> torch.device:
        device = getattr(self, "device", None)  # set by usb_asd's learner mixin
        if device is not None:
            return torch.device(device)
        if self.args.gpu is not None and torch.cuda.is_available():
            return torch.device("cuda", int(self.args.gpu))
        return torch.device("cpu")

    def set_optimizer(self):
        self.print_fn("Create optimizer and scheduler")
        args = self.args
        optimizer = get_optimizer(self.model, args.optim, args.lr, args.momentum, args.weight_decay, args.layer_decay)
        # The discriminator trains with the model, at the same learning rate and decay.
        optimizer.add_param_group({"params": list(self.discriminator.parameters()),
                                   "weight_decay": args.weight_decay})
        if args.dann_lr_schedule == "anneal":
            scheduler = LambdaLR(optimizer, AnnealedLR(self.num_train_iter))
        else:
            scheduler = get_cosine_schedule_with_warmup(optimizer, self.num_train_iter,
                                                        num_warmup_steps=args.num_warmup_iter)
        return optimizer, scheduler

    # ---- checkpoints ---------------------------------------------------------
    def get_save_dict(self):
        save_dict = super().get_save_dict()
        save_dict["discriminator"] = self.discriminator.state_dict()
        return save_dict

    def load_model(self, load_path):
        checkpoint = super().load_model(load_path)
        if "discriminator" not in checkpoint:
            raise ConfigError(f"load_path {load_path!r} holds no domain discriminator: it is not a "
                              "checkpoint of algorithm: dann")
        self.discriminator.load_state_dict(checkpoint["discriminator"])
        return checkpoint

    # ---- training ------------------------------------------------------------
    def coefficient(self) -> float:
        """The gradient-reversal coefficient at the current iteration."""
        return grl_coefficient(progress(self.it, self.num_train_iter), self.args.dann_gamma)

    def train_step(self, x_lb, y_lb, x_ulb_w):
        num_lb = y_lb.shape[0]
        weight = float(self.args.dann_loss_weight)
        coeff = self.coefficient()
        disc = self.discriminator
        if next(disc.parameters()).device != x_lb.device:
            disc.to(x_lb.device)  # in place: the optimiser keeps the same parameters
        # USB's ParamUpdateHook zeroes only the model's gradients.
        disc.zero_grad(set_to_none=True)
        feats_x_ulb_w = None
        with self.amp_cm():
            if weight == 0.0:
                out = self.model(x_lb)
                logits_x_lb, feats_x_lb = out["logits"], out["feat"]
            elif self.use_cat:
                out = self.model(torch.cat((x_lb, x_ulb_w)))
                logits_x_lb = out["logits"][:num_lb]
                feats_x_lb, feats_x_ulb_w = out["feat"][:num_lb], out["feat"][num_lb:]
            else:
                out_lb, out_ulb = self.model(x_lb), self.model(x_ulb_w)
                logits_x_lb, feats_x_lb, feats_x_ulb_w = out_lb["logits"], out_lb["feat"], out_ulb["feat"]
            sup_loss = self.ce_loss(logits_x_lb, y_lb, reduction="mean")
            total_loss = sup_loss
            logged = {"sup_loss": sup_loss.detach(), "dann_coeff": torch.tensor(coeff, device=sup_loss.device)}
            if feats_x_ulb_w is not None:
                feats = torch.cat((feats_x_lb, feats_x_ulb_w))
                d = disc(grad_reverse(feats, coeff))
                dom_loss = domain_loss(d[:num_lb], d[num_lb:])
                total_loss = sup_loss + weight * dom_loss
                logged["dann_domain_loss"] = dom_loss.detach()
                logged["dann_disc_acc"] = domain_accuracy(d[:num_lb], d[num_lb:])
        logged["total_loss"] = total_loss.detach()
        feat = {"x_lb": feats_x_lb}
        if feats_x_ulb_w is not None:
            feat["x_ulb_w"] = feats_x_ulb_w
        out_dict = self.process_out_dict(loss=total_loss, feat=feat)
        # One device->host copy for every logged value.
        names = list(logged)
        values = torch.stack([logged[n].float() for n in names]).tolist()
        log_dict = self.process_log_dict(**dict(zip(names, values)))
        return out_dict, log_dict

    @staticmethod
    def get_argument():
        return list(DANN_ARGUMENTS)
