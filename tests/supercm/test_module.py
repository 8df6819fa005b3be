"""ClusteringModule and cm_loss_terms: the SuperCM clustering-module maths."""

import itertools
import math

import pytest
import torch
import torch.nn.functional as F

from usb_asd.supercm import ClusteringModule, cm_loss_terms


def _random_inputs(n, d, k, seed=0, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, d, generator=gen, dtype=dtype)
    g = torch.softmax(2 * torch.randn(n, k, generator=gen, dtype=dtype), dim=1)
    mu = torch.randn(k, d, generator=gen, dtype=dtype)
    return z, g, mu


def _soft_kmeans(z, g, mu):
    n, d = z.shape
    dist = ((z[:, None, :] - mu[None, :, :]) ** 2).sum(-1)  # (n, K)
    return (g * dist).sum() / (n * d)


# ---------------------------------------------------------------- the maths

@pytest.mark.parametrize("n, d, k", [(1, 1, 1), (1, 3, 4), (5, 3, 2), (17, 8, 10), (64, 32, 7)])
def test_e1_e2_e3_is_soft_kmeans_distortion(n, d, k):
    z, g, mu = _random_inputs(n, d, k, seed=n * 100 + d * 10 + k)
    t = cm_loss_terms(z, g, mu)
    torch.testing.assert_close(t["e1"] + t["e2"] + t["e3"], _soft_kmeans(z, g, mu), rtol=1e-12, atol=1e-12)
    # Without alpha, E4 = 0 and the total is the distortion itself.
    assert t["e4"].item() == 0.0
    torch.testing.assert_close(t["total"], _soft_kmeans(z, g, mu), rtol=1e-12, atol=1e-12)


def test_identity_needs_rows_on_the_simplex():
    # Guard against a test that cannot fail: off the simplex the identity breaks.
    z, g, mu = _random_inputs(6, 3, 4, seed=1)
    t = cm_loss_terms(z, 1.7 * g, mu)
    assert not torch.isclose(t["e1"] + t["e2"] + t["e3"], _soft_kmeans(z, 1.7 * g, mu), rtol=1e-6)


def test_each_term_against_loops():
    n, d, k = 4, 3, 3
    z, g, mu = _random_inputs(n, d, k, seed=7)
    alpha = torch.tensor([0.5, 2.0, 3.0], dtype=torch.float64)
    Z, G, M, A = z.tolist(), g.tolist(), mu.tolist(), alpha.tolist()
    e1 = e2 = e3 = 0.0
    for i in range(n):
        for j in range(d):
            e1 += (Z[i][j] - sum(G[i][c] * M[c][j] for c in range(k))) ** 2
    for c in range(k):
        e2 += sum(G[i][c] * (1 - G[i][c]) for i in range(n)) * sum(M[c][j] ** 2 for j in range(d))
    for c, c2 in itertools.product(range(k), range(k)):
        if c != c2:
            ggt = sum(G[i][c] * G[i][c2] for i in range(n))
            e3 -= ggt * sum(M[c][j] * M[c2][j] for j in range(d))
    e4 = sum((1 - A[c]) * math.log(sum(G[i][c] for i in range(n)) / n) for c in range(k))
    t = cm_loss_terms(z, g, mu, alpha=alpha)
    assert t["e1"].item() == pytest.approx(e1 / (n * d), rel=1e-12)
    assert t["e2"].item() == pytest.approx(e2 / (n * d), rel=1e-12)
    assert t["e3"].item() == pytest.approx(e3 / (n * d), rel=1e-12)
    assert t["e4"].item() == pytest.approx(e4, rel=1e-12)
    assert t["total"].item() == pytest.approx((e1 + e2 + e3) / (n * d) + e4, rel=1e-12)


