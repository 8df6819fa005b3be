"""Checkpoints written whole, read with clear errors, and matched to the run resuming them.

Writing: :func:`save_checkpoint` serialises once and writes each file with
:mod:`usb_asd.core.atomic_io`, so a kill or a full disk leaves the previous
checkpoint as it was. Resuming: :func:`resume_checkpoint` checks the file is
whole (a PyTorch checkpoint is a zip archive whose members carry CRCs),
points to the newest intact ``model_it<N>.pth`` next to it when it is not (or
takes it with ``resume_fallback: True``), and compares the settings recorded
in the checkpoint (:func:`run_settings`) with the run's.
"""

from __future__ import annotations

import io
import logging
import os
import re
import zipfile
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch

from ..errors import UserError
from . import atomic_io

log = logging.getLogger("usb_asd")

#: The key of the recorded settings in a checkpoint.
SETTINGS_KEY = "run_settings"

#: ``model_it<N>.pth``, kept at every checkpoint with ``keep_checkpoints: True``.
_NUMBERED = re.compile(r"^model_it(\d+)\.pth$")


class CheckpointError(UserError):
    """A checkpoint cannot be resumed from: unreadable, or saved by a run with other settings."""


def save_checkpoint(save_dict: Dict[str, Any], paths: Sequence[str], setting: str = "save_dir") -> None:
    """Serialise ``save_dict`` once and write it to each path atomically.

    Args:
        save_dict: What USB's ``get_save_dict`` returned (plus the plugin's state).
        paths: Destination files (``latest_model.pth`` and perhaps ``model_it<N>.pth``).
        setting: The setting that chose their folder, named if a write fails.

    Raises:
        atomic_io.WriteError: The disk refused; each destination keeps its previous content.
    """
    # Serialised in memory first: torch's own writer reports a failing disk as an
    # opaque "unexpected pos" RuntimeError, and the bytes are reused for each path.
    buffer = io.BytesIO()
    torch.save(save_dict, buffer)
    data = buffer.getbuffer()
    try:
        for path in paths:
            atomic_io.write_bytes_atomic(path, data, setting=setting)
    finally:
        data.release()


def run_settings(args) -> Dict[str, Any]:
    """The settings that shape the model and its state, recorded in each checkpoint.

    Args:
        args: The run's settings.

    Returns:
        ``{algorithm, adaptor, supercm, net, num_classes, asd_num_instances, img_size}``;
        ``asd_num_instances`` is n_l as used (``0`` means 4k) for ASD runs, else ``None``.
        ASD runs also record every other ``asd_*`` setting as given: the adaptor's
        state (sample set, transition window, map) only means what it means under them;
        self-labelling runs their ``selflabel_*`` settings (the labelled split follows them).
    """
    adaptor = getattr(args, "adaptor", None)
    adaptor = None if adaptor in (None, "", "none", "None") else str(adaptor)
    n_l = None
    if adaptor == "asd":
        n_l = int(getattr(args, "asd_num_instances", 0) or 4 * int(args.num_classes))
    settings = {
        "algorithm": str(args.algorithm),
        "adaptor": adaptor,
        "supercm": bool(getattr(args, "supercm", False)) or args.algorithm == "supercm",
        "net": str(args.net),
        "num_classes": int(args.num_classes),
        "asd_num_instances": n_l,
        "img_size": int(args.img_size),
    }
    if adaptor in ("asd", "selflabel"):
        # Read by prefix (asd_*, selflabel_*), so that core/ needs no import of the adaptors' key lists.
        settings.update({key: value for key, value in sorted(vars(args).items())
                         if key.startswith(f"{adaptor}_") and key != "asd_num_instances"
                         and (value is None or isinstance(value, (bool, int, float, str)))})
    return settings


def differing_settings(recorded: Optional[Dict[str, Any]], current: Dict[str, Any]) -> List[str]:
    """``"key: recorded -> current"`` for each recorded setting the run changes (none for old checkpoints)."""
    if not isinstance(recorded, dict):
        return []
    return [f"{key}: {recorded[key]} -> {current[key]}" for key in current
            if key in recorded and recorded[key] != current[key]]


def checkpoint_problem(path: str) -> Optional[str]:
    """Why ``path`` cannot be read as a whole checkpoint, or ``None`` when it can.

    Checks the zip archive's directory and every member's CRC, without unpickling.
    """
    if not os.path.isfile(path):
        return "it does not exist"
    size = os.path.getsize(path)
    if size == 0:
        return "it is empty (0 bytes): a write was interrupted"
    if not zipfile.is_zipfile(path):
        return f"it is truncated or not a PyTorch checkpoint ({size} bytes, no zip directory at its end)"
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
        return f"it is corrupt ({error})"
    if bad is not None:
        return f"it is corrupt (member {bad} fails its CRC check)"
    return None


def checkpoint_iteration(path: str) -> Optional[int]:
    """N of ``model_it<N>.pth``, or ``None`` for other names."""
    match = _NUMBERED.match(os.path.basename(path))
    return int(match.group(1)) if match else None


def intact_older_checkpoints(path: str) -> List[Tuple[str, int]]:
    """Whole ``model_it<N>.pth`` files next to ``path``, newest first (older than ``path`` if it is one).

    Args:
        path: The checkpoint that could not be read.

    Returns:
        ``[(path, N)]``; only the newest intact one is checked when found first.
    """
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        return []
    below = checkpoint_iteration(path)
    numbered = sorted(
        ((os.path.join(folder, name), int(match.group(1))) for name in os.listdir(folder)
         if (match := _NUMBERED.match(name))),
        key=lambda item: -item[1],
    )
    for candidate, iteration in numbered:
        if below is not None and iteration >= below:
            continue
        if checkpoint_problem(candidate) is None:
            return [(candidate, iteration)]
    return []


