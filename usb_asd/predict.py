"""``python -m usb_asd.predict`` / ``usb-asd-predict``: apply a trained clustering model to a folder of images.

    python -m usb_asd.predict --load_path saved_models/photos/run/latest_model.pth \\
        --data_dir new_photos/ --out new_photos.csv [--figure new_photos.png] [--gpu 0]

Writes the columns of a run's ``assignments.csv`` (split, image, cluster,
confidence, true_class) for every image of the folder (any layout
:mod:`usb_asd.data.folder` reads; true_class only where there are class
folders). Everything else is read from the checkpoint: the learner and its
adaptor (to rebuild the network), ``net``, ``num_classes``, ``img_size`` and the
normalisation. The weights are the EMA weights the run evaluated, so on the
run's own images the clusters are the run's. CPU or CUDA through
:mod:`usb_asd.device` (``--gpu``: a CUDA index; default: CUDA when present).
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch

from .errors import UserError
from .outputs.assignments import SplitAssignments, dataset_logits, write_assignments_csv
from .outputs.clustering_run import SETTINGS_KEY


class PredictError(UserError):
    """A checkpoint predict cannot use; the message names the file and what was expected."""


class _FolderImages:
    """Image files with their targets, in the ``__sample__`` form of USB's datasets."""

    def __init__(self, paths: Sequence[str], targets: np.ndarray) -> None:
        self.paths, self.targets = list(paths), np.asarray(targets)

    def __len__(self) -> int:
        return len(self.paths)

    def __sample__(self, i: int) -> Tuple[np.ndarray, int]:
        from .data.image_io import load_image

        return load_image(self.paths[i]), int(self.targets[i])


