"""k-medoids instance->cluster mapping: planted groups, stable ids, warm-up, state."""

import copy

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from usb_asd.asd.mapping import (
    InstanceClusterMapper,
    _alternate,
    _assign,
    _farthest_class,
    _partition_medoids,
    default_neighbours,
    kmedoids_objective,
    match_cluster_ids,
    neighbour_graph,
    random_mapping,
    spectral_distance,
)


def _planted(seed: int = 0, groups: int = 4, size: int = 5, noise: float = 1.0):
    """Block similarity: within-group entries in [5, 10], across-group noise in [0, noise]; shuffled order."""
    rng = np.random.default_rng(seed)
    n = groups * size
    truth = np.repeat(np.arange(groups), size)
    sim = rng.uniform(0.0, noise, (n, n))
    same = truth[:, None] == truth[None, :]
    sim[same] = rng.uniform(5.0, 10.0, same.sum())
    order = rng.permutation(n)
    return sim[np.ix_(order, order)], truth[order]  # not symmetric: fit symmetrises


def _same_partition(a, b):
    return adjusted_rand_score(a, b) == 1.0


def test_planted_groups_recovered_with_k_nonempty_clusters():
    for seed in range(3):
        sim, truth = _planted(seed)
        mapper = InstanceClusterMapper(num_clusters=4, seed=seed)
        mapping = mapper.fit(sim)
        assert mapping.shape == (20,) and mapping.dtype == np.int64
        assert _same_partition(mapping, truth)
        assert np.array_equal(np.bincount(mapping, minlength=4), np.full(4, 5))
        np.testing.assert_array_equal(mapping[mapper.medoids], np.arange(4))


def test_refit_same_similarity_keeps_mapping():
    sim, _ = _planted(1)
    mapper = InstanceClusterMapper(4, seed=0)
    first = mapper.fit(sim)
    np.testing.assert_array_equal(mapper.fit(sim), first)


def test_perturbed_similarity_keeps_ids():
    sim, _ = _planted(2)
    mapper = InstanceClusterMapper(4, seed=0)
    first = mapper.fit(sim)
    rng = np.random.default_rng(9)
    for _ in range(3):
        np.testing.assert_array_equal(mapper.fit(sim * rng.uniform(0.8, 1.2, sim.shape)), first)


def test_ids_follow_groups_when_one_class_moves():
    sim, truth = _planted(3)
    mapper = InstanceClusterMapper(4, seed=0)
    first = mapper.fit(sim)
    # Move every medoid's worth of structure: class x leaves its group for group g.
    x = int(np.flatnonzero(~np.isin(np.arange(20), mapper.medoids))[0])
    g = (truth[x] + 1) % 4
    moved = truth.copy()
    moved[x] = g
    sim2 = np.where(moved[:, None] == moved[None, :], 8.0, 0.5)
    second = mapper.fit(sim2)
    assert _same_partition(second, moved)
    keep = np.arange(20) != x
    np.testing.assert_array_equal(second[keep], first[keep])
    assert second[x] == first[np.flatnonzero(truth == g)[0]]


def test_relabelling_matches_previous_ids():
    old = np.repeat(np.arange(4), 3)
    perm = np.array([2, 0, 3, 1])
    new = perm[old]  # same groups, numbered differently
    new_to_old = match_cluster_ids(new, old, 4)
    np.testing.assert_array_equal(new_to_old[new], old)
    # Ties keep the identity (the warm-start order): every new cluster overlaps old cluster 3
    # once, so any assignment is optimal; the plain Hungarian would give [3, 1, 0, 2].
    np.testing.assert_array_equal(match_cluster_ids(np.arange(4), np.full(4, 3), 4), np.arange(4))
    # A strictly larger overlap still wins over the identity bonus.
    np.testing.assert_array_equal(match_cluster_ids(np.array([0, 0, 1, 1]), np.array([1, 1, 0, 0]), 2), [1, 0])


