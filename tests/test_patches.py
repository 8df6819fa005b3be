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
