"""Decoding of image files into ``uint8`` arrays: one function for training, evaluation and predict.

Path-based loaders (ImageNet subsets, image folders) return file paths; the
dataset wrapper calls :func:`load_image` when an image is first needed, and so
do ``usb_asd.predict``, the cluster figure and the classical baselines. Every
image decodes to what an image viewer shows (docs/RELIABILITY.md, "What
happens when ..."):

* **EXIF orientation** is applied (a photo taken upright but stored sideways
  comes out upright);
* **transparency** (RGBA, grey + alpha, palettes with a transparent entry) is
  composited over white, the background a browser or viewer shows;
* **CMYK** is converted to RGB by PIL's formula (embedded ICC profiles are not applied);
* **16-bit greyscale** (PNG, TIFF, PGM) is scaled by the file's bit depth,
  ``v * 255 / (2**bits - 1)``, so a full-range ramp keeps its mid-grey; a TIFF
  declaring fewer bits (12) is scaled by those;
* **32-bit integer greyscale** has no display range of its own: it is scaled
  by the image's own range (minimum -> 0, maximum -> 255), as ImageJ and napari show it;
* **floating-point** (float TIFF) values in ``[0, 1]`` are intensities
  (``v * 255``); other ranges are scaled by the image's own range; NaN or
  infinite values are an error naming the file.

:func:`check_images` decodes every file of a pool with the same function
before training, in parallel when the pool is large, so a truncated file is
named before the training time is spent.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from typing import List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image, ImageOps

from ..errors import UserError

#: PIL mode for each supported channel count.
_MODES = {1: "L", 3: "RGB"}

#: What transparent pixels are composited over (what a browser shows).
BACKGROUND = (255, 255, 255)

#: Integer greyscale modes PIL decodes 16-bit (and wider) samples into.
_WIDE_INTEGER_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I;16S", "I")

#: Modes that carry transparency.
_ALPHA_MODES = ("RGBA", "RGBa", "LA", "La", "PA")

#: A float image may leave ``[0, 1]`` by this much (rounding in the tool that wrote it) and still count as intensities.
_FLOAT_TOLERANCE = 1.0 / 512

#: Pools smaller than this are checked in this process: a worker pool costs more to start than it saves.
PARALLEL_CHECK_MIN = 2000

#: Files per task sent to a checking worker.
_CHUNK = 500


class ImageReadError(UserError, OSError):
    """An image file is missing or cannot be decoded; the message names the file."""


def _bit_depth(image: Image.Image) -> int:
    """Bits per sample an integer greyscale image declares (TIFF's BitsPerSample), else its container's."""
    declared = None
    if image.format == "TIFF":
        declared = getattr(image, "tag_v2", {}).get(258)  # BitsPerSample
        if isinstance(declared, tuple):
            declared = declared[0] if declared else None
    if isinstance(declared, int) and 1 <= declared <= 32:
        return declared
    # PIL reads PNG and PGM samples wider than 8 bits only as 16-bit (PGM rescaled from its maxval).
    return 16 if image.mode.startswith("I;16") or image.format in ("PNG", "PPM") else 32


def _own_range(values: np.ndarray) -> np.ndarray:
    """``uint8`` levels of ``values`` scaled from their minimum (0) to their maximum (255); a flat image is 0."""
    values = values.astype(np.float64)
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return np.zeros(values.shape, dtype=np.uint8)
    return np.rint((values - low) * (255.0 / (high - low))).astype(np.uint8)


def _wide_greyscale_levels(image: Image.Image, path: str) -> np.ndarray:
    """``uint8`` levels of a 16-bit, 32-bit integer or floating-point greyscale image (module docstring).

    Raises:
        ImageReadError: a floating-point image holding NaN or infinite values.
    """
    values = np.asarray(image)
    if values.size == 0:
        return values.astype(np.uint8)
    if image.mode == "F":
        if not np.all(np.isfinite(values)):
            raise ImageReadError(f"cannot decode image '{path}': its floating-point pixels include NaN or "
                                 "infinite values; expected finite intensities")
        low, high = float(values.min()), float(values.max())
        if low >= -_FLOAT_TOLERANCE and high <= 1 + _FLOAT_TOLERANCE:
            return np.rint(np.clip(values, 0.0, 1.0) * 255.0).astype(np.uint8)
        return _own_range(values)
    bits = _bit_depth(image)
    if bits <= 16 and int(values.min()) >= 0:
        # Samples above the declared depth (a mislabelled file) saturate rather than wrap.
        scaled = values.astype(np.float64) * (255.0 / float(2 ** bits - 1))
        return np.rint(np.clip(scaled, 0, 255)).astype(np.uint8)
    return _own_range(values)


def _displayed(image: Image.Image, path: str) -> Image.Image:
    """The image as a viewer shows it, in mode ``L`` or ``RGB`` (module docstring)."""
    image = ImageOps.exif_transpose(image) or image
    mode = image.mode
    if mode in _WIDE_INTEGER_MODES or mode == "F":
        return Image.fromarray(_wide_greyscale_levels(image, path), mode="L")
    if mode == "P":
        # Palette images with a transparency entry warn when converted straight to RGB/L.
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif mode in ("L", "1") and "transparency" in image.info:
        image = image.convert("LA")
    elif mode == "RGB" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in _ALPHA_MODES:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, BACKGROUND + (255,))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode in ("L", "RGB"):
        return image
    # CMYK, YCbCr, LAB, HSV, bilevel: PIL's own conversions.
    return image.convert("L" if image.mode == "1" else "RGB")


def load_image(path: str, channels: int = 3) -> np.ndarray:
    """Decode one image file as a viewer shows it (module docstring).

    Args:
        path: Image file (any format PIL reads: PNG, JPEG, BMP, GIF, WebP, TIFF...).
        channels: 3 for RGB or 1 for greyscale (ITU-R 601-2 luma of colour images).

    Returns:
        ``uint8`` array ``(H, W, channels)``, writable; multi-frame files give their first frame.

    Raises:
        ValueError: ``channels`` is neither 1 nor 3.
        ImageReadError: The file is missing or cannot be decoded to what it shows.
    """
    if channels not in _MODES:
        raise ValueError(f"channels must be 1 or 3, got {channels!r}")
    path = os.fspath(path)
    try:
        with Image.open(path) as image:
            # convert() forces the full decode inside the try, so truncated files fail
            # here with the file's name rather than later in a worker.
            # np.array (not asarray) so the result is writable, as torch.from_numpy wants.
            array = np.array(_displayed(image, path).convert(_MODES[channels]), dtype=np.uint8)
    except ImageReadError:
        raise
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


def _check_chunk(paths: Sequence[str]) -> List[Tuple[str, str]]:
    """``(path, reason)`` for each of ``paths`` that :func:`load_image` cannot decode."""
    bad = []
    for path in paths:
        try:
            load_image(path)
        except ImageReadError as error:
            bad.append((path, str(error)))
    return bad


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity where the OS tells it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def check_images(paths: Sequence[str], workers: Optional[int] = None) -> List[Tuple[str, str]]:
    """Decode every image as training will, and list those that fail.

    Args:
        paths: Image files.
        workers: Processes to decode with; default: the usable cores, and this process
            alone below :data:`PARALLEL_CHECK_MIN` files.

    Returns:
        ``[(path, reason)]`` of the files that cannot be decoded, in the order of ``paths``.
    """
    paths = [os.fspath(p) for p in paths]
    if workers is None:
        workers = usable_cores() if len(paths) >= PARALLEL_CHECK_MIN else 1
    workers = max(1, min(int(workers), len(paths)))
    if workers == 1:
        return _check_chunk(paths)
    size = min(_CHUNK, -(-len(paths) // workers))  # every worker gets work, in chunks of at most _CHUNK
    import multiprocessing

    # fork starts a worker in milliseconds; the workers only run PIL and numpy, never torch.
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    chunks = [paths[i:i + size] for i in range(0, len(paths), size)]
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        return [item for found in pool.map(_check_chunk, chunks) for item in found]
