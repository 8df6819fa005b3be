"""The label builder composes sampling, alignment, tracking and mapping correctly."""

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from usb_asd.asd.feature_clusters import feature_spectral
from usb_asd.asd.pipeline import ASDSettings, ClusterLabelBuilder, default_num_instances, resolve_draw_factor


def _builder(**kw):
    settings = dict(num_clusters=2, num_instances=4, window=10, seed=0)
    settings.update(kw)
    return ClusterLabelBuilder(ASDSettings(**settings), num_samples=20)


def test_first_round_fills_slots_in_draw_order():
    b = _builder()
    drawn = b.draw()
    assert list(b.place(drawn)) == list(drawn)
    assert b.slot_clusters is None and b.labels_for_entries([0, 1]) is None


def test_ot_places_each_new_instance_in_the_slot_it_is_predicted_as():
    b = _builder()
    b.place(b.draw())
    new = b.draw()
    target_slot = np.array([2, 0, 3, 1])
    log_probs = np.full((4, 4), np.log(0.01))
    log_probs[np.arange(4), target_slot] = np.log(0.97)
    slots = b.place(new, log_probs)
    assert list(slots[target_slot]) == list(new)


def test_without_ot_slots_take_draw_order_and_ot_needs_log_probs():
    b = _builder(alignment="none")
    b.place(b.draw())
    new = b.draw()
    assert list(b.place(new)) == list(new)
    b_ot = _builder()
    b_ot.place(b_ot.draw())
    with pytest.raises(ValueError, match="log-probabilities"):
        b_ot.place(b_ot.draw())


def _planted_pairs(b):
    # Samples hop between slots 0<->1 and 2<->3: two planted clusters.
    for step in range(6):
        b.observe(np.arange(8), np.array([0, 1, 2, 3, 1, 0, 3, 2]) if step % 2 else np.array([1, 0, 3, 2, 0, 1, 2, 3]))


def test_kmedoids_distance_reaches_the_mapper_and_a_checkpoint_of_other_settings_is_refused():
    with pytest.raises(ValueError, match="asd_kmedoids_distance must be one of"):
        _builder(kmedoids_distance="cosine")
    assert _builder().cluster_map.mapper.distance == "spectral"  # the default
    b = _builder(kmedoids_distance="linear")
    b.place(b.draw())
    _planted_pairs(b)
    assert b.cluster_map.mapper.distance == "linear" and b.recluster()
    clusters = b.slot_clusters
    assert clusters[0] == clusters[1] and clusters[2] == clusters[3] and clusters[0] != clusters[2]
    state = _builder(kmedoids_distance="linear").state_dict()
    _builder(kmedoids_distance="linear").load_state_dict(state)
    with pytest.raises(ValueError, match="ASD settings differ"):
        _builder().load_state_dict(state)
    state["settings"]["a_later_setting"] = 1  # from a newer version: refused with the same clear error
    with pytest.raises(ValueError, match="ASD settings differ"):
        _builder(kmedoids_distance="linear").load_state_dict(state)


def test_transitions_become_cluster_labels_after_warm_up():
    b = _builder()
    b.place(b.draw())
    assert b.recluster() is False  # no transitions yet: warm-up
    _planted_pairs(b)
    assert b.recluster() is True
    clusters = b.slot_clusters
    assert clusters[0] == clusters[1] and clusters[2] == clusters[3] and clusters[0] != clusters[2]
    assert list(b.labels_for_entries([3, 0])) == [clusters[3], clusters[0]]


def test_random_mapping_is_ready_at_once_and_balanced():
    b = _builder(mapping="random")
    assert b.recluster() is True
    assert sorted(np.bincount(b.slot_clusters)) == [2, 2]


def test_state_round_trip_continues_identically():
    a = _builder()
    a.place(a.draw())
    a.observe(np.arange(6), np.array([0, 1, 2, 3, 0, 1]))
    b = _builder()
    b.load_state_dict(a.state_dict())
    assert np.array_equal(a.draw(), b.draw())
    assert np.array_equal(a.slots, b.slots)
    with pytest.raises(ValueError, match="settings differ"):
        _builder(window=3).load_state_dict(a.state_dict())


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(num_instances=1), "asd_num_instances"),
        (dict(sampler="greedy"), "asd_sampler"),
        (dict(alignment="hungarian"), "asd_alignment"),
        (dict(mapping="kmeans"), "asd_mapping"),
        (dict(ot_reg=0.0), "asd_ot_reg"),
    ],
)
def test_bad_settings_name_the_key(kw, match):
    with pytest.raises(ValueError, match=match):
        _builder(**kw)