def test_all_zero_similarity_is_warm_up():
    mapper = InstanceClusterMapper(4, seed=0)
    assert mapper.fit(np.zeros((20, 20))) is None
    assert mapper.mapping is None
    sim, _ = _planted(0)
    first = mapper.fit(sim)
    np.testing.assert_array_equal(mapper.fit(np.zeros((20, 20))), first)
    # Diagonal-only input is all zero after zeroing the diagonal.
    np.testing.assert_array_equal(mapper.fit(np.eye(20)), first)


def test_degenerate_similarity_still_gives_k_nonempty_clusters():
    for sim in (np.ones((10, 10)), np.pad(np.ones((1, 1)), ((0, 9), (1, 8)))):
        mapper = InstanceClusterMapper(4, seed=0)
        mapping = mapper.fit(sim)
        assert np.unique(mapping).size == 4
        assert np.unique(mapper.medoids).size == 4
        np.testing.assert_array_equal(mapping[mapper.medoids], np.arange(4))


def test_n_smaller_than_k_and_bad_inputs_raise():
    mapper = InstanceClusterMapper(5, seed=0)
    with pytest.raises(ValueError, match=r"num_clusters \(5\)"):
        mapper.fit(np.ones((4, 4)))
    with pytest.raises(ValueError, match="non-negative"):
        mapper.fit(-np.ones((6, 6)))
    with pytest.raises(ValueError, match="square"):
        mapper.fit(np.ones((6, 5)))


def test_state_round_trip_gives_identical_future():
    sim, _ = _planted(5)
    a = InstanceClusterMapper(4, seed=0)
    a.fit(sim)
    b = InstanceClusterMapper(4, seed=123)
    b.load_state_dict(copy.deepcopy(a.state_dict()))
    np.testing.assert_array_equal(b.mapping, a.mapping)
    sim2, _ = _planted(6)
    np.testing.assert_array_equal(a.fit(sim2), b.fit(sim2))
    np.testing.assert_array_equal(a.medoids, b.medoids)


def test_random_mapping_is_balanced():
    mapping = random_mapping(22, 4, np.random.default_rng(0))
    counts = np.bincount(mapping, minlength=4)
    assert counts.sum() == 22 and counts.min() >= 5 and counts.max() <= 6
    assert not np.array_equal(mapping, np.arange(22) % 4)
    with pytest.raises(ValueError, match=r"k \(5\)"):
        random_mapping(4, 5, np.random.default_rng(0))


def _star(groups, centres):
    """Similarity 9 between each centre and its group, 1 inside a group otherwise, 0 across."""
    groups = np.asarray(groups)
    sim = np.where(groups[:, None] == groups[None, :], 1.0, 0.0)
    for c in centres:
        sim[c, groups == groups[c]] = sim[groups == groups[c], c] = 9.0
    np.fill_diagonal(sim, 0.0)
    return sim


def test_ids_follow_the_majority_when_groups_swap_medoids():
    # Old groups {0,1,2} and {3,4,5}, centred on 0 and 3 (the medoids).
    mapper = InstanceClusterMapper(2, seed=0)
    first = mapper.fit(_star([0, 0, 0, 1, 1, 1], centres=[0, 3]))
    assert _same_partition(first, [0, 0, 0, 1, 1, 1])
    assert sorted(mapper.medoids.tolist()) == [0, 3]
    # New groups {0,4,5} and {3,1,2}: each old medoid now heads the other group's majority.
    new_groups = np.array([0, 1, 1, 1, 0, 0])
    second = mapper.fit(_star(new_groups, centres=[0, 3]))
    assert _same_partition(second, new_groups)
    # Ids follow the majority of members (Hungarian on overlap), not the medoids.
    assert second[4] == first[4] and second[1] == first[1]
    np.testing.assert_array_equal(second[mapper.medoids], [0, 1])
    assert mapper.medoids[first[4]] == 0


# ---- asd_kmedoids_distance: spectral -------------------------------------------


