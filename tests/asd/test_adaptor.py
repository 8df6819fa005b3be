"""ASD composed with real USB learners on digits, on CPU, through the train.py path."""

import json
import re

import numpy as np
import pytest
import torch
from PIL import Image

from usb_asd.cli import _extra_arguments
from usb_asd.config import parse_config
from usb_asd.runner import main

ASD = dict(
    adaptor="asd", num_labels=0, batch_size=8, uratio=8, num_train_iter=30, num_eval_iter=30,
    asd_warmup_iter=10, asd_cluster_iter=5, asd_round_iter=10, asd_window=40,
)

#: Learners the adaptor is run with in CI (a few iterations each).
ASD_LEARNERS = [
    "fixmatch", "freematch", "flexmatch", "softmatch", "uda", "pseudolabel", "meanteacher",
    "pimodel", "adamatch", "defixmatch", "mixmatch", "remixmatch", "comatch", "simmatch", "vat",
]


def _run(argv):
    return main(parse_config(argv, extra_arguments=_extra_arguments))


def test_asd_freematch_clusters_digits_with_no_labels(tmp_path, make_digits_config):
    _run(make_digits_config(**{**ASD, "algorithm": "freematch", "num_train_iter": 40, "num_eval_iter": 20}))
    on_disk = json.loads((tmp_path / "run" / "results.json").read_text())
    assert on_disk["num_labels"] == 0 and on_disk["algorithm"] == "freematch"
    for key in ("acc", "nmi", "ari"):
        assert 0.0 <= on_disk[key] <= 1.0
    # The validation part of the training pool is scored too: 20% of digits' 1,437 training images.
    assert on_disk["val_size"] == 288 and 0.0 <= on_disk["val_acc"] <= 1.0 and 0.0 <= on_disk["val_nmi"] <= 1.0
    log = (tmp_path / "run" / "log.txt").read_text()
    assert "train/asd_labels_ready: 1.0000" in log  # cluster labels were built and used
    assert "100 sampled instances (no labels)" in log  # n_l = 10k


def test_asd_needs_no_labels_at_all(tmp_path, make_digits_config):
    """An image folder with no class subfolders: nothing to read labels from."""
    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(40):
        Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    record = _run(make_digits_config(**{**ASD, "dataset": "folder", "data_dir": str(folder), "num_classes": 2,
                                        "algorithm": "fixmatch", "num_train_iter": 12, "asd_num_instances": 8,
                                        "eval_batch_size": 16}))
    assert record["iterations"] == 12 and record["acc"] is None and record["top1"] is None
    assert "val_acc" not in record  # no labels anywhere: no validation part


def test_labels_with_asd_are_refused(tmp_path, make_digits_config):
    with pytest.raises(ValueError, match="num_labels: 0"):
        _run(make_digits_config(**{**ASD, "num_labels": 40}))
    with pytest.raises(ValueError, match="adaptor"):
        _run(make_digits_config(adaptor="magic"))
    with pytest.raises(ValueError, match="no unlabelled images"):
        _run(make_digits_config(**{**ASD, "algorithm": "fullysupervised"}))
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("algorithm", ASD_LEARNERS)
def test_every_supported_learner_runs_with_asd(tmp_path, make_digits_config, algorithm):
    record = _run(make_digits_config(**{**ASD, "algorithm": algorithm, "num_train_iter": 12, "num_eval_iter": 12,
                                        "asd_warmup_iter": 4, "asd_cluster_iter": 4, "asd_round_iter": 6}))
    assert record["iterations"] == 12 and record["acc"] is not None


def _digits_pool_classes(path, corrupt=0.0, seed=0):
    """A .npy of digits' training classes in pool order (a share ``corrupt`` put in another cluster)."""
    from usb_asd.data.digits import load_digits

    classes = load_digits().train_targets.copy()
    rng = np.random.default_rng(seed)
    flipped = rng.random(classes.size) < corrupt
    classes[flipped] = (classes[flipped] + rng.integers(1, 10, flipped.sum())) % 10
    np.save(path, classes)
    return str(path)