#: What USB's ``load_model`` reads from a checkpoint: a file without them is not a training checkpoint.
TRAINING_KEYS = ("model", "ema_model", "optimizer", "loss_scaler", "it", "epoch", "best_it", "best_eval_acc")

#: The checkpoint key of the training pool's fingerprint (:func:`usb_asd.data.pool_check.pool_fingerprint`).
DATA_KEY = "data_fingerprint"

#: The checkpoint key of the seconds trained so far, over every resume.
WALL_KEY = "wall_s"


def describe_content(value: Any) -> str:
    """A short description of what a file holds, for messages."""
    if isinstance(value, dict):
        keys = [str(k) for k in list(value)[:4]]
        entries = "1 entry" if len(value) == 1 else f"{len(value)} entries"
        return f"a dict of {entries} ({', '.join(keys)}{', ...' if len(value) > 4 else ''})"
    name = type(value).__name__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def check_training_checkpoint(path: str, content: Any) -> Dict[str, Any]:
    """``content`` if it is a training checkpoint USB can resume from, else one error saying what it is.

    Raises:
        CheckpointError: a plain state dict, a pretrained-weights file or anything else.
    """
    missing = [key for key in TRAINING_KEYS if not isinstance(content, dict) or key not in content]
    if missing:
        raise CheckpointError(
            f"checkpoint {path} (load_path) is not a training checkpoint: it holds {describe_content(content)}, "
            f"without {', '.join(missing[:4])}{', ...' if len(missing) > 4 else ''}; resume: True continues a run "
            "from its latest_model.pth; to start from weights alone, use use_pretrain: True with pretrain_path"
        )
    return content


def read_checkpoint(path: str) -> Dict[str, Any]:
    """Load a checkpoint lazily (memory-mapped) for its small entries; CheckpointError if unreadable."""
    try:
        return torch.load(path, map_location="cpu", mmap=True, weights_only=True)
    except Exception as error:  # torch raises many types for a damaged file
        from .pretrained import load_error_reason

        raise CheckpointError(f"checkpoint {path} (load_path) cannot be read: {load_error_reason(error)}") from error


def resume_checkpoint(args) -> str:
    """The checkpoint a ``resume: True`` run will load, checked before anything is built.

    Args:
        args: The run's settings (``load_path``, ``resume_fallback`` and the recorded ones).

    Returns:
        ``load_path``, or with ``resume_fallback: True`` the newest intact older
        checkpoint when ``load_path`` is damaged.

    Raises:
        CheckpointError: The file is damaged (naming an intact older one and how to
            use it, if any), or it was saved by a run with other settings.
    """
    path = args.load_path
    problem = checkpoint_problem(path)
    if problem is not None:
        older = intact_older_checkpoints(path)
        if older and getattr(args, "resume_fallback", False):
            log.warning("checkpoint %s cannot be resumed from (%s); resume_fallback: True takes %s "
                        "(iteration %d) instead", path, problem, older[0][0], older[0][1])
            path = older[0][0]
        elif older:
            raise CheckpointError(
                f"checkpoint {path} (load_path) cannot be resumed from: {problem}. The newest intact older "
                f"checkpoint is {older[0][0]} (iteration {older[0][1]}): resume from it with "
                f"load_path: {older[0][0]}, or add resume_fallback: True to take it"
            )
        else:
            raise CheckpointError(
                f"checkpoint {path} (load_path) cannot be resumed from: {problem}. No intact older "
                "model_it<N>.pth is next to it (keep_checkpoints: True keeps one at every checkpoint)"
            )
    content = check_training_checkpoint(path, read_checkpoint(path))
    differences = differing_settings(content.get(SETTINGS_KEY), run_settings(args))
    if differences:
        raise CheckpointError(
            f"checkpoint {path} (load_path) was saved by a run with other settings ({'; '.join(differences)}); "
            "resume with the settings it was saved with, or start a new run (resume: False)"
        )
    return path


def check_resume_data(path: str, current: Dict[str, Dict[str, Any]]) -> None:
    """Refuse to resume a checkpoint trained on other data than the run's (names what changed).

    Args:
        path: The checkpoint (``load_path``, as :func:`resume_checkpoint` chose it).
        current: This run's fingerprints, ``{"pool": ..., "target": ..., "init": ...}``
            (:func:`usb_asd.data.pool_check.pool_fingerprint`; ``init``: the given clustering's,
            :func:`usb_asd.asd.init_assignments.given_fingerprint`). Checkpoints saved before
            fingerprints were recorded are not judged.

    Raises:
        CheckpointError: a recorded fingerprint differs.
    """
    from ..data.pool_check import describe_change

    recorded = read_checkpoint(path).get(DATA_KEY)
    if not isinstance(recorded, dict):
        return
    for part, fingerprint in current.items():
        before = recorded.get(part)
        if part == "init":
            if isinstance(before, dict) and before.get("digest") != fingerprint.get("digest"):
                raise CheckpointError(
                    f"checkpoint {path} (load_path) was started from another given clustering than "
                    f"{fingerprint.get('path')} now holds (it read {before.get('path')}); its state (labels, "
                    "maps) belongs to that clustering. Resume with the file it started from, or start a new "
                    "run (resume: False)")
            continue
        change = describe_change(before, fingerprint) if isinstance(before, dict) else None
        if change:
            what = "training pool" if part == "pool" else "target data set (da_target_dataset)"
            raise CheckpointError(
                f"checkpoint {path} (load_path) was trained on another {what} ({change}); the state it holds "
                "(sampled instances, cluster map, per-image statistics) belongs to those images. Resume on the "
                "data it was trained on, or start a new run (resume: False)"
            )