def test_e4_zero_for_alpha_one_and_hand_formula_otherwise():
    z, g, mu = _random_inputs(9, 2, 4, seed=3)
    for off in (None, 1, 1.0, [1.0, 1.0, 1.0, 1.0], torch.ones(4)):
        assert cm_loss_terms(z, g, mu, alpha=off)["e4"].item() == 0.0
    pi = g.mean(0)
    e4 = cm_loss_terms(z, g, mu, alpha=2.5)["e4"]
    torch.testing.assert_close(e4, ((1 - 2.5) * pi.log()).sum(), rtol=1e-13, atol=0)
    alpha = [0.5, 1.0, 2.0, 4.0]
    e4 = cm_loss_terms(z, g, mu, alpha=alpha)["e4"]
    expected = sum((1 - alpha[c]) * math.log(pi[c].item()) for c in range(4))
    assert e4.item() == pytest.approx(expected, rel=1e-13)
    # alpha > 1 rewards balance: balanced assignments have lower E4 than collapsed ones.
    balanced = torch.full((4, 2), 0.5, dtype=torch.float64)
    collapsed = torch.tensor([[0.99, 0.01]] * 4, dtype=torch.float64)
    zz, mm = torch.zeros(4, 1, dtype=torch.float64), torch.zeros(2, 1, dtype=torch.float64)
    assert cm_loss_terms(zz, balanced, mm, alpha=2.0)["e4"] < cm_loss_terms(zz, collapsed, mm, alpha=2.0)["e4"]


def test_gradcheck_of_the_terms():
    z, g, mu = _random_inputs(5, 3, 4, seed=11)
    for name in ("e1", "e2", "e3", "e4", "total"):
        def fn(z_, g_, m_, name=name):
            return cm_loss_terms(z_, g_, m_, alpha=[0.5, 2.0, 1.0, 3.0])[name]

        assert torch.autograd.gradcheck(
            fn, (z.clone().requires_grad_(), g.clone().requires_grad_(), mu.clone().requires_grad_())
        )


# ---------------------------------------------------------------- the module

