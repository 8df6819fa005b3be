"""Pretrained weights are data: weights_only, https or a local file, the checksum, one error for a wrong file."""

import argparse
import hashlib

import pytest
import torch

from usb_asd.core.pretrained import (
    PretrainedNetBuilder, WeightsError, check_pretrained, check_sha256_setting, load_into, local_weights_file,
    read_weights,
)
from usb_asd.nets.small_cnn import cnn_small


class _RunsOnLoad:
    """Pickles to ``open(marker, "w")``: unpickling it without weights_only creates the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _args(**settings):
    base = dict(net="cnn_small", use_pretrain=True, pretrain_path="", pretrain_sha256=None)
    base.update(settings)
    return argparse.Namespace(**base)


def _weights(tmp_path, layout="model"):
    """A file of cnn_small weights whose every parameter is 0.5, in the given layout."""
    state = {key: torch.full_like(value, 0.5) for key, value in cnn_small(num_classes=3).state_dict().items()}
    content = {"model": state} if layout == "model" else {"state_dict": state} if layout == "state_dict" else state
    path = tmp_path / f"{layout}.pth"
    torch.save(content, path)
    return path


@pytest.mark.parametrize("layout", ["model", "state_dict", "bare"])
def test_weights_in_each_layout_load_and_the_head_keeps_its_initialisation(tmp_path, layout):
    path = _weights(tmp_path, layout)
    builder = PretrainedNetBuilder(cnn_small, _args(pretrain_path=str(path)))
    model = builder(num_classes=3, pretrained=True, pretrained_path=str(path))
    loaded = model.state_dict()
    body = [key for key in loaded if not key.startswith(("fc", "classifier", "head", "mlp"))]
    assert body and all(torch.all(loaded[key] == 0.5) for key in body if loaded[key].is_floating_point())
    heads = [key for key in loaded if key.startswith(("fc", "classifier"))]
    assert heads and not all(torch.all(loaded[key] == 0.5) for key in heads)
    # The EMA copy is built without weights (USB's call), and no builder is asked to load any.
    assert builder(num_classes=3) is not None


def test_a_pickle_payload_is_refused_and_not_run(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "payload.pth"
    torch.save({"model": {"conv.weight": _RunsOnLoad(marker)}}, path)
    with pytest.raises(WeightsError, match=r"payload\.pth.* cannot be read as weights \(tensors only, nothing in "
                                            r"the file is run\): it holds pickled objects, not only tensors "
                                            r"\(first: io.open\)"):
        check_pretrained(_args(pretrain_path=str(path)))
    assert not marker.exists()


@pytest.mark.parametrize("address", ["http://example.org/w.pth", "file:///tmp/w.pth", "ftp://example.org/w.pth"])
def test_addresses_other_than_https_are_refused_before_anything_is_read(address):
    with pytest.raises(WeightsError, match=r"only local files and https:// addresses are read"):
        local_weights_file(address, download=lambda url, dst: pytest.fail("nothing may be downloaded"))


def test_https_downloads_once_into_torch_hub_and_is_checked(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    source = _weights(tmp_path)
    calls = []

    def download(url, destination):
        calls.append(url)
        with open(source, "rb") as src, open(destination, "wb") as dst:
            dst.write(src.read())

    url = "https://example.org/weights/model.pth"
    cached = local_weights_file(url, download=download)
    assert cached == str(tmp_path / "hub" / "checkpoints" / "model.pth")
    assert local_weights_file(url, download=download) == cached and calls == [url]

    def fails(url, destination):
        raise OSError("network unreachable")

    with pytest.raises(WeightsError, match=r"cannot be downloaded: OSError: network unreachable"):
        local_weights_file("https://example.org/other.pth", download=fails)


def test_the_checksum_is_compared_when_given(tmp_path):
    path = _weights(tmp_path)
    right = hashlib.sha256(path.read_bytes()).hexdigest()
    assert read_weights(str(path), right)
    with pytest.raises(WeightsError, match=rf"has SHA-256 {right}, not pretrain_sha256 {'0' * 64}"):
        read_weights(str(path), "0" * 64)
    assert check_sha256_setting(right.upper()) == right
    with pytest.raises(WeightsError, match="64 hexadecimal digits"):
        check_sha256_setting("abc123")


@pytest.mark.parametrize("content, expected", [
    (7, "holds an int"),
    ({"epoch": 3, "optimizer": {}}, "holds a dict with keys \\['epoch', 'optimizer'\\]"),
    ({"model": {"w": 1}}, "holds a dict with keys \\['model'\\]"),
    ([torch.ones(2)], "holds a list"),
])
def test_a_file_of_the_wrong_structure_names_the_file_and_what_was_expected(tmp_path, content, expected):
    path = tmp_path / "odd.pth"
    torch.save(content, path)
    with pytest.raises(WeightsError, match=rf"odd\.pth'? {expected}: expected a state dict \(parameter name -> "
                                           r"tensor\), or a checkpoint holding one under 'model'"):
        check_pretrained(_args(pretrain_path=str(path)))


def test_weights_for_another_net_are_named(tmp_path):
    model = cnn_small(num_classes=3)
    with pytest.raises(WeightsError, match=r"none of its 1 tensors names a parameter of net cnn_small"):
        load_into(model, {"encoder.layer9.weight": torch.ones(3)}, "w.pth", "cnn_small")
    key = next(k for k, v in model.state_dict().items() if v.dim() == 4)
    with pytest.raises(WeightsError, match=rf"does not fit net cnn_small: '{key}' has shape \(1, 1\)"):
        load_into(model, {key: torch.ones(1, 1)}, "w.pth", "cnn_small")


def test_missing_files_and_no_pretraining():
    with pytest.raises(WeightsError, match="pretrain_path '/nowhere/w.pth' does not exist"):
        check_pretrained(_args(pretrain_path="/nowhere/w.pth"))
    with pytest.raises(WeightsError, match="needs pretrain_path"):
        check_pretrained(_args(pretrain_path=""))
    assert check_pretrained(_args(use_pretrain=False, pretrain_path="/nowhere")) is None
