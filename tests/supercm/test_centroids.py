"""RunningClassMeans: exact cumulative class means (and the EMA / confident variants)."""

import pytest
import torch

from usb_asd.supercm import RunningClassMeans


def _batches(seed=0, k=5, d=4, n_batches=6):
    gen = torch.Generator().manual_seed(seed)
    out = []
    for b in range(n_batches):
        n = int(torch.randint(3, 12, (1,), generator=gen))
        feats = torch.randn(n, d, generator=gen, dtype=torch.float64) * 3 + b
        # Only a random subset of classes per batch (plus some "no label" rows).
        allowed = torch.randperm(k, generator=gen)[: int(torch.randint(1, k, (1,), generator=gen))]
        labels = allowed[torch.randint(0, len(allowed), (n,), generator=gen)]
        labels[torch.rand(n, generator=gen) < 0.2] = -1
        out.append((feats, labels))
    return out


def test_fresh_state_is_unseen_zero():
    rcm = RunningClassMeans(3, 2)
    assert not rcm.seen.any()
    assert torch.equal(rcm.means, torch.zeros(3, 2, dtype=torch.float64))


def test_equals_cumulative_mean_and_absent_classes_keep_value():
    k, d = 5, 4
    rcm = RunningClassMeans(k, d)
    all_f, all_y = [], []
    for feats, labels in _batches(k=k, d=d):
        before = rcm.means.clone()
        rcm.update(feats, labels)
        absent = torch.ones(k, dtype=torch.bool)
        absent[labels[labels >= 0]] = False
        # Classes absent from the batch: centroid unchanged, bit for bit.
        assert torch.equal(rcm.means[absent], before[absent])
        all_f.append(feats)
        all_y.append(labels)
        f, y = torch.cat(all_f), torch.cat(all_y)
        for c in range(k):
            sel = y == c
            if sel.any():
                assert rcm.seen[c]
                assert rcm.counts[c] == sel.sum()
                torch.testing.assert_close(rcm.means[c], f[sel].mean(0), rtol=1e-13, atol=1e-13)
            else:
                assert not rcm.seen[c]
                assert torch.equal(rcm.means[c], torch.zeros(d, dtype=torch.float64))


def test_negative_labels_ignored_and_no_gradient():
    rcm = RunningClassMeans(2, 3)
    feats = torch.tensor([[1.0, 2.0, 3.0], [100.0, 100.0, 100.0], [3.0, 4.0, 5.0]], requires_grad=True)
    rcm.update(feats, torch.tensor([0, -1, 0]))
    torch.testing.assert_close(rcm.means[0], torch.tensor([2.0, 3.0, 4.0], dtype=torch.float64))
    assert rcm.counts.tolist() == [2.0, 0.0]
    assert not rcm.means.requires_grad and not rcm.sums.requires_grad
    rcm.update(feats[:1], torch.tensor([-1]))  # nothing labelled: no change
    assert rcm.counts.tolist() == [2.0, 0.0]


def test_weighted_mean():
    rcm = RunningClassMeans(1, 1)
    rcm.update(torch.tensor([[0.0], [10.0]]), torch.tensor([0, 0]), weights=torch.tensor([3.0, 1.0]))
    torch.testing.assert_close(rcm.means, torch.tensor([[2.5]], dtype=torch.float64))
    rcm.update(torch.tensor([[7.0]]), torch.tensor([0]), weights=torch.tensor([0.0]))  # weight 0: no effect
    torch.testing.assert_close(rcm.means, torch.tensor([[2.5]], dtype=torch.float64))


def test_ema_variant():
    m = 0.25
    rcm = RunningClassMeans(2, 2, momentum=m)
    rcm.update(torch.tensor([[1.0, 1.0], [3.0, 3.0]]), torch.tensor([0, 0]))
    torch.testing.assert_close(rcm.means[0], torch.tensor([2.0, 2.0], dtype=torch.float64))  # first: batch mean
    rcm.update(torch.tensor([[10.0, 0.0]]), torch.tensor([0]))
    expected = (1 - m) * torch.tensor([2.0, 2.0]) + m * torch.tensor([10.0, 0.0])
    torch.testing.assert_close(rcm.means[0], expected.double())
    assert not rcm.seen[1]
    rcm.update(torch.tensor([[5.0, 5.0]]), torch.tensor([1]))
    torch.testing.assert_close(rcm.means[0], expected.double())  # absent: kept
    torch.testing.assert_close(rcm.means[1], torch.tensor([5.0, 5.0], dtype=torch.float64))