def test_more_instances_than_samples_is_refused():
    with pytest.raises(ValueError, match="must not exceed the number of unlabelled samples"):
        ClusterLabelBuilder(ASDSettings(num_clusters=2, num_instances=30), num_samples=20)


def _mismatched_redraw(b):
    """A redraw whose draw holds three images of cluster 0 and one of cluster 1.

    Slots 0, 1 are cluster 0 and slots 2, 3 cluster 1 (planted transitions).
    New instances 0-2 sit between slots 0 and 1 and instance 3 on slot 2, so a
    one-to-one placement must put one cluster-0 image into slot 3.
    """
    b.place(b.draw())
    _planted_pairs(b)
    assert b.recluster()
    clusters = b.slot_clusters
    new = b.draw()
    probs = np.array(
        [
            [0.50, 0.46, 0.02, 0.02],
            [0.46, 0.50, 0.02, 0.02],
            [0.48, 0.48, 0.02, 0.02],
            [0.02, 0.02, 0.94, 0.02],
        ]
    )
    slots = b.place(new, np.log(probs))
    return clusters, new, slots


def test_slot_labels_inherit_the_slot_even_when_the_draw_forces_a_mismatch():
    b = _builder()
    clusters, new, slots = _mismatched_redraw(b)
    assert slots[3] in new[:3]  # a cluster-0 image took the cluster-1 slot 3
    np.testing.assert_array_equal(b.slot_clusters, clusters)


def test_feature_map_labels_each_instance_with_its_images_cluster():
    rng = np.random.default_rng(0)
    truth = np.arange(20) % 2  # two planted groups of pool images
    features = np.where(truth[:, None] == 0, [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]) + 0.01 * rng.normal(size=(20, 3))
    b = _builder(mapping="features")
    assert b.needs_features_to_recluster and not _builder().needs_features_to_recluster
    b.place(b.draw())
    assert b.slot_clusters is None  # warm-up: no map yet
    with pytest.raises(ValueError, match="asd_mapping: features needs features of all 20"):
        b.recluster()
    assert b.recluster(features)
    clusters = b.slot_clusters
    assert adjusted_rand_score(truth[b.slots], clusters) == 1.0
    # A redraw: the new instances take their own images' clusters, wherever they land.
    slots = b.place(b.draw(), np.log(np.full((4, 4), 0.25)))
    pool_ids = b.state_dict()["cluster_map"]["pool_clusters"]
    np.testing.assert_array_equal(b.slot_clusters, pool_ids[slots])
    # State: the pool's clusters survive.
    restored = _builder(mapping="features")
    restored.load_state_dict(b.state_dict())
    np.testing.assert_array_equal(restored.slot_clusters, b.slot_clusters)


def test_feature_clustering_reaches_the_builder_and_needs_the_feature_map():
    rng = np.random.default_rng(1)
    truth = np.arange(20) % 2
    features = np.where(truth[:, None] == 0, [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]) + 0.01 * rng.normal(size=(20, 3))
    b = _builder(mapping="features", feature_clustering="spectral")
    b.place(b.draw())
    assert b.recluster(features)
    np.testing.assert_array_equal(b.state_dict()["cluster_map"]["pool_clusters"],
                                  feature_spectral(features, 2, b.settings.seed))
    with pytest.raises(ValueError, match="asd_feature_clustering must be one of"):
        _builder(mapping="features", feature_clustering="dbscan")
    with pytest.raises(ValueError, match="applies to asd_mapping: features only"):
        _builder(feature_clustering="spectral")  # the default map is ctt
    state = _builder(mapping="features").state_dict()
    with pytest.raises(ValueError, match="ASD settings differ"):
        _builder(mapping="features", feature_clustering="spectral").load_state_dict(state)


# ---- re-clustering in the background (asd_recluster_lag) -----------------------------
def _planted_builder(**kw):
    """n_l = 40 instance classes in 4 planted blocks (class % 4), pool of 400."""
    settings = dict(num_clusters=4, num_instances=40, window=6, seed=3)
    settings.update(kw)
    b = ClusterLabelBuilder(ASDSettings(**settings), num_samples=400)
    b.place(b.draw())
    return b


def _observe_planted(builders, rng, batches=3):
    """The same planted transitions (80 % within a block) recorded by every builder."""
    for _ in range(batches):
        a = rng.integers(0, 40, 64)
        within = rng.integers(0, 10, 64) * 4 + a % 4
        b = np.where(rng.random(64) < 0.8, within, rng.integers(0, 40, 64))
        b = np.where(b == a, (a + 4) % 40, b)
        for builder in builders:
            builder.observe_views(a, b)


