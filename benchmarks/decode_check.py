"""Cost of the full decode check a run makes before training, on a folder of small PNGs.

    flock /tmp/usb_asd_bench.lock python benchmarks/decode_check.py \
        --images 50000 --size 32 --out benchmarks/results/decode_check_50k.json

Writes ``--images`` random-noise ``--size`` x ``--size`` RGB PNGs (incompressible, so
each file is as large as such a PNG gets) into a temporary folder in 100 class
folders, then times, after a warm-up read of every file (the page cache holds the
folder, as on a rerun):

* listing the folder (``load_image_folder``: every path ``stat``'ed once);
* the decode check (``usb_asd.data.image_io.check_images``) in this process alone
  (1 worker) and with the default number of workers (the usable cores);
* the pool fingerprint (``pool_fingerprint``).

The record holds the command, the commit, the machine and every timing; the
folder is removed afterwards (``--keep DIR`` writes it there and keeps it).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
import tempfile
import time

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import usb_asd  # noqa: E402,F401
from usb_asd.data.folder import load_image_folder  # noqa: E402
from usb_asd.data.image_io import check_images, usable_cores  # noqa: E402
from usb_asd.data.pool_check import pool_fingerprint  # noqa: E402
from usb_asd.results import git_commit, machine_info, write_json_atomic  # noqa: E402


def write_folder(root: str, images: int, size: int, classes: int = 100) -> None:
    """``images`` noise PNGs of ``size`` x ``size`` in ``classes`` class folders."""
    rng = np.random.default_rng(0)
    for i in range(images):
        folder = os.path.join(root, f"class_{i % classes:03d}")
        os.makedirs(folder, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(
            os.path.join(folder, f"{i:06d}.png"))


def timed(function):
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=50000)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--out", required=True, help="JSON record to write")
    parser.add_argument("--keep", default=None, help="write the folder here and keep it")
    opts = parser.parse_args()

    load_before = os.getloadavg()[0]  # the machine may be shared: say how busy it was
    root = opts.keep or tempfile.mkdtemp(prefix="decode_check_")
    try:
        _, write_s = timed(lambda: write_folder(root, opts.images, opts.size))
        splits, list_s = timed(lambda: load_image_folder(root))
        paths = splits.train_images
        for path in paths:  # warm the page cache: the check then measures decoding, not the disk
            with open(path, "rb") as handle:
                handle.read()
        bad_one, one_s = timed(lambda: check_images(paths, workers=1))
        bad_all, all_s = timed(lambda: check_images(paths))
        _, fingerprint_s = timed(lambda: pool_fingerprint(splits, root))
        record = {
            "command": "python benchmarks/decode_check.py " + shlex.join(sys.argv[1:]),
            "commit": git_commit(),
            "machine": machine_info(),
            "images": len(paths),
            "image_size": opts.size,
            "mean_file_bytes": float(np.mean([os.path.getsize(p) for p in paths])),
            "write_s": write_s,
            "list_s": list_s,
            "decode_check_1_worker_s": one_s,
            "decode_check_workers": usable_cores(),
            "decode_check_s": all_s,
            "decode_check_us_per_image": 1e6 * all_s / len(paths),
            "fingerprint_s": fingerprint_s,
            "before_training_s": list_s + all_s + fingerprint_s,
            "bad_files_found": len(bad_one) + len(bad_all),
            "load_average_1min_before": load_before,
            "load_average_1min_after": os.getloadavg()[0],
        }
    finally:
        if not opts.keep:
            shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(record, indent=1))
    write_json_atomic(opts.out, record)


if __name__ == "__main__":
    main()