def test_update_confident_admits_only_rows_over_threshold():
    rcm = RunningClassMeans(3, 2)
    feats = torch.tensor([[1.0, 0.0], [2.0, 0.0], [0.0, 9.0], [4.0, 4.0]])
    probs = torch.tensor(
        [[0.96, 0.02, 0.02], [0.50, 0.40, 0.10], [0.01, 0.01, 0.98], [0.95, 0.05, 0.0]]
    )
    mask = rcm.update_confident(feats, probs, 0.95)
    assert mask.tolist() == [True, False, True, True]
    assert rcm.counts.tolist() == [2.0, 0.0, 1.0]
    torch.testing.assert_close(rcm.means[0], torch.tensor([2.5, 2.0], dtype=torch.float64))
    torch.testing.assert_close(rcm.means[2], torch.tensor([0.0, 9.0], dtype=torch.float64))


def test_state_dict_round_trip():
    a = RunningClassMeans(3, 2)
    a.update(torch.randn(8, 2), torch.tensor([0, 1, 0, 1, 0, 1, 0, -1]))
    sd = a.state_dict()
    assert set(sd) == {"sums", "counts"}
    b = RunningClassMeans(3, 2)
    b.load_state_dict(sd)
    assert torch.equal(a.means, b.means) and torch.equal(a.seen, b.seen)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"num_classes": 0, "feat_dim": 2}, "num_classes"),
        ({"num_classes": 2, "feat_dim": 0}, "feat_dim"),
        ({"num_classes": 2, "feat_dim": 2, "momentum": 0.0}, "momentum"),
        ({"num_classes": 2, "feat_dim": 2, "momentum": 1.5}, "momentum"),
    ],
)
def test_bad_constructor_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        RunningClassMeans(**kwargs)


def test_bad_update_arguments():
    rcm = RunningClassMeans(3, 2)
    with pytest.raises(ValueError, match="features"):
        rcm.update(torch.zeros(4, 3), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="labels"):
        rcm.update(torch.zeros(4, 2), torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match="labels"):
        rcm.update(torch.zeros(2, 2), torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="labels"):
        rcm.update(torch.zeros(2, 2), torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="weights"):
        rcm.update(torch.zeros(2, 2), torch.tensor([0, 1]), weights=torch.tensor([1.0, -1.0]))
    with pytest.raises(ValueError, match="probs"):
        rcm.update_confident(torch.zeros(2, 2), torch.zeros(2, 4), 0.9)
    with pytest.raises(ValueError, match="threshold"):
        rcm.update_confident(torch.zeros(2, 2), torch.zeros(2, 3), 1.5)
    assert not rcm.seen.any()  # nothing was half-applied


def test_iteration_average_follows_the_public_formula():
    """mu_k <- (m_k + (i - 1) mu_k) / i for present classes; the first batch of a class sets m_k."""
    k, d = 5, 4
    rcm = RunningClassMeans(k, d)
    mu = torch.zeros(k, d, dtype=torch.float64)
    seen = torch.zeros(k, dtype=torch.bool)
    total = torch.zeros(k, dtype=torch.float64)
    for i, (feats, labels) in enumerate(_batches(k=k, d=d, n_batches=8), start=1):
        rcm.update_iteration_average(feats, labels, i)
        for c in range(k):
            rows = labels == c
            if rows.any():
                m = feats[rows].mean(0)
                mu[c] = m if not seen[c] else (m + (i - 1) * mu[c]) / i
                seen[c] = True
                total[c] += rows.sum()
        assert torch.allclose(rcm.means, mu, atol=1e-12)
    assert torch.equal(rcm.counts, total)  # counts stay sample counts (exact)


def test_iteration_average_weights_batches_not_samples():
    rcm = RunningClassMeans(1, 1)
    rcm.update_iteration_average(torch.tensor([[0.0]] * 9), torch.zeros(9, dtype=torch.long), 1)
    rcm.update_iteration_average(torch.tensor([[1.0]]), torch.zeros(1, dtype=torch.long), 2)
    assert rcm.means.item() == pytest.approx(0.5)  # the exact sample mean would be 0.1
    with pytest.raises(ValueError, match="iteration"):
        rcm.update_iteration_average(torch.zeros(1, 1), torch.zeros(1, dtype=torch.long), 0)
