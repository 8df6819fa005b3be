"""scikit-learn's bundled handwritten digits as a real, offline image dataset.

``sklearn.datasets.load_digits``: 1,797 grey 8x8 images of the digits 0-9
(UCI optical recognition of handwritten digits), intensities 0..16.
"""

from __future__ import annotations

import dataclasses
from typing import Tuple

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


#: Seed of the stratified halving of digits' training split for the restyled
#: negative control (fixed, like the train/test split).
DIGITS_HALVES_SEED = 0


def digits_training_halves(train_targets: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Two disjoint, stratified halves ``(a, b)`` of digits' training split (indices into it).

    The restyled negative control draws its source from half ``a``
    (``digits_half_a``) and its target from half ``b`` (``digits_restyled``),
    so no source image reappears, restyled, in the target.
    """
    return stratified_split_indices(np.asarray(train_targets), 0.5, DIGITS_HALVES_SEED)


def _with_train_subset(splits: ImageSplits, name: str, keep: np.ndarray, images: np.ndarray) -> ImageSplits:
    """``splits`` with training images ``images[keep]`` and statistics measured on them."""
    scaled = images[keep].astype(np.float64) / 255.0
    return dataclasses.replace(
        splits,
        name=name,
        train_images=images[keep],
        train_targets=splits.train_targets[keep],
        mean=tuple(float(m) for m in scaled.mean(axis=(0, 1, 2))),
        std=tuple(float(v) for v in scaled.std(axis=(0, 1, 2))),
    )


def load_digits_half_a(data_dir: str = "") -> ImageSplits:
    """The digits with training half ``a`` only: the source of the restyled negative control.

    Test split unchanged (360 images); 718 training images.
    """
    plain = load_digits(data_dir)
    half_a, _ = digits_training_halves(plain.train_targets)
    return _with_train_subset(plain, "digits_half_a", half_a, plain.train_images)


def load_digits_restyled(data_dir: str = "") -> ImageSplits:
    """The digits rendered by :func:`restyle_digit_images`: a constructed negative-control target.

    Training split: the restyled images of training half ``b`` only
    (:func:`digits_training_halves`, 719 images), so that with ``digits_half_a``
    as the source the two domains share no image (unpaired). Test split: all
    360 test images of :func:`load_digits`, restyled, with their labels.
    The shift is constructed, not naturally occurring: the real pair is
    ``mnist5k`` <-> ``digits``.
    """
    plain = load_digits(data_dir)
    bunch = _sklearn_load_digits()
    grey = np.rint(restyle_digit_images(bunch.images) * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)
    rgb = np.repeat(grey[..., None], 3, axis=-1)
    train_idx, test_idx = stratified_split_indices(bunch.target.astype(np.int64), DIGITS_TEST_FRACTION, DIGITS_SPLIT_SEED)
    restyled = dataclasses.replace(plain, test_images=rgb[test_idx])
    _, half_b = digits_training_halves(plain.train_targets)
    return _with_train_subset(restyled, "digits_restyled", half_b, rgb[train_idx])
