"""Instance sampling: non-repeating uniform walk and prototypes-with-neighbours (PS)."""

import copy

import numpy as np
import pytest

from usb_asd.asd.sampling import (
    NonRepeatingSampler,
    PrototypeNeighbourSampler,
    default_num_prototypes,
    prototype_neighbour_sample,
)


def _mixture(seed: int = 0, std: float = 0.1):
    """8 well-separated modes on the axes of R^16; mode 0 holds 800 of 996 points."""
    rng = np.random.default_rng(seed)
    sizes = [800] + [28] * 7
    means = 10.0 * np.eye(16)[:8]
    x = np.concatenate([means[i] + std * rng.standard_normal((s, 16)) for i, s in enumerate(sizes)])
    return x, np.repeat(np.arange(8), sizes)


# --- NonRepeatingSampler ------------------------------------------------------


@pytest.mark.parametrize("n, m", [(23, 5), (20, 5), (7, 7), (10, 3)])
def test_non_repeating_covers_pool_before_repeating(n, m):
    sampler = NonRepeatingSampler(n, seed=1)
    draws = [sampler.draw(m) for _ in range(4 * n)]
    for d in draws:
        assert d.shape == (m,) and d.dtype == np.int64
        assert np.unique(d).size == m  # no duplicates within a draw
        assert d.min() >= 0 and d.max() < n
    # ceil(N/m) draws cover everything.
    first = np.concatenate(draws[: -(-n // m)])
    assert set(first.tolist()) == set(range(n))
    # The stream is a concatenation of full permutations: every index once before any repeat.
    stream = np.concatenate(draws)
    for start in range(0, stream.size - n + 1, n):
        assert np.array_equal(np.sort(stream[start:start + n]), np.arange(n))


def test_non_repeating_state_round_trip_continues_identically():
    a = NonRepeatingSampler(17, seed=3)
    for _ in range(5):
        a.draw(4)
    state = copy.deepcopy(a.state_dict())
    b = NonRepeatingSampler(17, seed=99)
    b.load_state_dict(state)
    for m in [4, 6, 17, 1, 9]:
        assert np.array_equal(a.draw(m), b.draw(m))


def test_non_repeating_seeds_differ_and_repeat():
    assert np.array_equal(NonRepeatingSampler(50, 0).draw(10), NonRepeatingSampler(50, 0).draw(10))
    assert not np.array_equal(NonRepeatingSampler(50, 0).draw(10), NonRepeatingSampler(50, 1).draw(10))


def test_non_repeating_rejects_bad_m():
    sampler = NonRepeatingSampler(300, seed=0)
    with pytest.raises(ValueError, match=r"m \(500\) must not exceed the number of samples \(300\)"):
        sampler.draw(500)
    with pytest.raises(ValueError, match="m"):
        sampler.draw(0)


# --- prototype_neighbour_sample ----------------------------------------------


def test_ps_covers_imbalanced_modes_more_often_than_uniform():
    x, modes = _mixture()
    ps_full = uniform_full = 0
    for trial in range(50):
        ps = prototype_neighbour_sample(x, 16, 8, np.random.default_rng(trial))
        uni = np.random.default_rng(trial).choice(len(x), 16, replace=False)
        ps_full += np.unique(modes[ps]).size == 8
        uniform_full += np.unique(modes[uni]).size == 8
    # Uniform sampling almost never reaches all seven 2.8% modes with 16 draws.
    assert uniform_full <= 5
    assert ps_full >= 35
    assert ps_full >= uniform_full + 30


def test_ps_groups_are_prototypes_with_their_neighbours():
    x, modes = _mixture()
    out = prototype_neighbour_sample(x, 32, 8, np.random.default_rng(4))
    assert out.shape == (32,) and np.unique(out).size == 32
    assert np.unique(modes[out[:8]]).size == 8  # the first P are the prototypes, one per mode here
    # Round-robin: each prototype brings 3 neighbours from its own mode.
    assert np.array_equal(np.bincount(modes[out], minlength=8), np.full(8, 4))


def test_ps_neighbours_are_nearest_by_cosine():
    # Points on a circle: a single prototype brings its angular nearest neighbours.
    angles = np.linspace(0, 2 * np.pi, 36, endpoint=False)
    x = np.stack([np.cos(angles), np.sin(angles)], axis=1) * np.linspace(1, 3, 36)[:, None]
    out = prototype_neighbour_sample(x, 5, 1, np.random.default_rng(0))
    p = out[0]
    ring_dist = np.minimum((out - p) % 36, (p - out) % 36)
    assert sorted(ring_dist.tolist()) == [0, 1, 1, 2, 2]


def test_ps_respects_candidates_and_validates():
    x, _ = _mixture()
    cand = np.arange(100, 300)
    out = prototype_neighbour_sample(x, 20, 5, np.random.default_rng(0), candidates=cand)
    assert np.all(np.isin(out, cand)) and np.unique(out).size == 20
    with pytest.raises(ValueError, match=r"m \(201\) must not exceed the number of candidates \(200\)"):
        prototype_neighbour_sample(x, 201, 5, np.random.default_rng(0), candidates=cand)
    with pytest.raises(ValueError, match=r"m \(2000\) must not exceed the number of samples \(996\)"):
        prototype_neighbour_sample(x, 2000, 5, np.random.default_rng(0))
    with pytest.raises(ValueError, match="num_prototypes"):
        prototype_neighbour_sample(x, 4, 5, np.random.default_rng(0))


def test_ps_handles_duplicate_points():
    x = np.ones((10, 3))
    out = prototype_neighbour_sample(x, 10, 4, np.random.default_rng(0))
    assert np.array_equal(np.sort(out), np.arange(10))


def test_default_num_prototypes():
    assert default_num_prototypes(40) == 10  # n_l = 4k -> k prototypes
    assert default_num_prototypes(3) == 1
    assert default_num_prototypes(10, neighbours_per_prototype=1) == 5
    assert default_num_prototypes(10, neighbours_per_prototype=0) == 10


# --- PrototypeNeighbourSampler -----------------------------------------------


def test_ps_sampler_prefers_unvisited_then_resets():
    x, _ = _mixture()
    x = x[::25]  # 40 points
    sampler = PrototypeNeighbourSampler(40, seed=0)
    draws = [sampler.draw(8, x) for _ in range(5)]
    assert np.array_equal(np.sort(np.concatenate(draws)), np.arange(40))  # full coverage, no repeats
    assert sampler.visited.all()
    nxt = sampler.draw(8, x)  # fewer than 8 unvisited: a new pass starts
    assert np.unique(nxt).size == 8 and sampler.visited.sum() == 8


def test_ps_sampler_state_round_trip():
    x, _ = _mixture()
    a = PrototypeNeighbourSampler(len(x), seed=2, neighbours_per_prototype=3)
    a.draw(16, x)
    state = copy.deepcopy(a.state_dict())
    b = PrototypeNeighbourSampler(len(x), seed=7, neighbours_per_prototype=3)
    b.load_state_dict(state)
    for _ in range(3):
        assert np.array_equal(a.draw(16, x), b.draw(16, x))


def test_ps_sampler_validates():
    with pytest.raises(ValueError, match="at most one"):
        PrototypeNeighbourSampler(10, 0, num_prototypes=2, neighbours_per_prototype=1)
    sampler = PrototypeNeighbourSampler(300, 0)
    with pytest.raises(ValueError, match=r"m \(500\) must not exceed the number of samples \(300\)"):
        sampler.draw(500, np.zeros((300, 4)))
    with pytest.raises(ValueError, match="features"):
        sampler.draw(10, np.zeros((299, 4)))