@pytest.mark.parametrize("distance", ["spectral", "linear"])
def test_background_fit_gives_the_synchronous_map_of_its_snapshot(distance):
    """Start at t, more transitions, finish: the map is the one a synchronous fit at t gives,
    installed only at the finish, and the following fits (warm-started from it) agree too."""
    rng = np.random.default_rng(0)
    sync, background = _planted_builder(kmedoids_distance=distance), _planted_builder(kmedoids_distance=distance)
    for round_ in range(4):
        _observe_planted([sync, background], rng)
        before = background.slot_clusters
        sync.recluster()
        background.start_recluster(apply_at=10 * round_ + 5)
        assert background.pending_recluster_at == 10 * round_ + 5
        _observe_planted([sync, background], rng)  # training goes on while the worker fits
        if before is None:
            assert background.slot_clusters is None
        else:
            np.testing.assert_array_equal(background.slot_clusters, before)  # not applied yet
        assert background.finish_recluster() is True
        assert background.pending_recluster_at is None
        np.testing.assert_array_equal(background.slot_clusters, sync.slot_clusters)
        np.testing.assert_array_equal(background.cluster_map.mapper.medoids, sync.cluster_map.mapper.medoids)
        assert background.cluster_map.mapper.num_fits == sync.cluster_map.mapper.num_fits
    # The planted blocks were found (chance is ARI 0; the linear distance is the weaker one).
    assert adjusted_rand_score(np.arange(40) % 4, sync.slot_clusters) > (0.99 if distance == "spectral" else 0.5)


def test_synchronous_recluster_is_the_mappers_own_fit():
    """asd_recluster_lag: 0 computes exactly what the builder did before the option: mapper.fit(S)."""
    from usb_asd.asd.mapping import InstanceClusterMapper

    rng = np.random.default_rng(1)
    b = _planted_builder()
    reference = InstanceClusterMapper(4, 3, distance="spectral")
    for _ in range(3):
        _observe_planted([b], rng)
        b.recluster()
        reference.fit(b.tracker.similarity())
        np.testing.assert_array_equal(b.slot_clusters, reference.mapping)
        np.testing.assert_array_equal(b.cluster_map.mapper.medoids, reference.medoids)


def test_features_map_in_the_background_equals_the_synchronous_one():
    rng = np.random.default_rng(2)
    features = np.repeat(np.eye(4)[None], 100, axis=0).reshape(400, 4) + 0.05 * rng.normal(size=(400, 4))
    sync, background = _planted_builder(mapping="features"), _planted_builder(mapping="features")
    sync.recluster(features)
    background.start_recluster(7, features)
    with pytest.raises(RuntimeError, match="already pending"):
        background.start_recluster(8, features)
    assert background.slot_clusters is None
    background.finish_recluster()
    np.testing.assert_array_equal(background.state_dict()["cluster_map"]["pool_clusters"],
                                  sync.state_dict()["cluster_map"]["pool_clusters"])
    with pytest.raises(RuntimeError, match="without a pending"):
        background.finish_recluster()


def test_a_checkpoint_with_a_pending_fit_resumes_exactly():
    """Saved while a fit runs (through the checkpoint codec): the restored builder applies the
    same map at the same step and continues exactly as the uninterrupted one."""
    from usb_asd.core.checkpoint_codec import decode, encode

    rng = np.random.default_rng(4)
    run = _planted_builder()
    _observe_planted([run], rng)
    run.recluster()
    _observe_planted([run], rng)
    run.start_recluster(apply_at=12)
    state = decode(encode(run.state_dict()))
    assert state["pending_recluster"]["apply_at"] == 12
    resumed = _planted_builder()
    resumed.load_state_dict(state)
    assert resumed.pending_recluster_at == 12
    np.testing.assert_array_equal(resumed.slot_clusters, run.slot_clusters)  # the old map until then
    for builder in (run, resumed):
        builder.finish_recluster()
    np.testing.assert_array_equal(resumed.slot_clusters, run.slot_clusters)
    for _ in range(2):  # later fits warm-start from the applied map: still identical
        _observe_planted([run, resumed], rng)
        run.recluster()
        resumed.recluster()
        np.testing.assert_array_equal(resumed.slot_clusters, run.slot_clusters)
    np.testing.assert_array_equal(resumed.draw(), run.draw())


