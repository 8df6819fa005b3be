"""One ASD state across processes: 2 gloo ranks on CPU, and the gather/broadcast units alone."""

import glob
import os

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from usb_asd.asd.distributed import SharedLabelBuilder, gather_pairs, make_label_builder
from usb_asd.asd.cluster_maps import fit_transition_map
from usb_asd.asd.pipeline import ASDSettings, ClusterLabelBuilder
from usb_asd.cli import _extra_arguments
from usb_asd.config import parse_config
from usb_asd.nets.two_head import unwrap
from usb_asd.runner import free_port, main

needs_no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU gloo path")


class RecordASDState:
    """Each rank writes its ASD state after every re-clustering and redraw (module level: spawn unpickles it)."""

    def adapt_datasets(self, dataset_dict):
        dataset_dict = super().adapt_datasets(dataset_dict)
        builder, gathered = self.asd_builder, self.asd_builder.observe_views
        self.asd_local_moves = 0

        def observe_views(weak, strong):  # counts this rank's own moves, then the gathered call
            self.asd_local_moves += int(np.sum(np.asarray(weak) != np.asarray(strong)))
            return gathered(weak, strong)

        builder.observe_views = observe_views
        return dataset_dict

    def predict(self, eval_dest="eval", out_key="logits"):  # marks which rank evaluates
        rank = dist.get_rank() if dist.is_initialized() else 0
        open(os.path.join(self.save_dir, self.save_name, f"predict_rank{rank}_it{self.it:04d}"), "w").close()
        return super().predict(eval_dest, out_key)

    def asd_recluster(self, compete_cold=False):
        done = super().asd_recluster(compete_cold=compete_cold)
        self._asd_dump("recluster")
        return done

    def asd_new_round(self, first_iteration):
        super().asd_new_round(first_iteration)
        self._asd_dump("round")

    def _asd_dump(self, kind):
        builder = self.asd_builder
        rank = dist.get_rank() if dist.is_initialized() else 0
        clusters = builder.slot_clusters
        np.savez(
            os.path.join(self.save_dir, self.save_name, f"asd_rank{rank}_it{self.it:04d}_{kind}.npz"),
            slots=builder.slots,
            clusters=np.full(builder.settings.num_instances, -1) if clusters is None else clusters,
            bank=builder.tracker.bank,
            counts=builder.tracker.transition_counts().toarray(),
            rounds=builder.rounds,
            local_moves=self.asd_local_moves,
            neighbour_classes=builder.neighbour_bank.state_dict()["classes"],
            neighbour_features=builder.neighbour_bank.state_dict()["features"],
            prototypes=unwrap(self.model).instance_head.prototypes.detach().cpu().numpy(),
        )


def _settings(**overrides):
    return ASDSettings(**{"num_clusters": 3, "num_instances": 12, "window": 5, "seed": 0, **overrides})


def test_one_process_keeps_the_plain_builder():
    assert type(make_label_builder(_settings(), 100)) is ClusterLabelBuilder