def _hub(seed: int, groups: int = 4, size: int = 5, scale: float = 60.0):
    """Planted groups where group 0's classes move 60x more often, towards everything.

    ``S_ab = base_ab * sqrt(w_a w_b)`` with ``w = 60`` on group 0: its noise to
    the other groups (up to ~11) exceeds their own within-group counts (5-10).
    """
    rng = np.random.default_rng(seed)
    n = groups * size
    truth = np.repeat(np.arange(groups), size)
    weight = np.where(truth == 0, scale, 1.0)
    same = truth[:, None] == truth[None, :]
    base = np.where(same, rng.uniform(5.0, 10.0, (n, n)), rng.uniform(0.0, 1.5, (n, n)))
    sim = base * np.sqrt(np.outer(weight, weight))
    sim = 0.5 * (sim + sim.T)
    np.fill_diagonal(sim, 0.0)
    return sim, truth


def test_spectral_distance_of_disconnected_groups_is_zero_within_and_sqrt2_across():
    # k disconnected blocks: the top-k eigenvectors of D^-1/2 S D^-1/2 span the
    # blocks' (degree-weighted) indicators, so unit-normalised rows coincide
    # within a block and are orthogonal across blocks.
    rng = np.random.default_rng(0)
    truth = rng.permutation(np.repeat(np.arange(3), 4))
    sim = np.where(truth[:, None] == truth[None, :], rng.uniform(1.0, 5.0, (12, 12)), 0.0)
    sim = 0.5 * (sim + sim.T)
    np.fill_diagonal(sim, 0.0)
    dist = spectral_distance(sim, 3)
    same = truth[:, None] == truth[None, :]
    np.testing.assert_allclose(dist[same], 0.0, atol=1e-7)
    np.testing.assert_allclose(dist[~same], np.sqrt(2.0), atol=1e-7)
    np.testing.assert_allclose(dist, dist.T)


def test_spectral_distance_gives_an_isolated_class_distance_one_and_checks_inputs():
    sim = np.ones((6, 6))
    sim[4, :] = sim[:, 4] = sim[5, :] = sim[:, 5] = 0.0  # classes 4 and 5 never moved
    np.fill_diagonal(sim, 0.0)
    dist = spectral_distance(sim, 2)
    np.testing.assert_allclose(dist[4:, :], [[1, 1, 1, 1, 0, 1], [1, 1, 1, 1, 1, 0]])
    np.testing.assert_allclose(dist[:4, :4], 0.0, atol=1e-7)
    with pytest.raises(ValueError, match="dim must lie in"):
        spectral_distance(sim, 7)
    with pytest.raises(ValueError, match="positive entry"):
        spectral_distance(np.zeros((3, 3)), 2)


def test_spectral_distance_recovers_groups_around_a_hub_that_the_linear_distance_merges():
    linear_exact = 0
    for seed in range(6):
        sim, truth = _hub(seed)
        spectral = InstanceClusterMapper(4, seed=0, distance="spectral").fit(sim)
        assert _same_partition(spectral, truth)
        linear_exact += _same_partition(InstanceClusterMapper(4, seed=0).fit(sim), truth)
    # 1 - S / max S: the hub's noise outweighs the other groups' own counts.
    assert linear_exact == 0


def test_spectral_mapper_recovers_planted_groups_and_keeps_ids():
    sim, truth = _planted(3)
    mapper = InstanceClusterMapper(4, seed=0, distance="spectral")
    first = mapper.fit(sim)
    assert _same_partition(first, truth)
    rng = np.random.default_rng(1)
    np.testing.assert_array_equal(mapper.fit(sim * rng.uniform(0.8, 1.2, sim.shape)), first)


def test_distance_option_is_checked_and_kept_in_state():
    with pytest.raises(ValueError, match="asd_kmedoids_distance must be one of"):
        InstanceClusterMapper(4, seed=0, distance="cosine")
    mapper = InstanceClusterMapper(4, seed=0, distance="spectral")
    mapper.fit(_planted(0)[0])
    restored = InstanceClusterMapper(4, seed=0)
    restored.load_state_dict(mapper.state_dict())
    assert restored.distance == "spectral"
    old = mapper.state_dict()
    del old["distance"]  # a state written before the option existed
    restored.load_state_dict(old)
    assert restored.distance == "linear"