@pytest.mark.parametrize("mapping, lag, given, rule, transitions, prototypes", [
    ("ctt", 0, False, "consecutive", "auto", "gradient"),
    ("features", 0, False, "consecutive", "auto", "gradient"),
    ("ctt", 3, False, "consecutive", "auto", "lloyd"),
    ("ctt", 0, True, "consecutive", "auto", "gradient"),
    ("ctt", 0, False, "cold_fit", "auto", "gradient"),
    ("ctt", 0, False, "held", "auto", "gradient"),
    ("ctt", 0, False, "consecutive", "neighbours", "mean")])
def test_resume_continues_exactly(tmp_path, make_digits_config, mapping, lag, given, rule, transitions, prototypes):
    """With lag 3 the checkpoint of iteration 8 is written while the fit started after it runs
    in the background; the resumed run applies it after iteration 11, as the full run does.
    Started from a given clustering, the checkpoint of iteration 8 is written while the given
    labels serve; the resumed run hands over to the chain's map after iteration 12, as the full run does.
    With asd_switch_rule: cold_fit the gate's state (its last cold agreement) is in the checkpoint and the
    resumed run switches on at the full run's step. With asd_switch_rule: held (hold 2) the checkpoint holds
    the gate's last agreements, which the resumed run's next map is compared with as the full run's is.
    With asd_transitions: neighbours the full run counts view moves (at most one per image) until the labels
    switch on at 4, then neighbour moves (up to 10 per image); the checkpoint of iteration 8 holds the
    neighbour bank filled since, and the resumed run reads it.
    With asd_prototype_update: mean the prototypes, frozen for 6 steps, move as running means from then on
    (no gradient), stay unit rows, and the resumed run moves them as the full run does. The lag case also runs
    asd_prototype_update: lloyd: the checkpoint of iteration 8 holds the queue of the last steps' projections
    (its Lloyd steps ran at 8, before the save), and the resumed run refines on the same queue at 12, 16, ..."""
    common = {**ASD, "algorithm": "freematch", "num_train_iter": 24, "num_eval_iter": 8, "epoch": 2,
              "asd_round_iter": 8, "asd_cluster_iter": 4, "asd_warmup_iter": 4, "asd_mapping": mapping,
              "asd_recluster_lag": lag, "asd_switch_rule": rule, "asd_transitions": transitions,
              "asd_prototype_update": prototypes}
    if prototypes in ("mean", "lloyd"):
        common.update(asd_freeze_prototypes_iter=6)
    if rule == "cold_fit":  # labels may switch on at 8 or 12: the checkpoint of 8 holds a cold comparison
        common.update(asd_warmup_iter=12)
    if rule == "held":  # hold 2 (window 8, re-clustering every 4): the checkpoint of 8 holds its last agreement
        common.update(asd_window=8, asd_warmup_iter=16)
    if given:  # maps never agree enough (ARI above 1): the hand-over is at asd_warmup_iter
        common.update(asd_init_assignments=_digits_pool_classes(tmp_path / "start.npy", corrupt=0.3),
                      asd_warmup_iter=12, asd_switch_ari=2.0)
    if transitions == "neighbours":
        common.update(num_log_iter=1, asd_switch_ari=2.0)  # every step logged; labels on at the cap (4)
    full = _run(make_digits_config(**common, save_name="full", keep_checkpoints=True))
    resumed = _run(make_digits_config(**common, save_name="resumed", resume=True,
                                      load_path=str(tmp_path / "full" / "model_it8.pth")))
    a = torch.load(tmp_path / "full" / "latest_model.pth", map_location="cpu", weights_only=False)
    b = torch.load(tmp_path / "resumed" / "latest_model.pth", map_location="cpu", weights_only=False)
    for key in ("model", "ema_model"):
        assert a[key].keys() == b[key].keys()
        for name in a[key]:
            assert torch.equal(a[key][name], b[key][name]), f"{key}.{name} differs after resume"
    from usb_asd.core.checkpoint_codec import decode

    assert np.array_equal(decode(a["asd"])["slots"], decode(b["asd"])["slots"])
    if mapping == "features":  # the pool's k-means groups were restored and refitted identically
        assert np.array_equal(decode(a["asd"])["cluster_map"]["pool_clusters"],
                              decode(b["asd"])["cluster_map"]["pool_clusters"])
    if lag:
        saved = torch.load(tmp_path / "full" / "model_it8.pth", map_location="cpu", weights_only=False)
        assert decode(saved["asd"])["pending_recluster"]["apply_at"] == 11
        assert np.array_equal(decode(a["asd"])["cluster_map"]["mapper"]["mapping"], decode(b["asd"])["cluster_map"]["mapper"]["mapping"])
    if given:
        saved = torch.load(tmp_path / "full" / "model_it8.pth", map_location="cpu", weights_only=False)
        assert decode(saved["asd"])["given"]["labels_on"] is True
        assert decode(a["asd"])["given"]["labels_on"] is False and decode(b["asd"])["given"]["labels_on"] is False
        assert np.array_equal(decode(a["asd"])["cluster_map"]["mapper"]["mapping"], decode(b["asd"])["cluster_map"]["mapper"]["mapping"])
        for run in ("full", "resumed"):
            assert "takes over from asd_init_assignments after step 12" in (tmp_path / run / "log.txt").read_text()
    if transitions == "neighbours":
        moves = {int(m.group(1)): float(m.group(2)) for m in re.finditer(
            r"\] (\d+) iteration,? .*?train/asd_transitions: ([0-9.]+)", (tmp_path / "full" / "log.txt").read_text())}
        # 64 unlabelled images a step: the bank's first batch (step 5) has no neighbours yet.
        assert max(moves[s] for s in range(1, 5)) <= 64 and moves[5] == 0
        assert max(moves[s] for s in range(6, 24)) > 64
        saved = torch.load(tmp_path / "full" / "model_it8.pth", map_location="cpu", weights_only=False)
        assert len(decode(saved["asd"])["neighbour_bank"]["classes"]) == 4 * 64  # iterations 5-8, 64 images each
        for key in ("features", "classes", "indices"):
            assert np.array_equal(decode(a["asd"])["neighbour_bank"][key], decode(b["asd"])["neighbour_bank"][key])
    if prototypes == "mean":
        name = "instance_head.prototypes"
        final = a["model"][name]
        assert torch.allclose(final.norm(dim=1), torch.ones(len(final)), atol=1e-5)  # running means are unit rows
        saved = torch.load(tmp_path / "full" / "model_it8.pth", map_location="cpu", weights_only=False)["model"][name]
        assert not torch.equal(saved, final)  # moved after step 8
    if prototypes == "lloyd":
        saved = torch.load(tmp_path / "full" / "model_it8.pth", map_location="cpu", weights_only=False)
        assert len(decode(saved["asd_prototype_lloyd"])["queue"]["items"]) == 8 * 64  # steps 1-8, 64 images each
        assert torch.equal(decode(a["asd_prototype_lloyd"])["queue"]["items"],
                           decode(b["asd_prototype_lloyd"])["queue"]["items"])
    if rule == "cold_fit":
        saved = torch.load(tmp_path / "full" / "model_it8.pth", map_location="cpu", weights_only=False)
        assert decode(saved["asd_gate"])["last_cold_agreement"] is not None
        assert decode(a["asd_gate"])["on_since"] == decode(b["asd_gate"])["on_since"] is not None
    assert full["acc"] == resumed["acc"] and full["nmi"] == resumed["nmi"]
    from usb_asd.asd import background

    assert all(worker is None for worker in background._WORKERS.values()), "a run's background worker outlived it"