def _worker(rank, world_size, url, out_dir):
    dist.init_process_group("gloo", init_method=url, world_size=world_size, rank=rank)
    try:
        builder = make_label_builder(_settings(mapping="ctt"), 60)
        assert isinstance(builder, SharedLabelBuilder)
        # Ragged gather, in rank order.
        first, second = gather_pairs(np.arange(rank + 2) + 10 * rank, np.full(rank + 2, rank))
        np.testing.assert_array_equal(first, [0, 1, 10, 11, 12])
        np.testing.assert_array_equal(second, [0, 0, 1, 1, 1])
        # Rank 1's draw is a placeholder; only rank 0 has log-probabilities to give.
        builder.place(builder.draw())
        rng = np.random.default_rng(100 + rank)  # each rank sees its own predictions
        for step in range(8):
            idx = rng.choice(60, size=10, replace=False)
            builder.observe(idx, rng.integers(0, 12, size=10))
        builder.recluster()
        log_probs = None
        if builder.needs_log_probs:
            log_probs = np.log(np.full((12, 12), 1 / 12) + rng.random((12, 12)) * 0.01)
            log_probs -= np.log(np.exp(log_probs).sum(axis=1, keepdims=True))
        builder.place(builder.draw(), log_probs)
        clusters = builder.slot_clusters
        # A background re-clustering (asd_recluster_lag): rank 0 fits on its snapshot while
        # a redraw happens; every rank gets rank 0's map at the apply step, not before.
        for step in range(8):
            idx = rng.choice(60, size=10, replace=False)
            builder.observe(idx, rng.integers(0, 12, size=10))
        # The map a synchronous re-clustering would compute now (the tracker is shared, so on any rank).
        expected = fit_transition_map(builder.cluster_map.mapper.state_dict(),
                                      builder.tracker.similarity())["mapper"]["mapping"]
        builder.start_recluster(apply_at=17)
        assert builder.pending_recluster_at == 17
        builder.place(builder.draw(), log_probs)
        assert builder.pending_recluster_at == 17  # the redraw's broadcast left it pending
        np.testing.assert_array_equal(builder.slot_clusters, clusters)
        builder.finish_recluster()
        assert builder.pending_recluster_at is None
        np.savez(
            os.path.join(out_dir, f"rank{rank}.npz"), slots=builder.slots, clusters=builder.slot_clusters,
            first_clusters=clusters, expected_clusters=expected,
            bank=builder.tracker.bank, counts=builder.tracker.transition_counts().toarray(), rounds=builder.rounds,
            needs=[builder.needs_log_probs],
        )
    finally:
        dist.destroy_process_group()


@needs_no_cuda
def test_two_ranks_share_transitions_slots_and_map(tmp_path):
    mp.spawn(_worker, nprocs=2, args=(2, f"tcp://127.0.0.1:{free_port()}", str(tmp_path)))
    a, b = (np.load(tmp_path / f"rank{r}.npz") for r in (0, 1))
    for key in ("slots", "clusters", "first_clusters", "bank", "counts", "rounds"):
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    assert a["rounds"] == 3 and len(np.unique(a["clusters"])) == 3
    # The background map was applied: the snapshot's fit, not the map from before it.
    np.testing.assert_array_equal(a["clusters"], a["expected_clusters"])
    assert not np.array_equal(a["clusters"], a["first_clusters"])
    # Both ranks' 8 x 10 predictions were counted: 60 samples, seen by both ranks' batches.
    assert (a["bank"] >= 0).sum() > 40
    assert bool(a["needs"][0]) and not bool(b["needs"][0])  # only rank 0 runs the forwards


ASD_2PROC = dict(
    algorithm="freematch", adaptor="asd", num_labels=0, batch_size=8, uratio=4, num_train_iter=20,
    num_eval_iter=20, num_log_iter=10, asd_warmup_iter=5, asd_cluster_iter=5, asd_round_iter=10, asd_window=40,
    multiprocessing_distributed=True, num_cpu_procs=2,
    # weak -> strong moves count from the first step (visits would need a pass over the pool first)
    asd_transitions="views",
)


@needs_no_cuda
@pytest.mark.parametrize("cold_refit,cold_fit_gate,transitions", [("never", False, "views"),
                                                                   ("labels_on", True, "views"),
                                                                   ("never", False, "neighbours")])
