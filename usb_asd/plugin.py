"""Registration of the plugin's components in USB's registries."""

from __future__ import annotations

from typing import Callable, Dict

from .nets.resnet_cifar import resnet18_cifar
from .nets.small_cnn import cnn_small

#: Backbones the plugin adds to ``semilearn.nets`` (USB's net registry: its
#: ``get_net_builder(name, from_name=False)`` looks names up there).
NETS: Dict[str, Callable] = {"cnn_small": cnn_small, "resnet18_cifar": resnet18_cifar}


def _learners() -> Dict[str, type]:
    """Learners the plugin adds to USB's ``ALGORITHMS`` registry (imported late: they import semilearn)."""
    from .dann.learner import DANN
    from .supercm.learner import SuperCM

    return {"dann": DANN, "supercm": SuperCM}


_registered = False


def register() -> None:
    """Make the plugin's nets and learners visible to USB; idempotent."""
    global _registered
    if _registered:
        return
    import semilearn.nets as usb_nets
    from semilearn.core.utils import ALGORITHMS

    for name, builder in NETS.items():
        existing = getattr(usb_nets, name, None)
        if existing is not None and existing is not builder:
            raise RuntimeError(f"semilearn.nets already defines {name!r}; refusing to shadow it")
        setattr(usb_nets, name, builder)
    for name, learner in _learners().items():
        if name in ALGORITHMS and ALGORITHMS[name] is not learner:
            raise RuntimeError(f"USB's ALGORITHMS already defines {name!r}; refusing to shadow it")
        ALGORITHMS[name] = learner
    _registered = True
