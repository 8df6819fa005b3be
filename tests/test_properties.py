"""Property-based tests: any mix of settings, any folder tree gives a valid run plan or one UserError, never
another exception (and a folder's pool never holds a file twice)."""

from __future__ import annotations

import os
import tempfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from ruamel.yaml import YAML

from tests.conftest import digits_config
from usb_asd.errors import UserError

#: Keys the mixes draw from: USB's, the plugin's, the adaptor's, and two that no flag knows.
KEYS = [
    "algorithm", "adaptor", "dataset", "data_dir", "net", "num_classes", "num_labels", "img_size", "lr", "optim",
    "momentum", "weight_decay", "epoch", "num_train_iter", "num_eval_iter", "batch_size", "uratio", "ema_m",
    "crop_ratio", "gpu", "seed", "num_workers", "image_kind", "resume", "load_path", "overwrite", "use_pretrain",
    "pretrain_path", "pretrain_sha256", "skip_bad_images", "check_images", "supercm", "da_target_dataset",
    "asd_window", "asd_num_instances", "asd_mapping", "asd_warmup_iter", "asd_cluster_iter", "asd_round_iter",
    "asd_draw_factor", "asd_recluster_lag", "asd_windw", "no_such_key",
]

#: Words that are valid for some keys and nonsense for others.
WORDS = ["digits", "folder", "mnist5kk", "cifar10", "cnn_small", "wrn_28_2", "asd", "none", "fixmatch", "freematch",
         "supercm", "dash", "SGD", "AdamW", "glyph", "natural", "features", "ctt", "", "x" * 3, "/nowhere", "-1"]

#: Plausible values (the right type, perhaps out of range) more often than wild ones, so that mixes get past
#: the type checks to the checks of ranges, names, data and checkpoints.
PLAUSIBLE = st.one_of(st.integers(min_value=-3, max_value=70), st.sampled_from(WORDS),
                      st.floats(min_value=-1, max_value=2), st.booleans(), st.none())
WILD = st.one_of(st.integers(), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=6),
                 st.lists(st.integers(min_value=0, max_value=3), max_size=2),
                 st.dictionaries(st.sampled_from(["a", "b"]), st.integers(), max_size=1))
VALUES = st.one_of(PLAUSIBLE, PLAUSIBLE, PLAUSIBLE, WILD)

SLOW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                       HealthCheck.too_slow])


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("images")
    for i in range(12):
        Image.fromarray(np.full((6, 6, 3), 20 * i, np.uint8)).save(root / f"{i}.png")
    return str(root)


@SLOW
@given(mix=st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=4), data=st.data())
def test_any_mix_of_settings_is_a_plan_or_one_user_error(tmp_path, image_folder, mix, data):
    from usb_asd import plugin
    from usb_asd.cli import _extra_arguments
    from usb_asd.config import parse_config
    from usb_asd.data.pool_check import forget_prepared
    from usb_asd.preflight import check_run
    from usb_asd.runner import plan_run_folder, validate_args

    if "data_dir" in mix:
        mix["data_dir"] = data.draw(st.sampled_from([image_folder, str(tmp_path / "absent"), mix["data_dir"]]))
    # A short valid digits run, with the mix written over it (one YAML mapping, each key once).
    argv = digits_config(tmp_path, num_train_iter=40, num_eval_iter=20)
    with open(argv[1], encoding="utf-8") as handle:
        config = YAML(typ="safe", pure=True).load(handle)
    with open(argv[1], "w", encoding="utf-8") as handle:
        YAML(typ="safe", pure=True).dump({**config, **mix}, handle)
    plugin.register()
    before = sorted(os.listdir(tmp_path))
    try:
        args = parse_config(argv, extra_arguments=_extra_arguments)
        validate_args(args)
        check_run(args)
        plan_run_folder(args)
    except UserError as error:
        assert str(error).strip()
    finally:
        forget_prepared()
    assert sorted(os.listdir(tmp_path)) == before  # a plan writes nothing


# ---- folder trees -------------------------------------------------------------------------------------

NAMES = ["a", "b", "train", "test", ".hidden", "c.png", "d.PNG", "e.txt"]

ENTRY = st.tuples(
    st.lists(st.sampled_from(NAMES), min_size=1, max_size=3),
    st.sampled_from(["png", "junk", "cut", "text", "dir", "link_up", "link_dir", "link_file", "link_loop",
                     "link_broken", "hardlink"]),
    st.integers(min_value=0, max_value=50),
)


def _build(root: str, entries) -> int:
    """Make the tree; returns how many distinct image files (by content) it holds."""
    made_files, made_dirs, images = [], [root], 0
    for parts, kind, pick in entries:
        path = os.path.join(root, *parts)
        if os.path.lexists(path):
            continue
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
        except OSError:  # a file (or a link loop) stands where the folder would go: skip the entry
            continue
        if kind == "dir":
            os.mkdir(path)
            made_dirs.append(path)
        elif kind in ("png", "cut"):
            Image.fromarray(np.full((4, 4, 3), pick, np.uint8)).save(path, format="PNG")
            if kind == "cut":
                with open(path, "rb") as handle:
                    data = handle.read()
                with open(path, "wb") as handle:
                    handle.write(data[: len(data) // 2])
            made_files.append(path)
            images += 1
        elif kind == "junk":
            with open(path, "wb") as handle:
                handle.write(b"not an image %d" % pick)
            made_files.append(path)
        elif kind == "text":
            with open(path, "w") as handle:
                handle.write("notes")
        elif kind == "link_up":
            os.symlink("..", path)
        elif kind == "link_dir":
            os.symlink(made_dirs[pick % len(made_dirs)], path)
        elif kind == "link_file" and made_files:
            os.symlink(made_files[pick % len(made_files)], path)
        elif kind == "hardlink" and made_files:
            os.link(made_files[pick % len(made_files)], path)
        elif kind == "link_loop":
            os.symlink(os.path.basename(path), path)
        elif kind == "link_broken":
            os.symlink(os.path.join(root, "missing", str(pick)), path)
    return images


@SLOW
@given(entries=st.lists(ENTRY, max_size=14), num_classes=st.one_of(st.none(), st.integers(min_value=0, max_value=4)),
       skip=st.booleans())
def test_any_folder_tree_is_a_pool_read_once_or_one_user_error(entries, num_classes, skip):
    from usb_asd.data.folder import load_image_folder
    from usb_asd.data.pool_check import check_pixels

    with tempfile.TemporaryDirectory() as root:
        images = _build(root, entries)
        try:
            splits, _ = check_pixels(load_image_folder(root, num_classes=num_classes), skip_bad=skip)
        except UserError as error:
            assert str(error).strip() and "\n" not in str(error)
            return
        pools = [splits.train_images] + ([] if splits.test_images is splits.train_images else [splits.test_images])
        for pool in pools:
            files = {(os.stat(p).st_dev, os.stat(p).st_ino) for p in pool}
            assert len(files) == len(pool)  # never the same file twice
            assert all(os.path.abspath(p).startswith(os.path.abspath(root)) for p in pool)
        assert len(splits.train_images) + (len(pools[1]) if len(pools) > 1 else 0) <= images
        assert len(splits.train_targets) == len(splits.train_images)