def test_a_run_starts_from_a_given_clustering_and_its_assignments_start_the_next(tmp_path, make_digits_config):
    """The given labels are the learner's from the first step; a run's own assignments.csv starts a second round.

    Two clusters (digits below 5 and the others), so that a run this short uses both in its assignments."""
    from usb_asd.core.checkpoint_codec import decode
    from usb_asd.data.digits import load_digits

    halves = (load_digits().train_targets >= 5).astype(np.int64)
    np.save(tmp_path / "halves.npy", halves)
    start = str(tmp_path / "halves.npy")
    common = {**ASD, "algorithm": "fixmatch", "num_classes": 2, "batch_size": 16, "uratio": 1, "ema_m": 0.0,
              "num_log_iter": 5, "asd_round_iter": 5, "asd_cluster_iter": 5, "asd_switch_ari": 2.0}
    _run(make_digits_config(**{**common, "num_train_iter": 12, "num_eval_iter": 12, "asd_warmup_iter": 11},
                            save_name="first", asd_init_assignments=start))
    log = (tmp_path / "first" / "log.txt").read_text()
    assert f"asd: starting from {start} (1437 images, 2 clusters)" in log
    # On after 5 steps, where no gate could have switched them on (it needs two maps, or step 11).
    assert "train/asd_labels_ready: 1.0000" in log.split("5 iteration")[1].split("\n")[0]
    saved = decode(torch.load(tmp_path / "first" / "latest_model.pth", map_location="cpu", weights_only=False)["asd"])
    np.testing.assert_array_equal(saved["given"]["clusters"], halves)
    again = str(tmp_path / "first" / "assignments.csv")
    record = _run(make_digits_config(**{**common, "num_train_iter": 4, "num_eval_iter": 4, "asd_warmup_iter": 3,
                                        "asd_cluster_iter": 2}, save_name="second", asd_init_assignments=again))
    assert record["iterations"] == 4
    assert f"asd: starting from {again}" in (tmp_path / "second" / "log.txt").read_text()


