"""The projection queue: what it holds, in which order, and its round trip through a checkpoint."""

import pytest
import torch

from usb_asd.asd.embedding_queue import EmbeddingQueue, queue_length_for


def test_length_covers_the_classes_in_whole_batches():
    assert queue_length_for(224, 100) == 0
    assert queue_length_for(64, 64) == 0
    assert queue_length_for(64, 100) == 128
    assert queue_length_for(448, 4000) == 4032
    with pytest.raises(ValueError):
        queue_length_for(0, 10)


def test_newest_first_and_the_oldest_fall_off():
    q = EmbeddingQueue(5)
    protos = torch.eye(3)
    batch = torch.zeros(2, 3)
    assert q.extend_scores(batch, protos) is batch  # empty queue: the batch alone
    q.push(torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]))
    q.push(torch.tensor([[0, 0, 1.0], [1.0, 0, 0]]))
    q.push(torch.tensor([[0, 1.0, 0], [0, 0, 1.0]]))
    assert q.filled == 5
    scores = q.extend_scores(batch, protos)
    # batch rows, then the queued projections newest first; the very first one fell off.
    assert scores.shape == (7, 3)
    assert torch.equal(scores[2:].argmax(dim=1), torch.tensor([1, 2, 2, 0, 0]))


def test_a_disabled_queue_holds_nothing():
    q = EmbeddingQueue(0)
    q.push(torch.ones(4, 2))
    assert q.filled == 0 and q.extend_scores(torch.ones(1, 3), torch.ones(3, 2)).shape == (1, 3)


def test_state_round_trip_continues_identically():
    a, b = EmbeddingQueue(6), EmbeddingQueue(6)
    g = torch.Generator().manual_seed(0)
    a.push(torch.randn(4, 3, generator=g))
    b.load_state_dict(a.state_dict())
    nxt = torch.randn(4, 3, generator=g)
    a.push(nxt)
    b.push(nxt)
    protos = torch.randn(5, 3, generator=g)
    assert torch.equal(a.extend_scores(torch.zeros(1, 5), protos), b.extend_scores(torch.zeros(1, 5), protos))
    with pytest.raises(ValueError, match="holds 6"):
        EmbeddingQueue(3).load_state_dict(a.state_dict())
