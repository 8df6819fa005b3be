"""The upstream patches apply cleanly to the installed (pristine) semilearn 0.3.2."""

import glob
import os
import shutil
import subprocess

import pytest

PATCH_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "patches")
PATCHES = sorted(glob.glob(os.path.join(PATCH_DIR, "*.patch")))


@pytest.fixture(scope="module")
def pristine_tree(tmp_path_factory):
    import importlib.util

    spec = importlib.util.find_spec("semilearn")
    root = tmp_path_factory.mktemp("usb")
    shutil.copytree(os.path.dirname(spec.origin), root / "semilearn", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    return root


def test_patches_exist():
    assert len(PATCHES) >= 4


@pytest.mark.parametrize("patch", PATCHES, ids=os.path.basename)
def test_patch_applies_to_semilearn_0_3_2(pristine_tree, patch):
    result = subprocess.run(["git", "apply", "--check", patch], cwd=pristine_tree, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_all_patches_apply_together_and_compile(pristine_tree, tmp_path):
    work = tmp_path / "all"
    shutil.copytree(pristine_tree, work)
    for patch in PATCHES:
        subprocess.run(["git", "apply", patch], cwd=work, check=True)
    result = subprocess.run(["python3", "-m", "compileall", "-q", "semilearn"], cwd=work, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


MAIN_PATCHES = sorted(glob.glob(os.path.join(PATCH_DIR, "main", "*.patch")))


def test_every_patch_has_a_version_for_main():
    assert [os.path.basename(p) for p in MAIN_PATCHES] == [os.path.basename(p) for p in PATCHES]


@pytest.mark.skipif(not os.environ.get("USB_MAIN_TREE"),
                    reason="set USB_MAIN_TREE to a git tree of USB's main (commit in patches/README.md)")
def test_main_patches_apply_to_usb_main(tmp_path):
    work = tmp_path / "main"
    shutil.copytree(os.environ["USB_MAIN_TREE"], work, ignore=shutil.ignore_patterns("__pycache__", ".git"))
    subprocess.run(["git", "init", "-q"], cwd=work, check=True)
    for patch in MAIN_PATCHES:
        result = subprocess.run(["git", "apply", "--check", patch], cwd=work, capture_output=True, text=True)
        assert result.returncode == 0, f"{os.path.basename(patch)}: {result.stderr}"
    for patch in MAIN_PATCHES:
        subprocess.run(["git", "apply", patch], cwd=work, check=True)
    result = subprocess.run(["python3", "-m", "compileall", "-q", "semilearn"], cwd=work, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


class _RunsOnLoad:
    """Pickles to ``open(marker, "w")``: unpickling it without weights_only creates the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _patched_nets_utils(pristine_tree, tmp_path):
    """``semilearn/nets/utils.py`` with patch 0007 applied, imported on its own (it needs only torch)."""
    import importlib.util

    work = tmp_path / "p7"
    shutil.copytree(pristine_tree, work)
    patch = os.path.join(PATCH_DIR, "0007-load-checkpoint-weights-only.patch")
    subprocess.run(["git", "apply", patch], cwd=work, check=True)
    spec = importlib.util.spec_from_file_location("patched_nets_utils", work / "semilearn" / "nets" / "utils.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_patched_load_checkpoint_reads_weights_only_and_names_a_wrong_file(pristine_tree, tmp_path):
    import torch

    utils = _patched_nets_utils(pristine_tree, tmp_path)
    net = torch.nn.Sequential()
    net.add_module("body", torch.nn.Linear(3, 4))
    net.add_module("fc", torch.nn.Linear(4, 2))
    # USB's layout loads as before: "module." dropped, the classifier head left at its initialisation.
    source = {"module.body.weight": torch.ones(4, 3), "module.body.bias": torch.zeros(4),
              "module.fc.weight": torch.ones(2, 4)}
    torch.save({"model": source}, tmp_path / "good.pth")
    head = net.fc.weight.detach().clone()
    utils.load_checkpoint(net, str(tmp_path / "good.pth"))
    assert torch.equal(net.body.weight, torch.ones(4, 3)) and torch.equal(net.fc.weight, head)
    # A pickle payload is refused, not run.
    marker = tmp_path / "ran"
    torch.save({"model": _RunsOnLoad(marker)}, tmp_path / "payload.pth")
    with pytest.raises(Exception, match="[Ww]eights only load failed"):
        utils.load_checkpoint(net, str(tmp_path / "payload.pth"))
    assert not marker.exists()
    # Addresses other than https:// are refused before anything is read.
    with pytest.raises(ValueError, match="neither an existing file nor an https:// URL"):
        utils.load_checkpoint(net, f"file://{tmp_path / 'payload.pth'}")
    assert not marker.exists()
    # A file of the wrong structure: one error naming it and what was expected.
    torch.save(7, tmp_path / "int.pth")
    with pytest.raises(ValueError, match=r"int\.pth.* holds a int: expected a checkpoint dict whose 'model' entry"):
        utils.load_checkpoint(net, str(tmp_path / "int.pth"))
    torch.save({"state": source}, tmp_path / "other.pth")
    with pytest.raises(ValueError, match=r"holds a dict with keys \['state'\]"):
        utils.load_checkpoint(net, str(tmp_path / "other.pth"))