def test_settings_of_a_checkpoint_written_before_recluster_lag_existed_are_synchronous(make_digits_config):
    from usb_asd.asd.adaptor import asd_settings_from_args
    from usb_asd.asd.pipeline import default_num_instances

    args = parse_config(make_digits_config(**ASD), extra_arguments=_extra_arguments)
    del args.asd_recluster_lag  # what predict rebuilds from an older checkpoint's saved settings
    assert asd_settings_from_args(args).num_instances == default_num_instances(args.num_classes)  # built, no AttributeError


def test_recluster_lag_must_end_before_the_next_recluster(tmp_path, make_digits_config):
    with pytest.raises(ValueError, match="asd_recluster_lag must be >= 0 and below asd_cluster_iter \\(5\\)"):
        _run(make_digits_config(**{**ASD, "asd_recluster_lag": 5}))
    assert not (tmp_path / "run").exists()


def test_cold_refit_runs_end_to_end_and_bad_settings_are_refused(tmp_path, make_digits_config):
    """asd_cold_refit: labels_on: the run says at switch-on which map it kept; wrong combinations end in one line."""
    _run(make_digits_config(**{**ASD, "algorithm": "fixmatch", "asd_cold_refit": "labels_on",
                               "asd_warmup_iter": 10, "asd_cluster_iter": 5}))
    log = (tmp_path / "run" / "log.txt").read_text()
    assert "the warm-started map: k-Medoids objective" in log
    with pytest.raises(ValueError, match="asd_cold_refit must be one of"):
        _run(make_digits_config(**{**ASD, "asd_cold_refit": "always"}))
    with pytest.raises(ValueError, match="asd_cold_refit: labels_on needs asd_mapping: ctt"):
        _run(make_digits_config(**{**ASD, "asd_cold_refit": "labels_on", "asd_mapping": "features"}))
    with pytest.raises(ValueError, match="asd_cold_refit: handover acts at the hand-over from asd_init_assignments"):
        _run(make_digits_config(**{**ASD, "asd_cold_refit": "handover"}))


def test_bad_prototype_updates_are_refused(tmp_path, make_digits_config):
    """An unknown asd_prototype_update, or a cell-mean update with the unlabelled projections' loss off, ends in one line."""
    with pytest.raises(ValueError, match="asd_prototype_update must be one of"):
        _run(make_digits_config(**{**ASD, "asd_prototype_update": "kmeans"}))
    for update in ("mean", "lloyd"):
        with pytest.raises(ValueError, match=f"asd_prototype_update: {update} moves the prototypes"):
            _run(make_digits_config(**{**ASD, "asd_prototype_update": update, "asd_instance_ssl_ratio": 0.0}))
    assert not (tmp_path / "run").exists()


