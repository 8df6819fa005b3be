"""Every shipped config parses, type-checks and names a supported learner and dataset.

Grid configs of ``usb_asd.compare`` (a top-level ``grid:`` section) are not
train.py configs; they are checked with the grid loader instead.
"""

import glob
import os

import pytest

from usb_asd.cli import _extra_arguments
from usb_asd.compare.grid import load_grid_config, validate_spec
from usb_asd.config import load_yaml, parse_config
from usb_asd.core.learner import DOMAIN_ADAPTATION_LEARNERS, SUPPORTED_LEARNERS
from usb_asd.data.registry import DATASETS

CONFIG_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "config")
ALL_CONFIGS = sorted(glob.glob(os.path.join(CONFIG_DIR, "*.yaml")))
GRID_CONFIGS = [p for p in ALL_CONFIGS if "grid" in load_yaml(p)]
CONFIGS = [p for p in ALL_CONFIGS if p not in GRID_CONFIGS]


def test_there_are_configs():
    assert len(CONFIGS) >= 4


@pytest.mark.parametrize("path", CONFIGS, ids=os.path.basename)
def test_config_is_valid(path):
    args = parse_config(["--c", path], extra_arguments=_extra_arguments)
    assert args.algorithm in SUPPORTED_LEARNERS + DOMAIN_ADAPTATION_LEARNERS
    assert args.dataset in DATASETS
    # auto: the budget follows the pool (usb_asd.budget), resolved when the run starts.
    assert args.num_train_iter == "auto" or args.num_train_iter % args.epoch == 0
    assert args.save_name == os.path.splitext(os.path.basename(path))[0]


@pytest.mark.parametrize("path", GRID_CONFIGS, ids=os.path.basename)
def test_grid_config_is_valid(path):
    validate_spec(load_grid_config(path))


def test_a_plugin_key_given_as_a_flag_overrides_the_shipped_config():
    """``train.py --c config/asd_freematch_digits.yaml --asd_mapping features`` runs the feature map."""
    path = os.path.join(CONFIG_DIR, "asd_freematch_digits.yaml")
    assert load_yaml(path)["asd_mapping"] == "ctt"
    args = parse_config(["--c", path, "--asd_mapping", "features", "--T", "0.3"], extra_arguments=_extra_arguments)
    assert args.asd_mapping == "features"
    assert args.T == 0.3  # a FreeMatch argument, known only once the learner is read
    assert args.asd_kmedoids_distance == load_yaml(path)["asd_kmedoids_distance"]  # the rest is the file's


#: What may differ between a digits config and its MNIST-5k twin: the data, its input size, where runs go.
DATA_KEYS = {"dataset", "img_size", "save_dir", "save_name"}


@pytest.mark.parametrize("name", ["asd_freematch", "asd_fixmatch", "freematch_{}_40", "fixmatch_{}_40"])
def test_mnist5k_configs_keep_every_setting_chosen_on_digits(name):
    """Digits and MNIST-5k share every setting; MNIST-5k changes just the data and its input size."""
    stem = name.format("{}") if "{}" in name else name + "_{}"
    digits = load_yaml(os.path.join(CONFIG_DIR, stem.format("digits") + ".yaml"))
    mnist = load_yaml(os.path.join(CONFIG_DIR, stem.format("mnist5k") + ".yaml"))
    assert set(digits) == set(mnist)
    assert {key for key in digits if digits[key] != mnist[key]} == DATA_KEYS
    assert mnist["dataset"] == "mnist5k" and mnist["img_size"] == 16


def test_mnist5k_grid_keeps_the_digits_grid():
    digits = load_yaml(os.path.join(CONFIG_DIR, "compare_digits.yaml"))
    mnist = load_yaml(os.path.join(CONFIG_DIR, "compare_mnist5k.yaml"))
    assert digits["asd"] == mnist["asd"] and digits["learners"] == mnist["learners"]
    changed = {key for key in digits["base"] if digits["base"][key] != mnist["base"][key]}
    assert changed == {"dataset", "img_size"}
    assert {k for k in digits["grid"] if digits["grid"][k] != mnist["grid"][k]} == {"out"}