def test_forward_logits_temperature_and_assignments():
    torch.manual_seed(0)
    cm = ClusteringModule(5, 3, temperature=0.5).double()
    z = torch.randn(7, 5, dtype=torch.float64)
    out = cm(z)
    expected = (z @ cm.assign.weight.t() + cm.assign.bias) / 0.5
    torch.testing.assert_close(out["logits"], expected, rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(out["assignments"], torch.softmax(expected, 1), rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(out["assignments"].sum(1), torch.ones(7, dtype=torch.float64))
    assert torch.equal(cm.predict(z), expected.argmax(1))


def _trained_supervised_module(d=6, k=3):
    torch.manual_seed(1)
    cm = ClusteringModule(d, k, centroids="supervised").double()
    z_lb = torch.randn(12, d, dtype=torch.float64)
    y_lb = torch.arange(12) % k
    cm.update_centroids(z_lb, y_lb)
    return cm, z_lb, y_lb


def test_supervised_centroids_are_class_means_and_loss_uses_them():
    cm, z_lb, y_lb = _trained_supervised_module()
    mu = cm.centroids()
    for c in range(3):
        torch.testing.assert_close(mu[c], z_lb[y_lb == c].mean(0), rtol=1e-13, atol=1e-13)
    z = torch.randn(10, 6, dtype=torch.float64)
    g = cm(z)["assignments"]
    torch.testing.assert_close(cm.loss(z)["total"], _soft_kmeans(z, g, mu), rtol=1e-12, atol=1e-12)


def test_gradients_reach_features_and_assignment_layer_not_supervised_centroids():
    cm, _, _ = _trained_supervised_module()
    z = torch.randn(10, 6, dtype=torch.float64, requires_grad=True)
    mu = cm.centroids()
    assert not mu.requires_grad
    assert not cm.class_means.sums.requires_grad and not cm.class_means.counts.requires_grad
    assert [n for n, _ in cm.named_parameters()] == ["assign.weight", "assign.bias"]
    cm.loss(z)["total"].backward()
    assert z.grad is not None and z.grad.abs().sum() > 0
    assert cm.assign.weight.grad is not None and cm.assign.weight.grad.abs().sum() > 0
    assert cm.assign.bias.grad is not None and cm.assign.bias.grad.abs().sum() > 0
    assert cm.class_means.sums.grad is None and cm.class_means.counts.grad is None
    assert mu.grad is None


def test_learned_centroids_get_gradients():
    torch.manual_seed(2)
    cm = ClusteringModule(4, 3, centroids="learned").double()
    assert cm.class_means is None and cm.mu.requires_grad
    assert cm.centroids() is cm.mu
    z = torch.randn(8, 4, dtype=torch.float64, requires_grad=True)
    cm.loss(z)["total"].backward()
    for p in (cm.mu, cm.assign.weight, cm.assign.bias, z):
        assert p.grad is not None and p.grad.abs().sum() > 0
    assert cm.update_centroids(z.detach(), torch.zeros(8, dtype=torch.long)) is None  # no-op


def test_module_alpha_buffer_and_e4():
    torch.manual_seed(3)
    cm = ClusteringModule(4, 3, alpha=[2.0, 2.0, 0.5], centroids="learned").double()
    z = torch.randn(8, 4, dtype=torch.float64)
    g = cm(z)["assignments"]
    expected = ((1 - torch.tensor([2.0, 2.0, 0.5], dtype=torch.float64)) * g.mean(0).log()).sum()
    torch.testing.assert_close(cm.loss(z)["e4"], expected, rtol=1e-12, atol=1e-12)
    assert "alpha" in cm.state_dict()
    assert ClusteringModule(4, 3, alpha=1.0).double().loss(z)["e4"].item() == 0.0


def test_update_centroids_with_confident_unlabelled_rows():
    cm = ClusteringModule(3, 3).double()
    with torch.no_grad():  # assignments = softmax(10 z): one-hot-ish rows are confident
        cm.assign.weight.copy_(10 * torch.eye(3))
        cm.assign.bias.zero_()
    z_lb = torch.tensor([[1.0, 0.0, 0.0]], dtype=torch.float64)
    z_ulb = torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.3, 0.3, 0.0]], dtype=torch.float64)
    mask = cm.update_centroids(z_lb, torch.tensor([0]), z_ulb=z_ulb)  # default threshold 0.95
    assert mask.tolist() == [True, True, False]
    torch.testing.assert_close(cm.centroids()[0], torch.tensor([1.5, 0.0, 0.0], dtype=torch.float64))
    torch.testing.assert_close(cm.centroids()[2], torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64))
    assert cm.class_means.seen.tolist() == [True, False, True]
    # Given probabilities take precedence over the module's own assignments.
    probs = torch.tensor([[0.0, 1.0, 0.0], [0.2, 0.2, 0.6], [0.0, 0.99, 0.01]], dtype=torch.float64)
    mask = cm.update_centroids(z_lb, torch.tensor([-1]), z_ulb=z_ulb, probs_ulb=probs, threshold=0.9)
    assert mask.tolist() == [True, False, True]
    torch.testing.assert_close(cm.centroids()[1], torch.tensor([1.15, 0.15, 0.0], dtype=torch.float64))


def test_state_dict_carries_running_means():
    cm, _, _ = _trained_supervised_module()
    sd = cm.state_dict()
    assert {"class_means.sums", "class_means.counts"} <= set(sd)
    fresh = ClusteringModule(6, 3).double()
    fresh.load_state_dict(sd)
    assert torch.equal(fresh.centroids(), cm.centroids())


def test_bad_arguments():
    with pytest.raises(ValueError, match="temperature"):
        ClusteringModule(4, 3, temperature=0.0)
    with pytest.raises(ValueError, match="temperature"):
        ClusteringModule(4, 3, temperature=-1.0)
    with pytest.raises(ValueError, match="centroids"):
        ClusteringModule(4, 3, centroids="kmeans")
    with pytest.raises(ValueError, match="alpha"):
        ClusteringModule(4, 3, alpha=[1.0, 2.0])
    with pytest.raises(ValueError, match="alpha"):
        ClusteringModule(4, 3, alpha=-1.0)
    cm = ClusteringModule(4, 3)
    with pytest.raises(ValueError, match="z"):
        cm(torch.zeros(5, 3))
    with pytest.raises(ValueError, match="z_lb"):
        cm.update_centroids(torch.zeros(2, 5), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="z_ulb"):
        cm.update_centroids(torch.zeros(2, 4), torch.zeros(2, dtype=torch.long), probs_ulb=torch.zeros(2, 3))
    z, g, mu = _random_inputs(5, 4, 3)
    with pytest.raises(ValueError, match="g must"):
        cm_loss_terms(z, g[:4], mu)
    with pytest.raises(ValueError, match="mu must"):
        cm_loss_terms(z, g, mu[:, :3])
    with pytest.raises(ValueError, match="z must"):
        cm_loss_terms(z[0], g, mu)
    with pytest.raises(ValueError, match="g must"):
        cm.loss_terms(z.float(), torch.ones(5, 2), torch.zeros(2, 4))


