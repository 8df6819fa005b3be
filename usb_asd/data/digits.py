"""scikit-learn's bundled handwritten digits as a real, offline image dataset.

``sklearn.datasets.load_digits``: 1,797 grey 8x8 images of the digits 0-9
(UCI optical recognition of handwritten digits), intensities 0..16.
"""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits as _sklearn_load_digits

from .splits import ImageSplits, stratified_split_indices

#: The train/test split is fixed (not tied to the training seed) so every run,
#: learner and seed is scored on the same test images.
DIGITS_SPLIT_SEED = 0
DIGITS_TEST_FRACTION = 0.2


def load_digits(
    data_dir: str = "", test_fraction: float = DIGITS_TEST_FRACTION, split_seed: int = DIGITS_SPLIT_SEED
) -> ImageSplits:
    """Load the digits as ``uint8`` RGB images with a stratified train/test split.

    Intensities ``v`` in ``0..16`` become ``round(255 v / 16)``, replicated over three
    channels so every USB image backbone (``wrn_28_2``, ``resnet*``) accepts them.

    Args:
        data_dir: Ignored (the data ships inside scikit-learn); accepted so every
            loader has the same signature.
        test_fraction: Fraction of each class held out for the test split.
        split_seed: Seed of the stratified split.

    Returns:
        :class:`ImageSplits` with 1,437 train and 360 test images (at the defaults),
        normalisation statistics measured on the train split.
    """
    bunch = _sklearn_load_digits()
    grey = np.rint(bunch.images * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)
    rgb = np.repeat(grey[..., None], 3, axis=-1)
    targets = bunch.target.astype(np.int64)
    train_idx, test_idx = stratified_split_indices(targets, test_fraction, split_seed)
    scaled = rgb[train_idx].astype(np.float64) / 255.0
    mean = tuple(float(m) for m in scaled.mean(axis=(0, 1, 2)))
    std = tuple(float(s) for s in scaled.std(axis=(0, 1, 2)))
    return ImageSplits(
        name="digits",
        train_images=rgb[train_idx],
        train_targets=targets[train_idx],
        test_images=rgb[test_idx],
        test_targets=targets[test_idx],
        num_classes=10,
        mean=mean,
        std=std,
        class_names=[str(d) for d in range(10)],
    )


def restyle_digit_images(grey16: np.ndarray) -> np.ndarray:
    """Render 0..16 digit images differently: thicker strokes, inverted polarity.

    A constructed domain shift from the same real digits: a 2x2 grey dilation
    (each pixel takes the maximum of itself and its right, lower and
    lower-right neighbours: strokes get one pixel thicker and move half a
    pixel) followed by inversion ``16 - v`` (dark digits on a light ground).

    Args:
        grey16: ``(n, 8, 8)`` intensities in ``0..16``.

    Returns:
        ``(n, 8, 8)`` restyled intensities in ``0..16``.
    """
    padded = np.pad(np.asarray(grey16, dtype=np.float64), ((0, 0), (0, 1), (0, 1)))
    thick = np.maximum.reduce(
        [padded[:, :-1, :-1], padded[:, 1:, :-1], padded[:, :-1, 1:], padded[:, 1:, 1:]]
    )
    return 16.0 - thick


def load_digits_restyled(data_dir: str = "") -> ImageSplits:
    """The digits rendered by :func:`restyle_digit_images` (a domain-adaptation target).

    Same images, same train/test split and same labels as :func:`load_digits`;
    only the rendering differs, so it pairs with ``digits`` as a source in a
    constructed (not naturally occurring) shift.
    """
    plain = load_digits(data_dir)
    bunch = _sklearn_load_digits()
    grey = np.rint(restyle_digit_images(bunch.images) * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)
    rgb = np.repeat(grey[..., None], 3, axis=-1)
    train_idx, test_idx = stratified_split_indices(bunch.target.astype(np.int64), DIGITS_TEST_FRACTION, DIGITS_SPLIT_SEED)
    scaled = rgb[train_idx].astype(np.float64) / 255.0
    return ImageSplits(
        name="digits_restyled",
        train_images=rgb[train_idx],
        train_targets=plain.train_targets,
        test_images=rgb[test_idx],
        test_targets=plain.test_targets,
        num_classes=10,
        mean=tuple(float(m) for m in scaled.mean(axis=(0, 1, 2))),
        std=tuple(float(v) for v in scaled.std(axis=(0, 1, 2))),
        class_names=plain.class_names,
    )
