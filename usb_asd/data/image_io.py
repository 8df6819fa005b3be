"""Decoding of image files into ``uint8`` arrays.

Path-based loaders (ImageNet subsets, image folders) return file paths; the
dataset wrapper calls :func:`load_image` when an image is first needed.
"""

from __future__ import annotations

import os

import numpy as np
from PIL import Image

from ..errors import UserError

#: PIL mode for each supported channel count.
_MODES = {1: "L", 3: "RGB"}


class ImageReadError(UserError, OSError):
    """An image file is missing or cannot be decoded; the message names the file."""


def load_image(path: str, channels: int = 3) -> np.ndarray:
    """Decode one image file with PIL.

    EXIF orientation tags are not applied, matching torchvision's default loader
    and the published clustering pipelines.

    Args:
        path: Image file (any format PIL reads: PNG, JPEG, BMP, GIF, WebP, TIFF...).
        channels: 3 for RGB or 1 for greyscale. Other modes are converted
            (alpha is dropped, palettes are expanded, colour is turned to grey).

    Returns:
        ``uint8`` array ``(H, W, channels)``; multi-frame files give their first frame.

    Raises:
        ValueError: ``channels`` is neither 1 nor 3.
        ImageReadError: The file is missing or PIL cannot decode it.
    """
    if channels not in _MODES:
        raise ValueError(f"channels must be 1 or 3, got {channels!r}")
    path = os.fspath(path)
    try:
        with Image.open(path) as image:
            # Palette images with a transparency entry warn when converted straight to
            # RGB/L; going through RGBA is silent and gives the same colours.
            if image.mode == "P" and "transparency" in image.info:
                image = image.convert("RGBA")
            # convert() forces the full decode inside the try, so truncated files fail
            # here with the file's name rather than later in a worker.
            # np.array (not asarray) so the result is writable, as torch.from_numpy wants.
            array = np.array(image.convert(_MODES[channels]), dtype=np.uint8)
    except FileNotFoundError as exc:
        raise ImageReadError(f"image file not found: '{path}'") from exc
    except Exception as exc:  # PIL raises several types (UnidentifiedImageError, OSError, ...)
        raise ImageReadError(
            f"cannot decode image '{path}': {type(exc).__name__}: {exc}"
        ) from exc
    if array.ndim == 2:
        # "L" images come back as (H, W); keep the channel axis the caller asked for.
        array = array[:, :, None]
    return array