# ---- a fit from a given partition (a state without medoids) --------------------


def _set_partition(mapper, mapping):
    """The mapper's state with ``mapping`` and no medoids: how a given clustering seeds a fit."""
    mapper.load_state_dict({**mapper.state_dict(), "mapping": np.asarray(mapping), "medoids": None})


def test_a_fit_from_a_given_partition_keeps_its_ids():
    sim, truth = _planted(0)
    mapper = InstanceClusterMapper(4, seed=0, distance="spectral")
    mapper.fit(sim)
    before = mapper.mapping
    # Move one class of each of two groups to the other's cluster.
    a = int(np.flatnonzero(truth == truth[0])[1])
    b = int(np.flatnonzero(truth != truth[0])[0])
    new = before.copy()
    new[[a, b]] = before[[b, a]]
    _set_partition(mapper, new)
    np.testing.assert_array_equal(mapper.mapping, new)
    assert mapper.medoids is None
    # The similarity still says the planted groups: the fit restores them, with the
    # ids of the given partition (the majority of each group kept its id).
    np.testing.assert_array_equal(mapper.fit(sim), before)
    np.testing.assert_array_equal(mapper.mapping[mapper.medoids], np.arange(4))


def test_partition_medoids_fill_an_emptied_cluster_with_the_farthest_class():
    # Points on a line: 0, 1, 2 | 10, 11 | 20; cluster 2 emptied.
    x = np.array([0.0, 1.0, 2.0, 10.0, 11.0, 20.0])
    dist = np.abs(x[:, None] - x[None, :])
    medoids = _partition_medoids(dist, np.array([0, 0, 0, 1, 1, 1]), 3)
    assert medoids[0] == 1  # the middle of {0, 1, 2}
    assert medoids[1] == 4  # {10, 11, 20}: distance sums 11, 10, 19
    assert medoids[2] == 5  # the emptied cluster: the class farthest from medoids 1 and 4
    assert np.unique(medoids).size == 3


def test_state_of_a_given_partition_round_trips_and_refits_identically():
    sim, _ = _planted(1)
    mapper = InstanceClusterMapper(4, seed=0, distance="spectral")
    mapper.fit(sim)
    partition = mapper.mapping
    partition[[0, 1, 2]] = [3, 3, 0]
    _set_partition(mapper, partition)
    restored = InstanceClusterMapper(4, seed=5)
    restored.load_state_dict(copy.deepcopy(mapper.state_dict()))
    assert restored.medoids is None
    np.testing.assert_array_equal(restored.mapping, mapper.mapping)
    np.testing.assert_array_equal(restored.fit(sim + 0.5), mapper.fit(sim + 0.5))
    bad = mapper.state_dict()
    bad["mapping"] = None
    with pytest.raises(ValueError, match="medoids need a mapping"):
        InstanceClusterMapper(4, seed=0).load_state_dict(bad)


def _planted_similarity(n, k, seed=0, within=1.0, across=0.02, density=1.0):
    """Noisy block similarity: n classes in k equal blocks (class c in block c % k).

    With ``density < 1`` only that share of the within-block pairs, and a tenth of it
    across blocks, are non-zero (sparse, as counted transitions are).
    """
    rng = np.random.default_rng(seed)
    truth = np.arange(n) % k
    same = truth[:, None] == truth[None, :]
    sim = np.where(same, within, across) * rng.uniform(0.5, 1.5, size=(n, n))
    if density < 1.0:
        keep = rng.random((n, n)) < np.where(same, density, density / 10)
        sim = sim * (keep | keep.T)
    sim = 0.5 * (sim + sim.T)
    np.fill_diagonal(sim, 0.0)
    return sim, truth


