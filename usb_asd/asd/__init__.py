"""ASD, the adaptor (Duan et al., IEEE TIP 2025, arXiv 2509.20976): clustering labels for any USB learner.

The method, in stages that know nothing of USB (plain numpy in and out, torch
tensors where stated):

* :mod:`.sampling`: the instances of each round (``SAMPLERS``: uniform without repeats,
  or prototypes with neighbours);
* :mod:`.alignment`: Sinkhorn optimal transport of new instances to the instance
  head's slots (``PLACEMENTS``);
* :mod:`.transitions`: class transition tracking between instance classes;
* :mod:`.mapping` and :mod:`.cluster_maps`: k-Medoids grouping of the instance classes
  into clusters with stable ids (``CLUSTER_MAPS``: transitions, pool features, random);
* :mod:`.feature_clusters`: the clusterings of the pool's features for the features map;
* :mod:`.pipeline`: the label builder composing the four stages;
* :mod:`.balanced_targets`, :mod:`.instance_objective`, :mod:`.embedding_queue`: the
  instance stage's balanced targets and swapped-prediction loss on every unlabelled batch;
* :mod:`.label_gate`: when the learner's cluster labels switch on;
* :mod:`.init_assignments`: reading a given clustering to start from;
* :mod:`.background`, :mod:`.distributed`, :mod:`.scale`, :mod:`.schedule`: re-clustering in a
  worker, one state across ranks, budgets for large ``k``, the periods of the chain.

The USB glue: :mod:`.adaptor` (the learner mixin and the ``asd_*`` keys), :mod:`.hooks`
(the instance-loss and round hooks; the one module that imports semilearn), :mod:`.slot_data`
(the labelled loader) and :mod:`.host` (one device-to-host transfer per step).
"""

from .alignment import align_to_slots, instance_slot_cost, sinkhorn_plan
from .mapping import InstanceClusterMapper, random_mapping, similarity_to_distance
from .sampling import NonRepeatingSampler, PrototypeNeighbourSampler, prototype_neighbour_sample
from .transitions import ClassTransitionTracker

__all__ = [
    "align_to_slots",
    "instance_slot_cost",
    "sinkhorn_plan",
    "InstanceClusterMapper",
    "random_mapping",
    "similarity_to_distance",
    "NonRepeatingSampler",
    "PrototypeNeighbourSampler",
    "prototype_neighbour_sample",
    "ClassTransitionTracker",
]