def read_checkpoint(load_path: str) -> dict:
    """The checkpoint of a clustering run, with the settings it carries.

    Raises:
        PredictError: the file is missing, is not a torch checkpoint, or carries no
            usb_asd settings (not saved by a clustering run of this version).
    """
    if not os.path.isfile(load_path):
        raise PredictError(f"load_path {load_path!r} does not exist (expected <run>/latest_model.pth of a clustering run)")
    try:
        checkpoint = torch.load(load_path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises pickle, zip and runtime errors
        raise PredictError(f"load_path {load_path!r} is not a readable checkpoint ({type(error).__name__})") from error
    if not isinstance(checkpoint, dict) or SETTINGS_KEY not in checkpoint or "ema_model" not in checkpoint:
        raise PredictError(
            f"load_path {load_path!r} carries no usb_asd run settings: expected the latest_model.pth of a "
            "clustering run (adaptor: asd or num_labels: 0) trained with this version"
        )
    return checkpoint


def build_model(settings: dict, num_instances: Optional[int] = None) -> torch.nn.Module:
    """The run's network, rebuilt as its learner built it (learner, adaptor and regulariser wrappers).

    Args:
        settings: The checkpoint's ``usb_asd_run`` entry.
        num_instances: ASD's ``n_l`` as the run resolved it (its default follows the pool's size),
            read from the checkpoint's weights; None rebuilds it from the settings alone.
    """
    from semilearn.core.utils import get_net_builder

    from . import plugin
    from .core.learner import compose_learner
    from .runner import learner_mixins

    plugin.register()
    args = argparse.Namespace(**settings["args"])
    args.use_pretrain = False  # the checkpoint holds every weight; fetch nothing
    cls = compose_learner(args.algorithm, learner_mixins(args))
    # set_model() reads only settings; a learner object without its data, loaders or optimiser suffices.
    shell = cls.__new__(cls)
    shell.__dict__.update(vars(args))
    shell.args, shell.num_classes = args, args.num_classes
    shell.net_builder = get_net_builder(args.net, args.net_from_name)
    if getattr(args, "adaptor", None) == "asd":
        from .asd.adaptor import asd_settings_from_args

        shell.asd_settings = asd_settings_from_args(args)
        if num_instances is not None:
            shell.asd_settings = replace(shell.asd_settings, num_instances=int(num_instances))
    return shell.set_model()


def load_model(load_path: str, device: torch.device) -> Tuple[torch.nn.Module, dict]:
    """The run's final (EMA) model in eval mode on ``device``, and its settings."""
    checkpoint = read_checkpoint(load_path)
    settings = checkpoint[SETTINGS_KEY]
    state = {k[len("module."):] if k.startswith("module.") else k: v for k, v in checkpoint["ema_model"].items()}
    prototypes = state.get("instance_head.prototypes")
    model = build_model(settings, None if prototypes is None else prototypes.shape[0])
    model.load_state_dict(state)
    return model.to(device).eval(), settings


def eval_transform(settings: dict):
    """The run's evaluation transform: resize to ``img_size``, then its normalisation."""
    from .data.transforms import build_augmentations

    args = settings["args"]
    norm = settings.get("normalisation") or {"mean": [0.5] * 3, "std": [0.5] * 3}
    return build_augmentations("glyph", int(args["img_size"]), float(args.get("crop_ratio", 0.875)),
                               norm["mean"], norm["std"]).eval


def folder_splits(data_dir: str, num_classes: int) -> List[Tuple[str, _FolderImages]]:
    """``[(split, images)]`` of a folder: ``train`` and, when it is a separate folder, ``test``."""
    from .config import ConfigError
    from .data.folder import load_image_folder

    try:
        splits = load_image_folder(data_dir, None)  # class folders, if any, give true classes
    except ConfigError:
        splits = load_image_folder(data_dir, num_classes)  # no class folders: only the count was missing
    parts = [("train", _FolderImages(splits.train_images, splits.train_targets))]
    if list(splits.test_images) != list(splits.train_images):
        parts.append(("test", _FolderImages(splits.test_images, splits.test_targets)))
    return parts


def predict_folder(load_path: str, data_dir: str, out: str, gpu: Optional[int] = None,
                   batch_size: Optional[int] = None, figure: Optional[str] = None) -> List[SplitAssignments]:
    """Assign every image of ``data_dir`` to a cluster with a trained run; write ``out`` (CSV).

    Args:
        load_path: ``<run>/latest_model.pth`` of a clustering run.
        data_dir: Folder of images (layouts of :mod:`usb_asd.data.folder`).
        out: CSV to write (columns of ``assignments.csv``).
        gpu: CUDA index, or ``None`` for CUDA when present, else CPU (USB's ``gpu``).
        batch_size: Images per forward pass (default: the run's ``eval_batch_size``).
        figure: Also draw the clusters of the first split to this PNG.

    Returns:
        The assignments written, one entry per split.
    """
    from .device import resolve_device

    device = resolve_device(gpu)
    model, settings = load_model(load_path, device)
    args = settings["args"]
    transform = eval_transform(settings)
    parts = []
    with torch.no_grad():
        for split, images in folder_splits(data_dir, int(args["num_classes"])):
            logits = dataset_logits(model, images, transform, device, batch_size or int(args["eval_batch_size"]))
            parts.append(SplitAssignments.from_logits(split, images.paths, logits, images.targets))
    write_assignments_csv(out, parts)
    if figure:
        from .outputs.cluster_figure import draw_clusters

        first, images = parts[0], folder_splits(data_dir, int(args["num_classes"]))[0][1]
        draw_clusters(figure, first.clusters, first.confidence, lambda i: images.__sample__(int(i))[0],
                      int(args["num_classes"]), y_true=first.true_class, y_pred=first.clusters,
                      title=f"{os.path.basename(os.path.abspath(data_dir))} with {load_path}")
    return parts


def build_parser() -> argparse.ArgumentParser:
    """The command's flags."""
    p = argparse.ArgumentParser(prog="usb-asd-predict",
                                description="Assign the images of a folder to the clusters of a trained run.")
    p.add_argument("--load_path", required=True, help="<save_dir>/<save_name>/latest_model.pth of a clustering run")
    p.add_argument("--data_dir", required=True, help="folder of images (with or without class folders)")
    p.add_argument("--out", required=True, help="CSV to write: split,image,cluster,confidence,true_class")
    p.add_argument("--figure", default=None, help="also write a PNG of the clusters")
    p.add_argument("--gpu", type=int, default=None, help="CUDA index (default: CUDA when present, else CPU)")
    p.add_argument("--batch_size", type=int, default=None, help="images per forward pass (default: the run's)")
    return p


def run_from_command_line(argv: Optional[List[str]] = None) -> int:
    """Parse flags and predict; returns a process exit code (2 on a user error)."""
    from .command_errors import report, split_debug_flag

    argv, debug = split_debug_flag(list(sys.argv[1:] if argv is None else argv))
    opts = build_parser().parse_args(argv)
    try:
        parts = predict_folder(opts.load_path, opts.data_dir, opts.out, opts.gpu, opts.batch_size, opts.figure)
    except (UserError, ValueError) as error:
        if not isinstance(error, UserError) and "gpu" not in str(error):
            raise  # a programming error, not the user's
        return report(error if isinstance(error, UserError) else PredictError(str(error)), debug)
    counts = ", ".join(f"{len(p.images)} {p.split}" for p in parts)
    used = len(np.unique(parts[0].clusters))
    print(f"{counts} images -> {opts.out} ({used} clusters used)")
    return 0


def main() -> None:
    """Console-script entry point (``usb-asd-predict``)."""
    import usb_asd  # noqa: F401  (import-time fixes before semilearn loads)

    sys.exit(run_from_command_line())


if __name__ == "__main__":
    main()
