"""SuperCMHook on a hand-built step: the loss it adds and the centroids it moves."""

from types import SimpleNamespace

import pytest
import torch

from usb_asd.supercm.hooks import SuperCMHook
from usb_asd.supercm.module import ClusteringModule, cm_loss_terms


def _algorithm(ready=True, beta=0.5, admit=0.0, it=0, ramp=0):
    torch.manual_seed(0)
    cm = ClusteringModule(6, 3)
    z_lb = torch.randn(4, 6, requires_grad=True)
    z_ulb = torch.randn(5, 6, requires_grad=True)
    y_lb = torch.tensor([0, 1, 1, 2])
    args = SimpleNamespace(supercm_beta=beta, supercm_ramp_iter=ramp, supercm_admit_threshold=admit)
    algorithm = SimpleNamespace(
        args=args, it=it, clustering_module=cm, log_dict={},
        supercm_batch={"x_lb": None, "y_lb": y_lb, "x_ulb_w": torch.zeros(5, 1)},
        out_dict={"loss": torch.tensor(1.0, requires_grad=True), "feat": {"x_lb": z_lb, "x_ulb_w": z_ulb}},
        model=None,
    )
    if not ready:
        algorithm.labelled_targets_ready = lambda: False
    return algorithm, z_lb, z_ulb, y_lb


def test_adds_beta_times_cm_loss_with_centroids_refreshed_first():
    algorithm, z_lb, z_ulb, y_lb = _algorithm(beta=0.5)
    SuperCMHook().after_train_step(algorithm)
    cm = algorithm.clustering_module
    # Centroids are the class means of this batch's labelled features.
    expected_mu = torch.stack([z_lb[y_lb == c].mean(0) for c in range(3)]).detach()
    assert torch.allclose(cm.centroids(), expected_mu, atol=1e-6)
    z = torch.cat([z_lb, z_ulb])
    expected = 1.0 + 0.5 * cm_loss_terms(z, cm(z)["assignments"], expected_mu)["total"]
    assert torch.allclose(algorithm.out_dict["loss"], expected)
    algorithm.out_dict["loss"].backward()
    assert z_lb.grad is not None and z_ulb.grad is not None and cm.assign.weight.grad is not None
    assert algorithm.log_dict["train/supercm_loss"] > 0


def test_ramp_scales_beta():
    algorithm, *_ = _algorithm(beta=1.0, it=0, ramp=100)
    SuperCMHook().after_train_step(algorithm)
    added = algorithm.out_dict["loss"].item() - 1.0
    assert added == pytest.approx(torch.exp(torch.tensor(-5.0)).item() * algorithm.log_dict["train/supercm_loss"],
                                  rel=1e-5)


def test_confident_unlabelled_rows_join_the_centroids():
    algorithm, *_ = _algorithm(admit=1e-6)  # every row passes a ~0 threshold
    SuperCMHook().after_train_step(algorithm)
    assert algorithm.clustering_module.class_means.counts.sum().item() == 4 + 5
    assert algorithm.log_dict["train/supercm_admitted"] == 1.0


def test_placeholder_targets_leave_loss_and_centroids_alone():
    algorithm, *_ = _algorithm(ready=False)
    SuperCMHook().after_train_step(algorithm)
    assert algorithm.out_dict["loss"].item() == 1.0
    assert algorithm.clustering_module.class_means.counts.sum().item() == 0


class _BNNet(torch.nn.Module):
    """Features through BatchNorm: train and eval mode give different features."""

    def __init__(self):
        super().__init__()
        self.lin, self.bn = torch.nn.Linear(3, 6), torch.nn.BatchNorm1d(6)

    def forward(self, x):
        return {"feat": self.bn(self.lin(x))}


def _eval_forward_algorithm(average="iteration", it=0):
    from usb_asd.supercm.hooks import refresh_centroids_before_step  # noqa: F401

    torch.manual_seed(0)
    model = _BNNet()
    model.bn.running_mean.fill_(0.5)  # running statistics differ from the batch's
    cm = ClusteringModule(6, 3, average=average)
    args = SimpleNamespace(supercm_beta=0.5, supercm_ramp_iter=0, supercm_admit_threshold=0.0,
                           supercm_centroid_forward="eval")
    x_lb, y_lb = torch.randn(4, 3), torch.tensor([0, 1, 1, 2])
    algorithm = SimpleNamespace(args=args, it=it, clustering_module=cm, model=model, log_dict={},
                                supercm_batch={"x_lb": x_lb, "y_lb": y_lb, "x_ulb_w": torch.randn(5, 3)})
    return algorithm, x_lb, y_lb


def test_eval_mode_forward_sets_the_centroids_before_the_step():
    from usb_asd.supercm.hooks import refresh_centroids_before_step

    algorithm, x_lb, y_lb = _eval_forward_algorithm()
    model = algorithm.model
    refresh_centroids_before_step(algorithm)
    assert model.training  # put back in train mode
    model.eval()
    with torch.no_grad():
        z = model(x_lb)["feat"]
    model.train()
    expected = torch.stack([z[y_lb == c].mean(0) for c in range(3)])
    assert torch.allclose(algorithm.clustering_module.centroids(), expected, atol=1e-6)
    counts = algorithm.clustering_module.class_means.counts.clone()
    refresh_centroids_before_step(algorithm)  # a second call in the same iteration is a no-op
    assert torch.equal(algorithm.clustering_module.class_means.counts, counts)


def test_eval_mode_hook_adds_the_loss_without_a_second_centroid_update():
    from usb_asd.supercm.hooks import refresh_centroids_before_step

    algorithm, x_lb, y_lb = _eval_forward_algorithm()
    refresh_centroids_before_step(algorithm)
    z_lb = torch.randn(4, 6, requires_grad=True)
    z_ulb = torch.randn(5, 6, requires_grad=True)
    algorithm.out_dict = {"loss": torch.tensor(1.0, requires_grad=True), "feat": {"x_lb": z_lb, "x_ulb_w": z_ulb}}
    mu = algorithm.clustering_module.centroids().clone()
    SuperCMHook().after_train_step(algorithm)
    assert torch.equal(algorithm.clustering_module.centroids(), mu)
    assert algorithm.clustering_module.class_means.counts.sum().item() == 4
    assert algorithm.out_dict["loss"].item() > 1.0


def test_train_forward_mode_leaves_the_centroids_to_the_hook():
    from usb_asd.supercm.hooks import refresh_centroids_before_step

    algorithm, *_ = _eval_forward_algorithm(average="sample")
    algorithm.args.supercm_centroid_forward = "train"
    refresh_centroids_before_step(algorithm)
    assert algorithm.clustering_module.class_means.counts.sum().item() == 0