# ---- more candidates than entries (asd_draw_factor) ------------------------------------------------
def test_a_draw_of_c_candidates_per_entry_keeps_the_best_fitting_one_for_each_slot():
    b = _builder(draw_factor=3)  # 4 slots, 12 candidates of a pool of 20
    first = b.draw()
    assert first.shape == (12,) and len(set(first)) == 12
    assert b.place(first).tolist() == first[:4].tolist()  # no head to fit yet: the first four
    new = b.draw()
    # Candidates 1, 4, 7 and 10 are each confidently one slot; the others are spread.
    log_probs = np.log(np.full((12, 4), 0.25))
    for candidate, slot in ((1, 2), (4, 0), (7, 3), (10, 1)):
        log_probs[candidate] = np.log(np.where(np.arange(4) == slot, 0.97, 0.01))
    slots = b.place(new, log_probs)
    assert slots.tolist() == [new[4], new[10], new[1], new[7]]


def test_where_the_one_to_one_placement_mislabels_the_draw_factor_finds_images_of_the_slot():
    # Slots 0-1 are cluster A, 2-3 cluster B. A draw of 4 holding three A images must put one in a
    # B slot; with 3x the candidates each slot gets an image predicted as itself.
    rng = np.random.default_rng(0)
    wrong = {1: 0, 3: 0}
    for factor in (1, 3):
        b = _builder(draw_factor=factor)
        b.place(b.draw())
        new = b.draw()
        is_a = rng.uniform(size=len(new)) < 0.75
        is_a[:4] = [True, True, True, False]
        log_probs = np.log(np.where(is_a[:, None], [0.45, 0.45, 0.05, 0.05], [0.05, 0.05, 0.45, 0.45]))
        slots = b.place(new, log_probs)
        a_images = set(new[is_a].tolist())
        wrong[factor] = sum((int(s) in a_images) != (j < 2) for j, s in enumerate(slots))
    assert wrong[1] == 1 and wrong[3] == 0


def test_the_draw_factor_is_refused_where_it_has_no_meaning():
    with pytest.raises(ValueError, match="asd_draw_factor must be >= 1"):
        _builder(draw_factor=0)
    with pytest.raises(ValueError, match="asd_draw_factor: 2 selects candidates by OT"):
        _builder(draw_factor=2, alignment="none")
    with pytest.raises(ValueError, match=r"\(4 x 6\) must not exceed"):
        _builder(draw_factor=6)


def test_the_default_draw_factor_follows_the_pool():
    # auto: 4 candidates per entry where the pool holds them, fewer on a small pool, 1 where the draw cannot select.
    assert resolve_draw_factor("auto", 4000, 100) == 4
    assert resolve_draw_factor("auto", 250, 100) == 2
    assert resolve_draw_factor("auto", 150, 100) == 1
    assert resolve_draw_factor("auto", None, 100) == 4
    assert resolve_draw_factor("auto", 4000, 100, selects=False) == 1
    assert resolve_draw_factor(3, 10, 100) == 3  # an integer is the user's: the builder refuses it if too large