def test_cold_fit_switch_rule_runs_end_to_end_and_bad_settings_are_refused(tmp_path, make_digits_config):
    """asd_switch_rule: cold_fit logs the map's agreement with a cold fit until the switch-on and says why it
    switched; a map without k-Medoids or an unknown rule ends in one line."""
    _run(make_digits_config(**{**ASD, "algorithm": "fixmatch", "asd_switch_rule": "cold_fit",
                               "asd_warmup_iter": 20, "asd_cluster_iter": 5, "num_log_iter": 5}))
    log = (tmp_path / "run" / "log.txt").read_text()
    assert "train/asd_cold_fit_agreement" in log
    switched = [line for line in log.splitlines() if "cluster labels on after step" in line]
    assert len(switched) == 1
    assert "(the map agrees with a cold fit, ARI" in switched[0] or "(asd_warmup_iter reached" in switched[0]
    # results.json says when the labels switched on, and when the default rule would have.
    switch_on = json.loads((tmp_path / "run" / "results.json").read_text())["asd_switch_on"]
    assert switch_on["rule"] == "cold_fit" and f"after step {switch_on['step']} " in switched[0]
    assert 5 <= switch_on["consecutive_step"] <= switch_on["step"] <= 20
    assert (f"consecutive maps alone would have switched on after step {switch_on['consecutive_step']}" in switched[0]
            ) == (switch_on["consecutive_step"] != switch_on["step"])
    with pytest.raises(ValueError, match="asd_switch_rule must be one of"):
        _run(make_digits_config(**{**ASD, "asd_switch_rule": "stable"}))
    with pytest.raises(ValueError, match="asd_switch_rule: cold_fit compares the map with a cold k-Medoids fit "
                                         "and needs asd_mapping: ctt"):
        _run(make_digits_config(**{**ASD, "asd_switch_rule": "cold_fit", "asd_mapping": "features"}))


def test_the_instance_objective_trains_on_every_unlabelled_batch(tmp_path, make_digits_config):
    _run(make_digits_config(**{**ASD, "algorithm": "fixmatch", "num_train_iter": 12, "num_eval_iter": 12,
                               "num_log_iter": 5}))
    log = (tmp_path / "run" / "log.txt").read_text()
    losses = [float(x.split(",")[0]) for x in log.split("train/asd_instance_ssl_loss: ")[1:]]
    # A swapped-prediction loss at most about ln(n_l) (the default n_l = 10k = 100 here).
    assert losses and all(0.0 < loss <= np.log(100) + 0.5 for loss in losses)


def test_asd_may_ask_for_more_clusters_than_classes(tmp_path, make_digits_config):
    record = _run(make_digits_config(**{**ASD, "algorithm": "fixmatch", "num_classes": 15, "num_train_iter": 6,
                                        "num_eval_iter": 6, "asd_warmup_iter": 2, "asd_cluster_iter": 2}))
    assert record["num_classes"] == 15 and 0.0 <= record["acc"] <= 1.0


def test_loader_workers_build_the_instances_and_runs_repeat_exactly(tmp_path, make_digits_config):
    """With a worker process building the labelled views (and prefetching across redraws), a
    run is still a function of its seed: two runs give the same weights and the same slots."""
    common = {**ASD, "algorithm": "fixmatch", "num_workers": 1, "num_train_iter": 16, "num_eval_iter": 16,
              "asd_round_iter": 4, "asd_cluster_iter": 4, "asd_warmup_iter": 4}
    first = _run(make_digits_config(**common, save_name="a"))
    second = _run(make_digits_config(**common, save_name="b"))
    a = torch.load(tmp_path / "a" / "latest_model.pth", map_location="cpu", weights_only=False)
    b = torch.load(tmp_path / "b" / "latest_model.pth", map_location="cpu", weights_only=False)
    for name in a["model"]:
        assert torch.equal(a["model"][name], b["model"][name]), name
    from usb_asd.core.checkpoint_codec import decode

    assert decode(a["asd"])["rounds"] == 4  # three redraws happened while the worker prefetched
    assert np.array_equal(decode(a["asd"])["slots"], decode(b["asd"])["slots"])
    assert first["acc"] == second["acc"]
    # 15 whole iterations are timed (the first has no predecessor), all inside the run's wall time.
    assert 0 < first["median_step_s"] and 0 < first["mean_iter_s"] * 15 <= first["wall_s"]


