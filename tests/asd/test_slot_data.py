"""The adaptor's labelled data: slot tables published to loader workers, one round per N_t iterations."""

import numpy as np
import pytest
import torch
from semilearn.datasets import DistributedSampler
from torch.utils.data import DataLoader

from usb_asd.asd.slot_data import SlotDataset, SlotStreamSampler, SlotTable


class ConstantImages:
    """A pool whose image ``i`` is filled with the value ``i``: a view tells which instance it shows."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __sample__(self, i):
        return np.full((2, 2, 3), i, dtype=np.uint8), -1

    @staticmethod
    def transform(pil):
        return torch.tensor(float(np.asarray(pil)[0, 0, 0]))

    @staticmethod
    def strong_transform(pil):
        return -torch.tensor(float(np.asarray(pil)[0, 0, 0]))


def _usb_sampler(dataset, num_samples):
    return DistributedSampler(dataset, num_replicas=1, rank=0, num_samples=num_samples)


def test_stream_sampler_yields_the_iteration_of_each_position():
    data = list(range(5))
    sampler = SlotStreamSampler(_usb_sampler(data, 12), batch_size=3)
    items = list(sampler)
    assert [it for it, _ in items] == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert [slot for _, slot in items] == list(iter(_usb_sampler(data, 12)))
    # Second epoch: iterations continue; a resume that skips 2 batches keeps them right.
    sampler.set_epoch(1)
    sampler.skip = 6
    assert [it for it, _ in sampler] == [6, 6, 6, 7, 7, 7]
    assert [it for it, _ in sampler] == [4, 4, 4, 5, 5, 5, 6, 6, 6, 7, 7, 7]  # skip applies once


def test_table_round_schedule_and_shape_check():
    table = SlotTable(4, round_iter=10)
    assert [table.round_for(i) for i in (0, 9, 10, 19, 20)] == [1, 1, 2, 2, 3]
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        table.publish(np.arange(3), 0)
    with pytest.raises(ValueError, match="asd_round_iter"):
        SlotTable(4, round_iter=0)


@pytest.mark.parametrize("num_workers", [0, 1])
def test_prefetching_workers_build_each_batch_from_its_rounds_table(num_workers):
    """Workers run ahead of training; batches after a redraw must still show the new instances."""
    n_l, batch, round_iter, iters = 4, 4, 3, 9
    pool = ConstantImages(40)
    table = SlotTable(n_l, round_iter, wait_timeout_s=30)
    dataset = SlotDataset(pool, table, num_clusters=2, with_strong=True)
    sampler = SlotStreamSampler(_usb_sampler(dataset, iters * batch), batch)
    loader = DataLoader(dataset, batch_size=batch, sampler=sampler, num_workers=num_workers, drop_last=True)
    tables = {1: np.array([0, 1, 2, 3]), 2: np.array([10, 11, 12, 13]), 3: np.array([20, 21, 22, 23])}
    table.publish(tables[1], 0)
    seen = 0
    for it, item in enumerate(loader):
        rnd = 1 + it // round_iter
        assert item["it_lb"].tolist() == [it] * batch
        expected = tables[rnd][item["idx_lb"].numpy()]
        assert item["inst_lb"].tolist() == expected.tolist()
        assert item["x_lb"].tolist() == expected.astype(float).tolist()  # the views are of those instances
        assert item["x_lb_s"].tolist() == (-expected.astype(float)).tolist()
        if (it + 1) % round_iter == 0 and it + 1 < iters:
            table.publish(tables[rnd + 1], it + 1)  # the redraw, after the iteration's update
        seen += 1
    assert seen == iters


def test_a_round_never_published_raises_a_clear_error():
    table = SlotTable(2, round_iter=2, wait_timeout_s=0.05)
    dataset = SlotDataset(ConstantImages(4), table, num_clusters=2, with_strong=False)
    with pytest.raises(RuntimeError, match="no slot table"):
        dataset[0]  # plain indexing before any table exists
    table.publish(np.array([1, 2]), 0)
    assert dataset[(1, 1)]["inst_lb"] == 2 and "x_lb_s" not in dataset[(1, 1)]
    with pytest.raises(RuntimeError, match="round 2 .*not published within"):
        dataset[(2, 0)]
    table.publish(np.array([3, 0]), 4)  # round 3
    with pytest.raises(RuntimeError, match="after round 3 was published"):
        dataset[(2, 0)]
    with pytest.raises(IndexError):
        dataset[(4, 2)]
