"""CPU placement and the redirection of USB's hard-coded .cuda() calls."""

import argparse

import pytest
import torch

from usb_asd.device import cuda_calls_to, place_model, processes_per_node, resolve_device, to_device

needs_no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only behaviour")


@needs_no_cuda
def test_gpu_none_means_cpu_without_cuda():
    assert resolve_device(None) == torch.device("cpu")


@needs_no_cuda
def test_gpu_index_without_cuda_is_a_clear_error():
    with pytest.raises(ValueError, match="gpu: 0"):
        resolve_device(0)


def test_gpu_must_be_an_index():
    with pytest.raises(ValueError, match="gpu"):
        resolve_device("0")


@needs_no_cuda
def test_cuda_calls_are_redirected_only_inside_the_block():
    t = torch.ones(2)
    with cuda_calls_to(torch.device("cpu")):
        moved = t.cuda(0)
        assert moved.device.type == "cpu"
        with cuda_calls_to(torch.device("cpu")):
            assert t.cuda().device.type == "cpu"
        assert t.cuda().device.type == "cpu"  # outer block still active after the inner one
    with pytest.raises((RuntimeError, AssertionError)):
        t.cuda()


@needs_no_cuda
def test_cpu_process_count_and_placement():
    assert processes_per_node(3) == 3
    with pytest.raises(ValueError, match="num_cpu_procs"):
        processes_per_node(0)
    model = torch.nn.Linear(2, 2)
    placed = place_model(argparse.Namespace(distributed=False, gpu=None), model, torch.device("cpu"))
    assert placed is model and next(placed.parameters()).device.type == "cpu"


def test_to_device_handles_dicts_and_non_tensors():
    out = to_device({"a": torch.zeros(1), "b": 3}, torch.device("cpu"))
    assert out["a"].device.type == "cpu" and out["b"] == 3