# Lanczos (sparse, k <= n / 10), then syevr's subset (k = n / 4, ImageNet-1k's ratio)
@pytest.mark.parametrize("n, k, density", [(1200, 20, 0.1), (1200, 300, 1.0)])
def test_partial_eigensolvers_give_the_dense_embedding_and_partition(n, k, density, monkeypatch):
    from usb_asd.asd import mapping

    sim, truth = _planted_similarity(n, k, density=density)
    assert n > mapping.DENSE_EIGEN_MAX_N  # the partial solvers are the ones under test
    assert (np.count_nonzero(sim) <= mapping.SPARSE_EIGEN_MAX_DENSITY * n * n) == (density < 1)
    partial = spectral_distance(sim, k)
    monkeypatch.setattr(mapping, "DENSE_EIGEN_MAX_N", 10**9)
    dense = spectral_distance(sim, k)
    # Same eigenspace: the row-normalised embedding's distances agree (signs and rotations drop out).
    np.testing.assert_allclose(partial, dense, atol=1e-6)
    monkeypatch.undo()
    labels = InstanceClusterMapper(k, seed=0, distance="spectral").fit(sim)
    assert adjusted_rand_score(truth, labels) == 1.0


# ---- the vectorised medoid update against the loop over clusters it replaced ------------
def _alternate_loop(dist, medoids, max_iter):
    """The medoid update as written before vectorising: one cluster at a time."""
    medoids = medoids.copy()
    iterations = 0
    for iterations in range(1, max_iter + 1):
        labels = _assign(dist, medoids)
        new = medoids.copy()
        for c in range(medoids.size):
            members = np.flatnonzero(labels == c)
            spread = dist[np.ix_(members, members)].sum(axis=1)
            best = int(np.argmin(spread))
            current = int(np.flatnonzero(members == medoids[c])[0])
            if spread[best] < spread[current] - 1e-12 * max(1.0, abs(spread[current])):
                new[c] = members[best]
        if np.array_equal(new, medoids):
            break
        medoids = new
    return _assign(dist, medoids), medoids, iterations


def _partition_medoids_loop(dist, labels, k):
    medoids = np.full(k, -1, dtype=np.int64)
    for c in range(k):
        members = np.flatnonzero(labels == c)
        if members.size:
            medoids[c] = members[int(np.argmin(dist[np.ix_(members, members)].sum(axis=1)))]
    for c in np.flatnonzero(medoids < 0):
        medoids[c] = _farthest_class(dist, medoids[medoids >= 0])
    return medoids


@pytest.mark.parametrize("seed", range(6))
def test_vectorised_medoid_update_equals_the_loop_to_the_bit(seed):
    """Random dissimilarities (continuous, and rounded so that ties occur), random starts:
    the same medoids, labels and iteration counts; the same medoids of random partitions."""
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(30, 300)), int(rng.integers(2, 25))
    points = rng.normal(size=(n, 3))
    dist = np.sqrt(((points[:, None] - points[None]) ** 2).sum(-1))
    if seed % 2:
        dist = np.round(dist, 1)  # many equal sums: the tie rules must agree too
    start = rng.choice(n, size=k, replace=False)
    for max_iter in (1, 3, 300):
        labels, medoids, iterations = _alternate(dist, start, max_iter)
        ref_labels, ref_medoids, ref_iterations = _alternate_loop(dist, start, max_iter)
        np.testing.assert_array_equal(medoids, ref_medoids)
        np.testing.assert_array_equal(labels, ref_labels)
        assert iterations == ref_iterations
    assert iterations > 1  # the iterations moved the medoids: the comparison is not of the start
    partition = rng.integers(0, k, n)
    partition[partition == 0] = 1  # an empty cluster: filled with the farthest class by both
    np.testing.assert_array_equal(_partition_medoids(dist, partition, k), _partition_medoids_loop(dist, partition, k))


# ---- the neighbour graph the spectral distance is computed on ---------------------