def test_the_default_number_of_instance_classes_overclusters_within_the_pool():
    assert default_num_instances(10) == 100 and default_num_instances(10, 4000) == 100
    assert default_num_instances(1000) == 4000  # capped at 4,000 and never below the paper's 4k
    assert default_num_instances(2000) == 8000
    assert default_num_instances(3, 20) == 12  # half of 20 is 10, below 4k = 12: the floor holds
    assert default_num_instances(3, 60) == 30 and default_num_instances(8, 480) == 80
    for k, n in ((3, 20), (10, 150), (10, 4000), (50, 1000)):
        n_l = default_num_instances(k, n)
        assert 4 * k <= n_l and (n_l <= n // 2 or n_l == 4 * k)
        # the builder accepts the default and its auto draw factor on that pool
        ClusterLabelBuilder(ASDSettings(num_clusters=k, num_instances=n_l,
                                        draw_factor=resolve_draw_factor("auto", n, n_l)), num_samples=n)


# ---- a given clustering to start from (asd_init_assignments) ----------------------------------
def test_given_labels_follow_each_image_through_redraws_until_the_hand_over():
    given = np.arange(20) % 2
    b = _builder()
    b.start_from(given)
    b.place(b.draw())
    assert b.given_labels_on and b.slot_clusters is None  # labels from the start, no map of the chain's yet
    np.testing.assert_array_equal(b.labels_for_entries(np.arange(4)), given[b.slots])
    assert b.recluster() is False  # no transitions: the given partition is not taken for a map
    _planted_pairs(b)
    assert b.recluster() is True
    b.place(b.draw(), np.log(np.full((4, 4), 0.25)))  # a redraw: new images, their own given clusters
    np.testing.assert_array_equal(b.labels_for_entries(np.arange(4)), given[b.slots])
    b.hand_over()
    np.testing.assert_array_equal(b.labels_for_entries(np.arange(4)), b.slot_clusters)


def test_while_the_given_labels_serve_each_fit_starts_from_their_partition_and_keeps_their_ids():
    from usb_asd.asd.mapping import InstanceClusterMapper

    b = _builder()
    b.place(b.draw())
    given = np.zeros(20, dtype=np.int64)
    given[b.slots] = [1, 1, 0, 0]  # slots 0, 1 given cluster 1: the planted pairs with those ids
    b.start_from(given)
    _planted_pairs(b)
    b.recluster()
    np.testing.assert_array_equal(b.slot_clusters, [1, 1, 0, 0])
    # Exactly the mapper's fit from that partition (its medoids, ids matched to it).
    reference = InstanceClusterMapper(2, 0, distance="spectral")
    reference.load_state_dict({**reference.state_dict(), "mapping": np.array([1, 1, 0, 0]), "medoids": None})
    reference.fit(b.tracker.similarity())
    np.testing.assert_array_equal(b.cluster_map.mapper.medoids, reference.medoids)


def test_the_given_partition_of_a_slot_is_its_image_s_given_cluster():
    b = _builder()
    given = np.arange(20) % 2
    b.start_from(given)
    b.place(b.draw())
    np.testing.assert_array_equal(b.given_slot_partition(), given[b.slots])
    np.testing.assert_array_equal(b.entry_clusters, given[b.slots])


def test_the_feature_map_starts_from_the_given_groups_and_keeps_their_ids():
    rng = np.random.default_rng(3)
    truth = np.arange(400) % 4
    features = np.eye(4)[truth] + 0.05 * rng.normal(size=(400, 4))
    given = (truth + 1) % 4  # the true groups under other ids,
    given[:40] = rng.integers(0, 4, 40)  # some put elsewhere
    b = _planted_builder(mapping="features")
    b.start_from(given)
    b.recluster(features)
    np.testing.assert_array_equal(b.state_dict()["cluster_map"]["pool_clusters"], (truth + 1) % 4)  # refined, the given ids kept


def test_a_given_start_is_saved_and_restored_but_not_broadcast():
    from usb_asd.core.checkpoint_codec import decode, encode

    given = np.arange(20) % 2
    run = _builder()
    run.start_from(given)
    run.place(run.draw())
    run.hand_over()
    state = decode(encode(run.state_dict()))
    resumed = _builder()
    resumed.load_state_dict(state)
    assert not resumed.given_labels_on
    np.testing.assert_array_equal(resumed.state_dict()["given"]["clusters"], given)
    assert "given" not in run._current_state()  # every rank reads the file; a redraw's broadcast omits it
    kept = _builder()
    kept.start_from(given)
    kept.load_state_dict({k: v for k, v in state.items() if k != "given"})  # a broadcast, or an older state
    assert kept.given_labels_on
    cold = _builder()
    cold.load_state_dict({**state, "given": None})
    assert not cold.given_labels_on and cold.state_dict()["given"] is None


def test_a_given_start_must_fit_the_pool_and_have_a_map_to_refine_it():
    with pytest.raises(ValueError, match="one integer cluster id per pool image"):
        _builder().start_from(np.zeros(19, dtype=np.int64))
    with pytest.raises(ValueError, match=r"in \[0, 2\)"):
        _builder().start_from(np.full(20, 2))
    with pytest.raises(ValueError, match="asd_mapping: random"):
        _builder(mapping="random").start_from(np.arange(20) % 2)


def test_a_cold_fit_at_the_hand_over_replaces_a_map_trapped_in_the_given_partitions_basin():
    from usb_asd.asd.mapping import _assign

    runs = {}
    for compete in (False, True):
        b = _planted_builder()
        b.start_from(np.arange(400) % 4)
        _observe_planted([b], np.random.default_rng(1), batches=6)
        mapper = b.cluster_map.mapper
        # A map trapped where a given partition's medoids could leave it: three medoids in block 0.
        dist = mapper.dissimilarity(b.tracker.similarity())
        medoids = np.array([0, 4, 8, 1])
        mapper.load_state_dict({**mapper.state_dict(), "mapping": _assign(dist, medoids), "medoids": medoids})
        trapped = b.slot_clusters
        b.hand_over()
        result = b.compete_cold() if compete else None
        assert not b.given_labels_on
        runs[compete] = (result, trapped, b.slot_clusters)
    result, trapped, after = runs[False]
    assert result is None and np.array_equal(after, trapped)  # the default: the trapped map goes on
    result, trapped, after = runs[True]
    assert result.replaced and result.cold < result.current
    blocks = np.arange(40) % 4
    assert len(set(zip(after, blocks))) == 4  # the planted blocks, whole