def test_two_gloo_processes_train_on_one_asd_state(tmp_path, make_digits_config, cold_refit, cold_fit_gate,
                                                   transitions):
    """Slots, cluster labels and transitions are identical on both ranks at every re-clustering and redraw,
    and the transitions of both ranks' shards are counted; with asd_cold_refit, rank 0's competition is shared,
    and with asd_switch_rule: cold_fit, rank 0's comparison (every rank's gate reads it). With
    asd_transitions: neighbours both ranks' batches fill one neighbour bank, the same on both; that case also
    runs asd_prototype_update: lloyd, whose Lloyd steps at every re-clustering from step 5 on sum both ranks'
    queues, so the prototypes stay the same on both ranks (each rank's own queue alone would part them); the
    labels_on case runs asd_prototype_update: mean, whose running means sum both ranks' cells every step."""
    gate = dict(asd_switch_rule="cold_fit", asd_warmup_iter=15) if cold_fit_gate else {}
    if transitions == "neighbours":
        gate.update(asd_prototype_update="lloyd", asd_freeze_prototypes_iter=5)
    if cold_refit == "labels_on":
        gate.update(asd_prototype_update="mean", asd_freeze_prototypes_iter=5)
    record = main(parse_config(make_digits_config(**{**ASD_2PROC, **gate, "asd_transitions": transitions},
                                                  asd_cold_refit=cold_refit),
                               extra_arguments=_extra_arguments), extra_mixins=(RecordASDState,))
    assert record is not None and record["world_size"] == 2 and record["iterations"] == 20
    dumps = sorted(glob.glob(str(tmp_path / "run" / "asd_rank0_*.npz")))
    # Redraws before training and at 10; re-clusterings at 5, 10, 15, 20.
    assert len(dumps) == 6
    labelled = 0
    for path in dumps:
        a, b = np.load(path), np.load(path.replace("asd_rank0_", "asd_rank1_"))
        for key in ("slots", "clusters", "bank", "counts", "rounds", "neighbour_classes", "neighbour_features",
                    "prototypes"):
            np.testing.assert_array_equal(a[key], b[key], err_msg=f"{key} differs between ranks: {path}")
        labelled += int(np.all(a["clusters"] >= 0))
    assert labelled >= 3  # the map existed at the later re-clusterings
    first = np.load(dumps[1])  # the re-clustering at iteration 5 (it = 4 when the hook runs)
    other = np.load(dumps[1].replace("asd_rank0_", "asd_rank1_"))
    # Within the window (40 > 5 steps), both ranks' moves are counted, on both ranks.
    assert first["local_moves"] > 0 and other["local_moves"] > 0
    assert first["counts"].sum() == first["local_moves"] + other["local_moves"]
    # Evaluation (at iteration 20) ran on rank 0 only; its scores reached results.json.
    assert glob.glob(str(tmp_path / "run" / "predict_rank0_*")) and not glob.glob(str(tmp_path / "run" / "predict_rank1_*"))
    assert record["acc"] is not None
    log = (tmp_path / "run" / "log.txt").read_text()
    if cold_refit == "labels_on":  # the competition at the switch-on ran (on rank 0, shared by the broadcast)
        assert "the warm-started map: k-Medoids objective" in log
    if transitions == "neighbours":  # on since step 5: both ranks' 2 x 32 images a step from 6 to 20
        assert len(np.load(dumps[-1])["neighbour_classes"]) == 15 * 64
    if cold_fit_gate:  # the gate compared the map at 10 with a cold fit (logged there) before its switch-on
        assert "train/asd_cold_fit_agreement" in log


def _sinkhorn_worker(rank, world_size, url, out_dir):
    from usb_asd.asd.balanced_targets import sinkhorn_equipartition
    from usb_asd.asd.distributed import sum_over_ranks

    dist.init_process_group("gloo", init_method=url, world_size=world_size, rank=rank)
    try:
        scores = torch.load(os.path.join(out_dir, "scores.pt"))
        part = scores[rank * 30:(rank + 1) * 30]  # each rank holds half of the global batch
        reduce = sum_over_ranks()
        assert reduce is not None
        torch.save(sinkhorn_equipartition(part, all_reduce=reduce), os.path.join(out_dir, f"targets{rank}.pt"))
    finally:
        dist.destroy_process_group()


@needs_no_cuda
def test_two_ranks_spread_the_global_batch_as_one_process_spreads_it(tmp_path):
    from usb_asd.asd.balanced_targets import sinkhorn_equipartition

    scores = torch.nn.functional.normalize(torch.randn(60, 8, generator=torch.Generator().manual_seed(0)), dim=1)
    scores = scores @ scores[:12].t()  # 60 images scored against 12 classes, unevenly
    torch.save(scores, tmp_path / "scores.pt")
    mp.spawn(_sinkhorn_worker, nprocs=2, args=(2, f"tcp://127.0.0.1:{free_port()}", str(tmp_path)))
    together = torch.cat([torch.load(tmp_path / f"targets{r}.pt") for r in (0, 1)])
    torch.testing.assert_close(together, sinkhorn_equipartition(scores), atol=1e-5, rtol=1e-5)
    # Neither half alone is balanced; the two together are.
    share = together.sum(dim=0) / 60 * 12
    assert torch.all((share - 1).abs() < 0.05)
