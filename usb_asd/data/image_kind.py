"""Which augmentation policy a folder of images needs, read from the images themselves.

``image_kind: auto`` (the folder config's default) looks at a sample of the
images and chooses between the two policies of :mod:`.transforms`:

* ``glyph``: characters, digits, symbols, drawings: grey ink on a plain
  ground. A flip or a reflect-padded crop changes what they show.
* ``natural``: photographs: colour or grey tones spread over the whole range.

An image counts as a glyph when it is grey and drawn on a plain ground at one
end of its grey range, a ground that also fills most of its border:

.. math::
    \text{colour} = \frac{1}{3 \cdot 255} \operatorname{mean}_{\text{pixels}}
        (|R - G| + |G - B| + |B - R|) < 0.02, \qquad
    \min(g, 1 - g) \le 0.02, \qquad
    \operatorname{share}_{\text{border}}\{ |v - g| \le 0.1 \} \ge 0.6,

with ``v`` the grey value rescaled to ``[0, 1]`` by the image's own minimum and
maximum (faint scans and white-on-black or black-on-white ink alike) and
``g`` the median of ``v`` over the border pixels (the ground). Photographs,
grey ones included, rarely have a ground at exactly their darkest or
brightest value. A flat image (one grey value) says nothing and is skipped.
The folder is ``glyph`` when most of the sampled images are.
"""

from __future__ import annotations

from typing import Callable, Dict, Sequence

import numpy as np

__all__ = ["detect_image_kind", "glyph_evidence", "AUTO_KIND"]

#: The ``image_kind`` value that asks for detection.
AUTO_KIND = "auto"
#: Largest mean channel spread (fraction of 255) of a grey image.
MAX_GREY_COLOUR = 0.02
#: Largest distance of the ground's grey value from the image's darkest or brightest value.
MAX_GROUND_OFFSET = 0.02
#: Smallest share of border pixels within 0.1 of the ground.
MIN_BORDER_GROUND = 0.6
#: Images read to decide (evenly spaced over the folder).
SAMPLE_SIZE = 200


def glyph_evidence(image: np.ndarray) -> Dict[str, float]:
    """The three quantities of the rule for one ``uint8`` image (``H x W`` or ``H x W x C``).

    Returns:
        ``{"colour", "ground_offset", "border_ground", "flat"}`` (``flat`` 1.0 for a one-value image).
    """
    pixels = np.asarray(image, dtype=np.float64)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    rgb = pixels[..., :3] if pixels.shape[-1] >= 3 else np.repeat(pixels[..., :1], 3, axis=-1)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    colour = float((np.abs(r - g) + np.abs(g - b) + np.abs(b - r)).mean() / (3 * 255.0))
    grey = rgb.mean(axis=-1)
    lo, hi = grey.min(), grey.max()
    if hi - lo < 1.0:
        return {"colour": colour, "ground_offset": 1.0, "border_ground": 0.0, "flat": 1.0}
    v = (grey - lo) / (hi - lo)
    border = np.concatenate([v[0], v[-1], v[1:-1, 0], v[1:-1, -1]])
    ground = float(np.median(border))
    return {"colour": colour, "ground_offset": min(ground, 1.0 - ground),
            "border_ground": float(np.mean(np.abs(border - ground) <= 0.1)), "flat": 0.0}


def is_glyph(evidence: Dict[str, float]) -> bool:
    """The rule of the module docstring on one image's evidence."""
    return (not evidence["flat"] and evidence["colour"] < MAX_GREY_COLOUR
            and evidence["ground_offset"] <= MAX_GROUND_OFFSET and evidence["border_ground"] >= MIN_BORDER_GROUND)


def detect_image_kind(count: int, read: Callable[[int], np.ndarray], sample_size: int = SAMPLE_SIZE) -> str:
    """``"glyph"`` when most of a sample of the images are glyphs, else ``"natural"``.

    Args:
        count: Number of images.
        read: ``read(i)`` returns image ``i`` as a ``uint8`` array.
        sample_size: Images read at most (evenly spaced, deterministic).

    Returns:
        ``"glyph"`` or ``"natural"`` (``"natural"`` when every sampled image is flat).
    """
    if count < 1:
        raise ValueError("there are no images to detect the kind of")
    picks: Sequence[int] = np.unique(np.linspace(0, count - 1, min(count, sample_size)).round().astype(int))
    votes = [glyph_evidence(read(int(i))) for i in picks]
    informative = [e for e in votes if not e["flat"]]
    if not informative:
        return "natural"
    glyphs = sum(is_glyph(e) for e in informative)
    return "glyph" if glyphs * 2 > len(informative) else "natural"