def _groups_under_dense_noise(seed: int, groups: int = 10, size: int = 10, noise: float = 2.0):
    """Planted groups whose own links (half the pairs, 2-6) are outweighed in total by weak noise to every class.

    Per class: about 4.5 links of 4 within its group (18) against 90 links of
    about 1 to the others (90): every class's strongest links are its own group's.
    """
    rng = np.random.default_rng(seed)
    n = groups * size
    truth = np.repeat(np.arange(groups), size)
    same = truth[:, None] == truth[None, :]
    linked = same & (rng.uniform(size=(n, n)) < 0.5)
    sim = np.where(linked, rng.uniform(2.0, 6.0, (n, n)), np.where(same, 0.0, rng.uniform(0.0, noise, (n, n))))
    sim = 0.5 * (sim + sim.T)
    np.fill_diagonal(sim, 0.0)
    return sim, truth


def test_neighbour_graph_keeps_each_classes_strongest_links_symmetrically():
    sim = np.array([[0, 5, 1, 2], [5, 0, 3, 0], [1, 3, 0, 4], [2, 0, 4, 0]], dtype=float)
    graph = neighbour_graph(sim, 1)
    # top-1: 0->1, 1->0, 2->3, 3->2; the union is symmetric, weights unchanged.
    expected = np.zeros((4, 4))
    expected[0, 1] = expected[1, 0] = 5
    expected[2, 3] = expected[3, 2] = 4
    np.testing.assert_array_equal(graph, expected)
    np.testing.assert_array_equal(neighbour_graph(sim, 3), sim)
    assert default_neighbours(100, 10) == 5 and default_neighbours(40, 10) == 2 and default_neighbours(3, 10) == 1
    with pytest.raises(ValueError, match="neighbours"):
        neighbour_graph(sim, 0)


def test_spectral_mapper_recovers_groups_that_dense_noise_hides():
    from sklearn.metrics import adjusted_rand_score

    dense_scores = []
    for seed in range(5):
        sim, truth = _groups_under_dense_noise(seed)
        labels = InstanceClusterMapper(10, seed=0, distance="spectral").fit(sim)
        assert adjusted_rand_score(truth, labels) > 0.95
        # The same k-Medoids on the dense graph's embedding merges and splits groups.
        dist = spectral_distance(sim, 10)
        dense_scores.append(adjusted_rand_score(truth, _kmedoids_labels(dist, 10)))
    assert max(dense_scores) < 0.9


def _kmedoids_labels(dist: np.ndarray, k: int) -> np.ndarray:
    """BUILD then the alternate iterations on a precomputed distance (the mapper's cold start)."""
    from sklearn_extra.cluster import KMedoids

    medoids = KMedoids(k, metric="precomputed", method="alternate", init="build").fit(dist).medoid_indices_
    return _alternate(dist, np.asarray(medoids, dtype=np.int64), 300)[0]


def test_kmedoids_objective_sums_each_class_at_its_nearest_medoid():
    x = np.array([0.0, 1.0, 5.0, 6.0, 9.0])
    dist = np.abs(x[:, None] - x[None, :])
    assert kmedoids_objective(dist, np.array([0, 3])) == pytest.approx(0 + 1 + 1 + 0 + 3)
    assert kmedoids_objective(dist, np.array([1, 2])) == pytest.approx(1 + 0 + 0 + 1 + 4)


def _trapped_state(mapper, sim, truth):
    """``mapper``'s state with three medoids in one planted group (the rest by nearest medoid)."""
    dist = mapper.dissimilarity(0.5 * (sim + sim.T) * (1 - np.eye(len(sim))))
    medoids = np.flatnonzero(truth == 0)[:3]
    medoids = np.concatenate([medoids, np.flatnonzero(truth == 1)[:1]])
    return {**mapper.state_dict(), "mapping": _assign(dist, medoids), "medoids": medoids, "num_fits": 1}, dist


