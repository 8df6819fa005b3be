"""benchmarks/investigations/da_checkpoint_diagnosis.py: the label-free collapse measure."""

import importlib.util
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _module():
    spec = importlib.util.spec_from_file_location(
        "da_checkpoint_diagnosis", os.path.join(ROOT, "benchmarks", "investigations", "da_checkpoint_diagnosis.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_top_share_is_one_for_a_collapsed_prediction_and_one_over_k_for_a_balanced_one():
    top_share = _module().top_share
    assert top_share([3, 3, 3, 3], 10) == 1.0
    assert top_share(list(range(10)) * 3, 10) == 0.1
    assert top_share([0, 0, 1, 2], 3) == 0.5


def test_images_are_prepared_as_the_run_s_config_and_overrides_say(tmp_path):
    config = tmp_path / "da.yaml"
    config.write_text("dataset: digits\nnum_classes: 10\nnet: cnn_small\nimg_size: 12\ncrop_ratio: 0.5\n"
                      f"data_dir: {tmp_path / 'data'}\n")
    record = {"config": str(config), "overrides": {"img_size": 20}}
    assert _module().run_settings(record) == (str(tmp_path / "data"), 20, 0.5)
