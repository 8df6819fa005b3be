"""benchmarks/investigations/da_source_budget.py: the DA budget is chosen on held-out SOURCE images only."""

import importlib.util
import os

import numpy as np

from usb_asd.data.labelled_split import select_labelled_indices

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _module():
    spec = importlib.util.spec_from_file_location("da_source_budget",
                                                  os.path.join(ROOT, "benchmarks", "investigations",
                                                               "da_source_budget.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_held_out_part_is_what_the_run_does_not_label():
    targets = np.repeat(np.arange(3), [10, 12, 11])
    num_labels, labelled, held = _module().holdout_split(targets, 3, 0.2, seed=4)
    assert num_labels == 3 * 8  # 80 % of the smallest class, per class
    # the run draws its labelled part with the same function, count and seed
    assert np.array_equal(labelled, select_labelled_indices(targets, num_labels, 3, 4))
    assert not set(labelled) & set(held) and len(labelled) + len(held) == len(targets)
    assert np.bincount(targets[held]).tolist() == [2, 4, 3]


def test_the_run_labels_exactly_the_labelled_part_and_never_a_held_out_image(tmp_path):
    # Through the DA run's own dataset builder (not the helper's draw again): with the helper's
    # num_labels and seed, the run's labelled source images are the labelled part, image for image.
    from usb_asd.data.registry import load_splits
    from usb_asd.data.usb_datasets import build_domain_adaptation_datasets

    source = load_splits("digits", str(tmp_path), 10)
    num_labels, labelled, held = _module().holdout_split(source.train_targets, 10, 0.2, seed=3)
    built = build_domain_adaptation_datasets(source, source, "fixmatch", "glyph", 16, 0.875, num_labels, seed=3)
    run_images = np.asarray(built["train_lb"].data)
    assert len(run_images) == num_labels == len(labelled)

    def rows(images):  # the images as a multiset of their bytes (the run may order them otherwise)
        return sorted(image.tobytes() for image in np.asarray(images))

    assert rows(run_images) == rows(source.train_images[labelled])
    assert np.array_equal(np.sort(built["train_lb"].targets), np.sort(source.train_targets[labelled]))
    held_rows = set(rows(source.train_images[held])) - set(rows(source.train_images[labelled]))
    assert held_rows and not held_rows & set(rows(run_images))


def test_target_scores_are_never_written():
    keys = set(_module().TARGET_KEYS)
    assert {"top1", "acc", "nmi", "ari", "best_top1"} <= keys
