"""USB-independent stages of the ASD adaptor (Duan et al., IEEE TIP 2025, arXiv 2509.20976).

* :mod:`.sampling`: choosing the ``n_l`` instances of each round (uniform without
  repeats, or prototypes accompanied by neighbours);
* :mod:`.alignment`: optimal-transport alignment of new instances to the
  instance head's slots;
* :mod:`.transitions`: class transition tracking (CTT) between instance classes;
* :mod:`.mapping`: k-medoids grouping of instance classes into clusters with
  stable ids.

Plain numpy (and torch tensors where stated) in and out; nothing here imports
semilearn.
"""

from .alignment import align_to_slots, instance_slot_cost, prototype_slot_cost, sinkhorn_plan
from .mapping import InstanceClusterMapper, random_mapping, similarity_to_distance
from .sampling import NonRepeatingSampler, PrototypeNeighbourSampler, prototype_neighbour_sample
from .transitions import ClassTransitionTracker

__all__ = [
    "align_to_slots",
    "instance_slot_cost",
    "prototype_slot_cost",
    "sinkhorn_plan",
    "InstanceClusterMapper",
    "random_mapping",
    "similarity_to_distance",
    "NonRepeatingSampler",
    "PrototypeNeighbourSampler",
    "prototype_neighbour_sample",
    "ClassTransitionTracker",
]
