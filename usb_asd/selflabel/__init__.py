"""Self-labelling from a given clustering: the baseline ASD's boost of an existing clustering must beat.

SCAN (Van Gansbeke et al., ECCV 2020) and SPICE (Niu, Shan & Wang, IEEE TIP
2022) end in a self-labelling stage: the images a clustering assigns most
confidently are taken as if their clusters were true labels, and an SSL
learner trains on them. :mod:`.selection` picks those images (plain numpy);
:mod:`.adaptor` is the USB glue (``adaptor: selflabel``).
"""

from .selection import DEFAULT_FRACTION, most_confident_per_cluster

__all__ = ["DEFAULT_FRACTION", "most_confident_per_cluster"]
