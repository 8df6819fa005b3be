"""The upstream patches apply cleanly to the installed (pristine) semilearn 0.3.2."""

import copy
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


def _patched_ema_hook(pristine_tree, tmp_path, monkeypatch):
    """``semilearn/core/hooks/ema.py`` with patch 0008 applied, imported without the rest of semilearn.

    Its imports are ``.hook`` (plain Python) and ``semilearn.core.utils.EMA``: the patched tree's hooks folder
    stands in as the package, and a stand-in ``semilearn.core.utils`` holds USB's ``EMA`` from the tree's
    ``core/utils/misc.py``, loaded on its own.
    """
    import importlib.util
    import sys
    import types

    work = tmp_path / "p8"
    shutil.copytree(pristine_tree, work)
    patch = os.path.join(PATCH_DIR, "0008-ema-batchnorm-statistics.patch")
    subprocess.run(["git", "apply", patch], cwd=work, check=True)

    def load(name, path):
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, name, module)
        spec.loader.exec_module(module)
        return module

    misc = load("patched_semilearn_misc", work / "semilearn" / "core" / "utils" / "misc.py")
    utils = types.ModuleType("semilearn.core.utils")
    utils.EMA = misc.EMA
    monkeypatch.setitem(sys.modules, "semilearn.core.utils", utils)
    package = types.ModuleType("patched_semilearn_hooks")
    package.__path__ = [str(work / "semilearn" / "core" / "hooks")]
    monkeypatch.setitem(sys.modules, "patched_semilearn_hooks", package)
    return load("patched_semilearn_hooks.ema", work / "semilearn" / "core" / "hooks" / "ema.py")


def test_patched_ema_hook_re_estimates_batchnorm_statistics_with_the_ema_weights(pristine_tree, tmp_path, monkeypatch):
    from types import SimpleNamespace

    import numpy as np
    import torch
    import torch.nn.functional as F

    ema_module = _patched_ema_hook(pristine_tree, tmp_path, monkeypatch)

    class Images:  # USB's BasicDataset interface: __sample__(i) -> (image, target)
        def __init__(self, data):
            self.data = data

        def __len__(self):
            return len(self.data)

        def __sample__(self, i):
            return self.data[i], None

    def to_tensor(img):  # the evaluation transform (PIL image -> tensor)
        return torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).permute(2, 0, 1)

    data = np.random.default_rng(0).integers(0, 256, size=(24, 6, 6, 3), dtype=np.uint8)
    images = torch.stack([to_tensor(d) for d in data])

    def run(flag, dataset_dict=None):
        """Five steps of USB's EMAHook on a stub algorithm; the raw model trains on shifted ("augmented") views."""
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                                    torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 8),
                                    torch.nn.Dropout(0.5), torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 3))
        ema_model = copy.deepcopy(model)
        args = SimpleNamespace(eval_batch_size=8, num_workers=0)
        if flag is not None:
            args.ema_bn_recalibration = flag
        messages = []
        alg = SimpleNamespace(model=model, ema_model=ema_model, ema_m=0.5, resume=False, it=0, num_train_iter=5,
                              args=args, print_fn=messages.append,
                              dataset_dict=dataset_dict or {"train_ulb": Images(data),
                                                            "eval": SimpleNamespace(transform=to_tensor)})
        hook = ema_module.EMAHook()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
        hook.before_run(alg)
        for it in range(5):
            alg.it = it
            loss = model(images[torch.randint(0, 24, (8,))] * 3 + 0.5).logsumexp(1).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            hook.after_train_step(alg)
            if it == 3:  # before the last iteration: USB's behaviour, the EMA model holds the raw model's buffers
                assert all(torch.equal(a, b) for a, b in zip(ema_model.buffers(), model.buffers()))
        return alg, messages

    on, on_messages = run(True)
    off, off_messages = run(False)
    absent, _ = run(None)  # args without the key (a 0.3.2 config): off
    ema = on.ema_model
    # Parameters (raw and EMA) are those of the run without the option; only the buffers differ.
    for run_ in (off, absent):
        for net in ("model", "ema_model"):
            pairs = zip(getattr(on, net).parameters(), getattr(run_, net).parameters())
            assert all(torch.equal(a, b) for a, b in pairs)
        assert all(torch.equal(a, b) for a, b in zip(run_.ema_model.buffers(), run_.model.buffers()))
    assert not torch.equal(ema[1].running_mean, off.ema_model[1].running_mean)
    assert not off_messages and "re-estimated on 24 training images" in on_messages[-1]
    # First BatchNorm layer: the mean of the EMA weights' activations on the images, the mean of the batch variances.
    with torch.no_grad():
        act = F.conv2d(images, ema[0].weight, ema[0].bias)
        variances = [act[i:i + 8].transpose(0, 1).reshape(4, -1).var(1) for i in range(0, 24, 8)]
    assert torch.allclose(ema[1].running_mean, act.mean(dim=(0, 2, 3)), atol=1e-6)
    assert torch.allclose(ema[1].running_var, torch.stack(variances).mean(0), atol=1e-5)
    assert int(ema[1].num_batches_tracked) == 3
    # Momentum and training flags restored; the raw model's buffers (read by evaluate() under the EMA shadow)
    # hold the same statistics, so evaluate()'s prediction is the EMA model's.
    assert ema[1].momentum == 0.1 and ema[7].momentum == 0.1 and ema.training and ema[6].training
    assert all(torch.equal(a, b) for a, b in zip(ema.buffers(), on.model.buffers()))
    on.model.eval()
    ema.eval()
    on.ema.apply_shadow()
    with torch.no_grad():
        assert torch.allclose(on.model(images), ema(images))
    on.ema.restore()
    # No images to read (NLP and audio datasets have no __sample__): skipped with a message, USB's behaviour.
    skipped, messages = run(True, {"train_ulb": [1, 2], "eval": SimpleNamespace(transform=None)})
    assert all(torch.equal(a, b) for a, b in zip(skipped.ema_model.buffers(), skipped.model.buffers()))
    assert "ema_bn_recalibration skipped" in messages[-1]
    # A last batch of a single image is left out (BatchNorm1d refuses it in training mode).
    _, messages = run(True, {"train_ulb": Images(data[:17]), "eval": SimpleNamespace(transform=to_tensor)})
    assert "re-estimated on 16 training images" in messages[-1]