def test_transitions_across_views_feed_the_map(tmp_path, make_digits_config):
    """asd_transitions: views: weak -> strong argmax moves in each batch are the transitions counted."""
    _run(make_digits_config(**{**ASD, "algorithm": "freematch", "asd_transitions": "views", "num_log_iter": 5}))
    log = (tmp_path / "run" / "log.txt").read_text()
    assert "train/asd_labels_ready: 1.0000" in log
    assert "train/asd_transitions: 0.0000" not in log  # an untrained head disagrees across views
    with pytest.raises(ValueError, match="asd_transitions must be one of"):
        _run(make_digits_config(**{**ASD, "asd_transitions": "epochs"}))
    with pytest.raises(ValueError, match="does not use; set asd_transitions: visits"):
        _run(make_digits_config(**{**ASD, "algorithm": "pseudolabel", "asd_transitions": "views"}))
    with pytest.raises(ValueError, match="neighbours until the labels switch on"):
        _run(make_digits_config(**{**ASD, "algorithm": "pseudolabel", "asd_transitions": "neighbours"}))
    # auto (the default) reads views where the learner has them and visits where it has not.
    record = _run(make_digits_config(**{**ASD, "algorithm": "pseudolabel", "asd_transitions": "auto"}))
    assert 0.0 <= record["acc"] <= 1.0


@pytest.mark.parametrize("clustering", ["kmeans", "spectral"])
def test_feature_map_runs_end_to_end(tmp_path, make_digits_config, clustering):
    """asd_mapping: features: the pool's features are clustered at each re-clustering, from warm-up on."""
    record = _run(make_digits_config(**{**ASD, "algorithm": "fixmatch", "asd_mapping": "features",
                                        "asd_feature_clustering": clustering, "num_log_iter": 10}))
    assert record["iterations"] == 30 and 0.0 <= record["acc"] <= 1.0
    log = (tmp_path / "run" / "log.txt").read_text()
    # Unlike the transition map (no transitions yet this early), this one exists as
    # soon as warm-up ends: it is scored at iteration 10 and used from then on.
    line_10 = next(line for line in log.splitlines() if "] 10 iteration" in line)
    assert "eval/asd_label_acc" in line_10
    assert "train/asd_labels_ready: 1.0000" in next(line for line in log.splitlines() if "] 20 iteration" in line)
    from usb_asd.core.checkpoint_codec import decode

    saved = torch.load(tmp_path / "run" / "latest_model.pth", map_location="cpu", weights_only=False)
    assert decode(saved["asd"])["settings"]["feature_clustering"] == clustering


class CheckEntryTargets:
    """After every labelled batch: instance targets are the entries' slots, labels their slots' clusters."""

    checked_batches = 0
    labelled_batches = 0

    def process_batch(self, input_args=None, **kwargs):
        entries = kwargs["idx_lb"].long().numpy().copy()
        batch = super().process_batch(input_args, **kwargs)
        builder = self.asd_builder
        n_l = builder.settings.num_instances
        assert len(builder.slots) == n_l and entries.max() < n_l
        np.testing.assert_array_equal(self.asd_batch["slots"].cpu().numpy(), entries)
        clusters = builder.slot_clusters
        if clusters is not None:
            np.testing.assert_array_equal(batch["y_lb"].cpu().numpy(), clusters[entries])
            CheckEntryTargets.labelled_batches += 1
        CheckEntryTargets.checked_batches += 1
        return batch


def test_every_entry_trains_on_its_instance_class_and_its_cluster(tmp_path, make_digits_config):
    """With a redraw every iteration: each labelled batch's targets are its entries and their clusters."""
    args = parse_config(make_digits_config(**{**ASD, "algorithm": "fixmatch", "num_train_iter": 12, "num_eval_iter": 12,
                                              "asd_warmup_iter": 4, "asd_cluster_iter": 4, "asd_round_iter": 1,
                                              "asd_num_instances": 40,
                                              # weak -> strong moves: a map from the first steps (visits need revisits)
                                              "asd_transitions": "views"}), extra_arguments=_extra_arguments)
    record = main(args, extra_mixins=(CheckEntryTargets,))
    assert record["iterations"] == 12 and record["acc"] is not None
    assert CheckEntryTargets.checked_batches == 12 and CheckEntryTargets.labelled_batches >= 7
    saved = torch.load(tmp_path / "run" / "latest_model.pth", map_location="cpu", weights_only=False)
    from usb_asd.core.checkpoint_codec import decode

    state = decode(saved["asd"])
    assert len(state["slots"]) == 40
    assert state["rounds"] == 12  # the first draw and a redraw after every iteration but the last
