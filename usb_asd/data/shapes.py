"""A planted toy folder: coloured shapes, one shape per group, for demos and tests.

    python -m usb_asd.data.shapes data/shapes --per_group 20 [--groups 3] [--labelled]

writes ``groups x per_group`` 32x32 PNGs (circles, squares, triangles, crosses,
diamonds, in that order). Each group has its own hue (red, green, blue, yellow,
magenta, jittered) as well as its own shape, on the same dark-grey background
in every image; only size, position and brightness vary within a group, so the
planted groups are the one strong structure: a clustering groups by whatever
varies most, so any colour or background that varied independently of the
shape would be what it finds (docs/BENCHMARKS.md, the shapes toy). Without ``--labelled`` the images lie directly in the folder
(what a user's photos look like: nothing to score); with it they sit in one
class folder per shape, used only to score.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import List, Optional

import numpy as np
from PIL import Image, ImageDraw

#: Shapes in the order groups take them.
SHAPES = ("circle", "square", "triangle", "cross", "diamond")
#: Background of every image: one colour for all, so it carries nothing a clustering could group by.
BACKGROUND = (40, 40, 40)
#: Base colour of each group (jittered per image).
HUES = ((230, 60, 60), (60, 200, 70), (70, 110, 240), (230, 210, 50), (210, 70, 210))


def draw_shape(shape: str, rng: np.random.Generator, side: int = 32, hue=None) -> np.ndarray:
    """One ``(side, side, 3)`` uint8 image of ``shape`` on :data:`BACKGROUND`: random size, centre and brightness.

    Args:
        shape: One of :data:`SHAPES`.
        rng: Random generator.
        side: Image side in pixels.
        hue: Base RGB colour (jittered by +-25 and scaled by 0.75-1.0); ``None``: any bright colour.
    """
    if hue is None:
        colour = tuple(int(v) for v in rng.integers(130, 256, 3))
    else:
        jittered = (np.asarray(hue) + rng.integers(-25, 26, 3)) * rng.uniform(0.75, 1.0)
        colour = tuple(int(v) for v in np.clip(jittered, 0, 255))
    img = Image.new("RGB", (side, side), BACKGROUND)
    draw = ImageDraw.Draw(img)
    r = float(rng.uniform(0.28, 0.36) * side)  # a narrow size range: size is no rival to the groups
    cx, cy = (float(v) for v in rng.uniform(r + 1, side - r - 1, 2))
    if shape == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour)
    elif shape == "square":
        draw.rectangle([cx - r, cy - r, cx + r, cy + r], fill=colour)
    elif shape == "triangle":
        draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=colour)
    elif shape == "cross":
        w = r / 3
        draw.rectangle([cx - r, cy - w, cx + r, cy + w], fill=colour)
        draw.rectangle([cx - w, cy - r, cx + w, cy + r], fill=colour)
    elif shape == "diamond":
        draw.polygon([(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)], fill=colour)
    else:
        raise ValueError(f"shape must be one of {SHAPES}, got {shape!r}")
    return np.asarray(img)


def write_shapes_folder(out: str, per_group: int = 20, groups: int = 3, labelled: bool = False,
                        seed: int = 0) -> List[str]:
    """Write the toy folder; returns the file paths (sorted).

    Args:
        out: Folder to create (may exist).
        per_group: Images per shape.
        groups: Number of shapes (the planted k), at most ``len(SHAPES)``.
        labelled: One class folder per shape instead of a flat folder.
        seed: Seed of the colours, sizes and positions.
    """
    if not 1 <= groups <= len(SHAPES):
        raise ValueError(f"groups must be between 1 and {len(SHAPES)}, got {groups}")
    rng = np.random.default_rng(seed)
    paths = []
    for g, shape in enumerate(SHAPES[:groups]):
        folder = os.path.join(out, shape) if labelled else out
        os.makedirs(folder, exist_ok=True)
        for i in range(per_group):
            # Flat names interleave the groups, so file order says nothing of the group.
            name = f"{shape}_{i:03d}.png" if labelled else f"img_{i * groups + g:04d}.png"
            path = os.path.join(folder, name)
            Image.fromarray(draw_shape(shape, rng, hue=HUES[g])).save(path)
            paths.append(path)
    return sorted(paths)


def main(argv: Optional[List[str]] = None) -> int:
    """Command-line entry point."""
    p = argparse.ArgumentParser(description="Write a folder of coloured shapes (a planted clustering toy).")
    p.add_argument("out")
    p.add_argument("--per_group", type=int, default=20)
    p.add_argument("--groups", type=int, default=3, help=f"number of shapes, 1-{len(SHAPES)}")
    p.add_argument("--labelled", action="store_true", help="one class folder per shape (to score)")
    p.add_argument("--seed", type=int, default=0)
    opts = p.parse_args(argv)
    paths = write_shapes_folder(opts.out, opts.per_group, opts.groups, opts.labelled, opts.seed)
    print(f"{len(paths)} images of {opts.groups} shapes in {opts.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
