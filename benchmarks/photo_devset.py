"""Build the photo development set: patches of eight bundled scikit-image photographs, one class each.

    python benchmarks/photo_devset.py data/photo_dev [--train_per_class 60 --test_per_class 40]

Writes ``DIR/train/<photo>/*.png`` and ``DIR/test/<photo>/*.png`` (the folder
layout ``dataset: folder`` reads; class folders are read only to score). The
photographs are ``astronaut``, ``camera``, ``chelsea``, ``coffee``, ``rocket``,
``coins``, ``cell`` and ``retina`` and no other. Train patches come from the left
half of each photograph, test patches from the right half, so no test pixel is
ever seen in training. A patch is a square of a fifth of the photograph's
shorter side at a random place (seed 0), kept only if it is not flat (pixel
standard deviation >= 4 of 255: the retina's black surround and the sky of
some photographs would give patches no one could assign); grey photographs are
written as RGB with three equal channels.

This set is where the folder config's defaults may be chosen (its training
split's validation part, ``usb_asd.validation``); its test split is only reported.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
from PIL import Image

PHOTOS = ("astronaut", "camera", "chelsea", "coffee", "rocket", "coins", "cell", "retina")
PATCH_FRACTION = 0.2
MIN_PATCH_STD = 4.0


def _rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    return image[..., :3].astype(np.uint8)


def half_patches(image: np.ndarray, side: str, count: int, rng: np.random.Generator) -> list:
    """``count`` non-flat square patches from the left or right half of ``image``."""
    height, width = image.shape[:2]
    size = max(8, int(round(PATCH_FRACTION * min(height, width))))
    lo, hi = (0, width // 2 - size) if side == "left" else (width // 2, width - size)
    patches, tries = [], 0
    while len(patches) < count:
        tries += 1
        if tries > 100 * count:
            raise RuntimeError(f"could not find {count} non-flat patches in the {side} half")
        y = int(rng.integers(0, height - size + 1))
        x = int(rng.integers(lo, hi + 1))
        patch = image[y:y + size, x:x + size]
        if patch.std() >= MIN_PATCH_STD:
            patches.append(patch)
    return patches


def build(out_dir: str, train_per_class: int, test_per_class: int, seed: int = 0) -> dict:
    """Write the set; returns a summary (counts and patch sizes per photograph)."""
    import skimage.data

    summary = {}
    for i, name in enumerate(PHOTOS):
        image = _rgb(getattr(skimage.data, name)())
        rng = np.random.default_rng(seed * 1000 + i)
        for split, side, count in (("train", "left", train_per_class), ("test", "right", test_per_class)):
            folder = os.path.join(out_dir, split, name)
            os.makedirs(folder, exist_ok=True)
            for j, patch in enumerate(half_patches(image, side, count, rng)):
                Image.fromarray(patch).save(os.path.join(folder, f"{name}_{j:03d}.png"))
        summary[name] = {"photo_shape": list(image.shape), "patch_side": int(round(PATCH_FRACTION * min(image.shape[:2])))}
    return summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--train_per_class", type=int, default=60)
    parser.add_argument("--test_per_class", type=int, default=40)
    args = parser.parse_args(argv)
    if os.path.exists(args.out_dir) and os.listdir(args.out_dir):
        print(f"out_dir {args.out_dir!r} exists and is not empty; choose a new folder", file=sys.stderr)
        return 2
    summary = build(args.out_dir, args.train_per_class, args.test_per_class)
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