@pytest.mark.parametrize("distance", ["linear", "spectral"])
def test_compete_cold_replaces_a_trapped_map_and_keeps_its_ids(distance):
    sim, truth = _planted(3)
    mapper = InstanceClusterMapper(4, seed=0, distance=distance)
    state, dist = _trapped_state(mapper, sim, truth)
    mapper.load_state_dict(state)
    trapped = mapper.mapping
    result = mapper.compete_cold(sim)
    assert result.replaced and result.cold < result.current
    assert result.current == pytest.approx(kmedoids_objective(dist, state["medoids"]))
    assert result.cold == pytest.approx(kmedoids_objective(dist, mapper.medoids))
    assert _same_partition(mapper.mapping, truth)
    # Ids matched to the trapped map: the group its cluster 3 held (group 1) keeps id 3.
    assert np.all(mapper.mapping[truth == 1] == 3) and trapped[state["medoids"][3]] == 3
    np.testing.assert_array_equal(mapper.mapping[mapper.medoids], np.arange(4))


def test_compete_cold_keeps_a_map_no_cold_fit_beats():
    sim, truth = _planted(4)
    mapper = InstanceClusterMapper(4, seed=0, distance="spectral")
    mapper.fit(sim)
    before = mapper.state_dict()
    result = mapper.compete_cold(sim)
    assert not result.replaced and result.cold >= result.current - 1e-9
    np.testing.assert_array_equal(mapper.mapping, before["mapping"])
    np.testing.assert_array_equal(mapper.medoids, before["medoids"])
    assert mapper.num_fits == before["num_fits"]  # a competition is not a re-clustering


def test_compete_cold_has_nothing_to_compare_before_a_map_or_transitions_and_checks_shape():
    sim, _ = _planted(5)
    mapper = InstanceClusterMapper(4, seed=0)
    assert mapper.compete_cold(sim) is None  # no medoids yet
    mapper.fit(sim)
    assert mapper.compete_cold(np.zeros_like(sim)) is None  # no transitions
    with pytest.raises(ValueError, match="covers 19 instance classes"):
        mapper.compete_cold(sim[:19, :19])


def test_a_fit_with_the_competition_equals_a_fit_then_the_competition():
    """fit(compete_cold=True) reuses the fit's distance; the outcome is fit() followed by compete_cold()."""
    sim, truth = _planted(3)
    state, _ = _trapped_state(InstanceClusterMapper(4, seed=0, distance="spectral"), sim, truth)
    together, apart = (InstanceClusterMapper(4, seed=0, distance="spectral") for _ in range(2))
    together.load_state_dict(state)
    apart.load_state_dict(state)
    together.fit(sim, compete_cold=True)
    apart.fit(sim)
    apart.compete_cold(sim)
    np.testing.assert_array_equal(together.mapping, apart.mapping)
    np.testing.assert_array_equal(together.medoids, apart.medoids)


def test_compare_cold_measures_a_trapped_map_without_moving_it():
    """The gate's trust check: a trapped map disagrees with a cold fit (ARI < 1) and stays as it was."""
    from sklearn.metrics import adjusted_rand_score

    sim, truth = _planted(3)
    mapper = InstanceClusterMapper(4, seed=0, distance="spectral")
    state, dist = _trapped_state(mapper, sim, truth)
    mapper.load_state_dict(state)
    result = mapper.compare_cold(sim)
    assert not result.replaced and result.cold < result.current
    # The cold fit is the planted partition, so the agreement is the trapped map's ARI with it.
    assert result.agreement == pytest.approx(adjusted_rand_score(truth, state["mapping"]))
    assert result.agreement < 0.8
    np.testing.assert_array_equal(mapper.mapping, state["mapping"])
    np.testing.assert_array_equal(mapper.medoids, state["medoids"])
    # compete_cold reports the same agreement (measured before it installs the cold fit).
    assert mapper.compete_cold(sim).agreement == pytest.approx(result.agreement)


def test_compare_cold_agrees_fully_with_a_map_at_the_cold_fit():
    sim, _ = _planted(4)
    mapper = InstanceClusterMapper(4, seed=0, distance="spectral")
    mapper.fit(sim)
    result = mapper.compare_cold(sim)
    assert result.agreement == pytest.approx(1.0) and not result.replaced
    assert mapper.compare_cold(np.zeros_like(sim)) is None  # no transitions: nothing to compare