# ---------------------------------------------------------------- end to end

def _blobs(seed=0, per_class=60):
    gen = torch.Generator().manual_seed(seed)
    centres = torch.tensor([[-5.0, 0.0], [5.0, 0.0], [0.0, 7.0]])
    x = torch.cat([c + 0.8 * torch.randn(per_class, 2, generator=gen) for c in centres])
    y = torch.arange(3).repeat_interleave(per_class)
    # One labelled point per class, drawn at random from its blob.
    lb = torch.stack([c * per_class + torch.randint(per_class, (1,), generator=gen)[0] for c in range(3)])
    return x, y, lb


@pytest.fixture
def one_thread():
    # Tiny tensors gain nothing from threads, and on a busy 2-core machine
    # intra-op threads stall this loop by an order of magnitude.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("mode", ["supervised", "learned"])
def test_blobs_one_label_per_class(mode, one_thread):
    torch.manual_seed(0)
    x, y, lb = _blobs()
    feat = torch.nn.Linear(2, 8)
    cm = ClusteringModule(8, 3, centroids=mode)
    opt = torch.optim.Adam(list(feat.parameters()) + list(cm.parameters()), lr=0.02)
    beta = 1.0
    first = None
    for _ in range(300):
        z = feat(x)
        out = cm(z)
        cm.update_centroids(z[lb].detach(), y[lb])
        cm_loss = cm.loss(z, assignments=out["assignments"])["total"]
        loss = F.cross_entropy(out["logits"][lb], y[lb]) + beta * cm_loss
        first = loss.item() if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        acc = (cm.predict(feat(x)) == y).float().mean().item()
    assert loss.item() < first
    assert acc >= 0.95, acc


def _cluster_accuracy(pred, y, k=3):
    """Accuracy under the best one-to-one relabelling of clusters (k! permutations)."""
    return max((torch.tensor(p)[pred] == y).float().mean().item() for p in itertools.permutations(range(k)))


def test_cm_loss_alone_assigns_blobs_to_their_supervised_centroid(one_thread):
    # No cross-entropy: only the CM loss trains W, b; centroids = class means of
    # all points (as if every point were labelled). Soft k-means distortion is
    # minimised by assigning each point to its nearest centroid, i.e. its class.
    torch.manual_seed(0)
    x, y, _ = _blobs(seed=1)
    cm = ClusteringModule(2, 3, temperature=0.5)
    cm.update_centroids(x, y)
    opt = torch.optim.Adam(cm.parameters(), lr=0.05)
    for _ in range(200):
        loss = cm.loss(x)["total"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert (cm.predict(x) == y).float().mean().item() >= 0.95


def test_cm_loss_alone_with_learned_centroids_clusters_blobs(one_thread):
    # Unsupervised CM on fixed features: a differentiable soft k-means, so the
    # clusters must match the blobs up to relabelling and the centroids their means.
    # The Dirichlet prior (alpha > 1, E4) rewards balanced clusters; without it
    # k-means can leave a centroid dead (2 of 8 seeds merged two blobs).
    torch.manual_seed(0)
    x, y, _ = _blobs(seed=2)
    cm = ClusteringModule(2, 3, centroids="learned", alpha=3.0)
    opt = torch.optim.Adam(cm.parameters(), lr=0.05)
    for _ in range(300):
        loss = cm.loss(x)["total"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    pred = cm.predict(x)
    assert _cluster_accuracy(pred, y) >= 0.95
    means = torch.stack([x[y == c].mean(0) for c in range(3)])
    nearest = torch.cdist(cm.centroids().detach(), means).min(dim=1).values
    assert nearest.max().item() < 0.5
