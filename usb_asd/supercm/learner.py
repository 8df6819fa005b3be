"""The standalone SuperCM learner: cross-entropy + clustering module, registered in USB as ``supercm``.

SuperCM's own training objective without any SSL term (Singh et al., Pattern
Recognition 2025, arXiv 2507.13779; the "CE + CM" setting of the public code):

``L = CE(CM logits of x_lb, y_lb) + beta * cm_loss(z_lb ∪ z_ulb)``

The CM loss and its centroids come from :class:`SuperCMRegulariserMixin`, so the
standalone learner and the regulariser share one implementation; this class
only supplies the supervised step and the unlabelled batch's features.
"""

from __future__ import annotations

import torch
from semilearn.core import AlgorithmBase

from .hooks import refresh_centroids_before_step
from .regulariser import SUPERCM_ARGUMENTS, SuperCMRegulariserMixin


class SuperCM(SuperCMRegulariserMixin, AlgorithmBase):
    """CE on the labelled batch, plus the CM loss on labelled and weak unlabelled features.

    Usable from USB's own ``train.py`` once registered (``algorithm: supercm``);
    its keys are :data:`~usb_asd.supercm.regulariser.SUPERCM_ARGUMENTS`.
    """

    #: USB's ``BasicDataset`` builds items by learner name; this learner needs
    #: the weak unlabelled view only (as ``pseudolabel`` does), not a strong one.
    dataset_algorithm = "pseudolabel"

    def train_step(self, x_lb, y_lb, x_ulb_w):
        num_lb = y_lb.shape[0]
        # The CM hook reads the batch from here: when the plugin's mixin comes
        # first in the MRO, the regulariser's process_batch is not reached.
        self.supercm_batch = {"x_lb": x_lb, "y_lb": y_lb, "x_ulb_w": x_ulb_w}
        # The public code's eval-mode centroid forward (supercm_centroid_forward: eval), before the step.
        refresh_centroids_before_step(self)
        with self.amp_cm():
            if self.use_cat:
                outputs = self.model(torch.cat((x_lb, x_ulb_w)))
                logits_x_lb = outputs["logits"][:num_lb]
                feats_x_lb, feats_x_ulb_w = outputs["feat"][:num_lb], outputs["feat"][num_lb:]
            else:
                outs_x_lb = self.model(x_lb)
                logits_x_lb, feats_x_lb = outs_x_lb["logits"], outs_x_lb["feat"]
                feats_x_ulb_w = self.model(x_ulb_w)["feat"]
            sup_loss = self.ce_loss(logits_x_lb, y_lb, reduction="mean")
        out_dict = self.process_out_dict(loss=sup_loss, feat={"x_lb": feats_x_lb, "x_ulb_w": feats_x_ulb_w})
        log_dict = self.process_log_dict(sup_loss=sup_loss.item(), total_loss=sup_loss.item())
        return out_dict, log_dict

    @staticmethod
    def get_argument():
        # The switch itself is implied: this learner is the clustering module.
        return [a for a in SUPERCM_ARGUMENTS if a.name != "--supercm"]
