"""Pretrained weights are data: read without running code, from a local file or ``https://``, checked.

USB's net builders load ``pretrain_path`` through ``semilearn.nets.utils.load_checkpoint``,
which unpickles a URL's download with ``weights_only=False`` (a pickle payload
in the file runs at start-up) and gives a traceback for a file of the wrong
shape (see ``patches/0007-load-checkpoint-weights-only.patch``). The plugin
never lets a builder load weights: :class:`PretrainedNetBuilder` builds the net
without them and loads them itself, with:

* ``torch.load(..., weights_only=True)`` always: tensors and plain containers only;
* local files or ``https://`` addresses only (downloads are cached in torch's hub folder);
* the file's SHA-256 compared with ``pretrain_sha256`` when the user gives one;
* one error naming the file and what was expected when it holds no state dict,
  when none of its tensors names a parameter of the net, or when shapes differ.

The state dict is read as USB reads it: under ``model`` (USB's published
weights) or ``state_dict``, or the file is the state dict itself; a
``module.`` prefix is dropped and the classifier (``fc``, ``classifier``,
``mlp``, ``head``) is left to its fresh initialisation.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from typing import Any, Callable, Dict, Optional
from urllib.parse import urlparse

import torch

from ..errors import UserError

log = logging.getLogger("usb_asd")

#: Keys a checkpoint may hold its state dict under, in the order they are tried (USB's first).
STATE_KEYS = ("model", "state_dict")

#: Parameter prefixes of classifier heads, which keep their fresh weights (as USB's load_checkpoint does).
HEAD_PREFIXES = ("fc", "classifier", "mlp", "head")

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class WeightsError(UserError):
    """Pretrained weights that cannot be used; the message names the file (``pretrain_path``) and what was expected."""


def load_error_reason(error: BaseException) -> str:
    """Why ``torch.load(weights_only=True)`` refused a file, in one line without torch's advice to load unsafely.

    For a file that carries pickled objects, the object named (``Unsupported global: GLOBAL io.open``);
    otherwise the error's first line.
    """
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(error))
    match = re.search(r"Unsupported global: GLOBAL (\S+)", text)
    if match:
        return (f"it holds pickled objects, not only tensors (first: {match.group(1)}), which are neither loaded "
                "nor run")
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


def check_sha256_setting(value: Optional[str]) -> Optional[str]:
    """``pretrain_sha256`` normalised (lower-case hex), or ``None`` when unset.

    Raises:
        WeightsError: not 64 hexadecimal digits.
    """
    if value in (None, "", "None"):
        return None
    text = str(value).strip().lower()
    if not _SHA256.match(text):
        raise WeightsError(f"pretrain_sha256 must be the file's SHA-256 as 64 hexadecimal digits "
                           f"(sha256sum prints it), got {value!r}")
    return text


def file_sha256(path: str) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _is_local(path: str) -> bool:
    """Whether ``path`` is a file path rather than a URL (a Windows drive letter is a path)."""
    scheme = urlparse(path).scheme
    return scheme == "" or len(scheme) == 1


def local_weights_file(path: str, download: Callable[[str, str], None] = None) -> str:
    """The local file ``pretrain_path`` names: the file itself, or its cached ``https://`` download.

    Args:
        path: ``pretrain_path``.
        download: ``download(url, destination)``; default torch's ``download_url_to_file``.

    Returns:
        A path to an existing file.

    Raises:
        WeightsError: an address other than ``https://``, a missing file, a failed download.
    """
    if not path:
        raise WeightsError("use_pretrain: True needs pretrain_path (a local weights file or an https:// address)")
    if _is_local(path):
        if not os.path.isfile(path):
            raise WeightsError(f"pretrain_path {path!r} does not exist (use_pretrain: True)")
        return path
    parsed = urlparse(path)
    if parsed.scheme != "https":
        raise WeightsError(f"pretrain_path {path!r}: only local files and https:// addresses are read "
                           f"(not {parsed.scheme}://); for a local file give its path")
    name = os.path.basename(parsed.path) or "weights.pth"
    cached = os.path.join(torch.hub.get_dir(), "checkpoints", name)
    if not os.path.isfile(cached):
        os.makedirs(os.path.dirname(cached), exist_ok=True)
        fetch = download or (lambda url, dst: torch.hub.download_url_to_file(url, dst, progress=False))
        try:
            fetch(path, cached)
        except Exception as error:  # urllib raises URLError, HTTPError, OSError, ...
            raise WeightsError(f"pretrain_path {path!r} cannot be downloaded: {type(error).__name__}: "
                               f"{error}") from error
    return cached


def _describe(value: Any) -> str:
    """A short description of what a weights file holds, for messages."""
    if isinstance(value, dict):
        keys = [str(k) for k in list(value)[:5]]
        return f"a dict with keys {keys}{' ...' if len(value) > 5 else ''}"
    name = type(value).__name__
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def _is_state_dict(value: Any) -> bool:
    return (isinstance(value, dict) and bool(value)
            and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in value.items()))


def read_weights(path: str, sha256: Optional[str] = None, shown: Optional[str] = None) -> Dict[str, torch.Tensor]:
    """The state dict of a weights file, checked, without running anything the file carries.

    Args:
        path: A local weights file.
        sha256: The SHA-256 the file must have (``pretrain_sha256``), or ``None``.
        shown: How to name the file in messages (the user's ``pretrain_path``); default ``path``.

    Returns:
        Parameter name -> tensor.

    Raises:
        WeightsError: a wrong checksum, a file ``weights_only`` loading refuses (it holds code or
            other objects), or one that holds no state dict.
    """
    shown = shown or path
    if sha256 is not None:
        actual = file_sha256(path)
        if actual != sha256:
            where = "" if shown == path else f" (downloaded to {path})"
            raise WeightsError(f"pretrain_path {shown!r}{where} has SHA-256 {actual}, not pretrain_sha256 {sha256}: "
                               "the file is not the one expected; nothing was loaded")
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # UnpicklingError for code, RuntimeError/EOFError for damaged files
        raise WeightsError(f"pretrain_path {shown!r} cannot be read as weights (tensors only, nothing in the "
                           f"file is run): {load_error_reason(error)}") from error
    if _is_state_dict(content):
        return content
    if isinstance(content, dict):
        for key in STATE_KEYS:
            if _is_state_dict(content.get(key)):
                return content[key]
    raise WeightsError(f"pretrain_path {shown!r} holds {_describe(content)}: expected a state dict (parameter "
                       f"name -> tensor), or a checkpoint holding one under 'model' (USB's layout) or 'state_dict'")


def load_into(model: torch.nn.Module, state: Dict[str, torch.Tensor], shown: str, net: str) -> Dict[str, int]:
    """Load a pretrained state dict into ``model`` as USB's ``load_checkpoint`` does, with clear errors.

    Args:
        model: A freshly built net.
        state: :func:`read_weights`' result.
        shown: ``pretrain_path``, for messages.
        net: ``net``, for messages.

    Returns:
        ``{"loaded", "missing", "skipped_head"}`` counts.

    Raises:
        WeightsError: no tensor names a parameter of the net, or a shape differs.
    """
    from semilearn.nets.utils import resize_pos_embed_vit

    own = model.state_dict()
    renamed: Dict[str, torch.Tensor] = {}
    skipped = 0
    for key, value in state.items():
        key = key.split(".", 1)[1] if key.startswith("module.") else key
        if key.startswith(HEAD_PREFIXES):
            skipped += 1
            continue
        if key == "pos_embed" and key in own and own[key].shape != value.shape:
            value = resize_pos_embed_vit(value, own[key])  # a ViT trained at another resolution
        renamed[key] = value
    matched = [key for key in renamed if key in own]
    if not matched:
        first = next(iter(renamed), next(iter(state), "?"))
        raise WeightsError(f"pretrain_path {shown!r}: none of its {len(state)} tensors names a parameter of net "
                           f"{net} (first: {first!r}); are the weights for another net?")
    for key in matched:
        if tuple(renamed[key].shape) != tuple(own[key].shape):
            raise WeightsError(f"pretrain_path {shown!r} does not fit net {net}: {key!r} has shape "
                               f"{tuple(renamed[key].shape)} in the file and {tuple(own[key].shape)} in the net")
    model.load_state_dict({key: renamed[key] for key in matched}, strict=False)
    missing = len([key for key in own if key not in renamed and not key.startswith(HEAD_PREFIXES)])
    log.info("pretrained weights %s: %d tensors loaded, %d parameters of the net not in the file, %d head "
             "tensors left at their initialisation", shown, len(matched), missing, skipped)
    return {"loaded": len(matched), "missing": missing, "skipped_head": skipped}


def check_pretrained(args) -> Optional[Dict[str, torch.Tensor]]:
    """Check ``use_pretrain`` / ``pretrain_path`` / ``pretrain_sha256`` before anything is written.

    Args:
        args: The run's settings.

    Returns:
        The state dict (``use_pretrain: True``), else ``None``.

    Raises:
        WeightsError: see :func:`local_weights_file` and :func:`read_weights`.
    """
    sha256 = check_sha256_setting(getattr(args, "pretrain_sha256", None))
    if not getattr(args, "use_pretrain", False):
        return None
    path = str(args.pretrain_path or "")
    return read_weights(local_weights_file(path), sha256, shown=path)


class PretrainedNetBuilder:
    """A USB net builder that never loads weights itself: the plugin loads them (module docstring).

    USB's learners call ``net_builder(num_classes=..., pretrained=..., pretrained_path=...)``
    for the model and ``net_builder(num_classes=...)`` for the EMA copy; with
    ``pretrained=True`` this builds the net with ``pretrained=False`` and loads the
    checked weights into it.

    Args:
        builder: USB's builder (``get_net_builder(net, net_from_name)``).
        args: The run's settings (``net``, ``pretrain_path``, ``pretrain_sha256``).
    """

    def __init__(self, builder: Callable[..., torch.nn.Module], args) -> None:
        self.builder = builder
        self.net = str(args.net)
        self.path = str(getattr(args, "pretrain_path", "") or "")
        self.sha256 = check_sha256_setting(getattr(args, "pretrain_sha256", None))
        self._state: Optional[Dict[str, torch.Tensor]] = None

    def __call__(self, *args, **kwargs) -> torch.nn.Module:
        wanted = bool(kwargs.get("pretrained", False))
        if "pretrained" in kwargs:
            kwargs["pretrained"] = False
        model = self.builder(*args, **kwargs)
        if wanted:
            if self._state is None:
                self._state = read_weights(local_weights_file(self.path), self.sha256, shown=self.path)
            load_into(model, self._state, self.path, self.net)
        return model
