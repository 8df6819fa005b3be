"""Command line and YAML settings, with USB's flags, keys and meanings.

Parsing follows USB's ``train.py``: the base flags are parsed, the YAML given
with ``--c`` is applied, then the learner's own arguments (``get_argument()``)
and the plugin's are added and everything is parsed again. Two differences
from USB:

* every YAML value is checked against the type of its flag, so a wrong type
  fails at once with the key's name instead of deep in training;
* a YAML key that no flag knows (a typo such as ``asd_windw``) is an error
  suggesting the nearest known key, where USB sets it silently;
  ``allow_unknown_keys: True`` (or ``--allow_unknown_keys``) accepts such keys,
  for USB configs that carry keys of other USB versions or learners;
* a flag given on the command line wins over the same key in the YAML
  (``train.py --c config/asd_freematch_digits.yaml --asd_mapping features``).
  USB applies the file last, so such a flag is silently ignored there. Keys
  only in the YAML override the flags' defaults, as in USB.
"""

from __future__ import annotations

import argparse
import difflib
import os
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Set

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from .budget import int_or_auto
from .errors import UserError


class ConfigError(UserError, ValueError):
    """A configuration file or value is wrong; the message names the key."""


@dataclass(frozen=True)
class PluginArgument:
    """A config key with its type and default (USB's ``SSL_Argument`` shape)."""

    name: str
    type: Any
    default: Any
    help: str = ""


def str2bool(value: Any) -> bool:
    """USB's boolean parser (``semilearn.algorithms.utils.str2bool``), strict about junk."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("yes", "true", "t", "y", "1"):
        return True
    if text in ("no", "false", "f", "n", "0"):
        return False
    raise argparse.ArgumentTypeError(f"boolean value expected, got {value!r}")


def optional_int(value: Any) -> Optional[int]:
    """An integer, or ``None`` for ``None`` / ``"None"`` (USB's ``gpu`` key)."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "null", "")):
        return None
    if isinstance(value, bool):
        raise argparse.ArgumentTypeError(f"integer or None expected, got {value!r}")
    return int(value)


def _add(parser: argparse.ArgumentParser, *flags: str, type: Callable, default: Any, help: str = "") -> None:
    parser.add_argument(*flags, type=type, default=default, help=help)


def build_parser() -> argparse.ArgumentParser:
    """USB's base flags (same names, defaults and meanings) plus the plugin's."""
    p = argparse.ArgumentParser(description="USB learners with usb-asd (clustering, CPU/GPU)")
    # saving and loading
    _add(p, "--save_dir", type=str, default="./saved_models")
    _add(p, "-sn", "--save_name", type=str, default="fixmatch")
    p.add_argument("--resume", type=str2bool, nargs="?", const=True, default=False)
    _add(p, "--load_path", type=str, default=None)
    p.add_argument("-o", "--overwrite", type=str2bool, nargs="?", const=True, default=True)
    p.add_argument("--use_tensorboard", type=str2bool, nargs="?", const=True, default=False)
    p.add_argument("--use_wandb", type=str2bool, nargs="?", const=True, default=False)
    p.add_argument("--use_aim", type=str2bool, nargs="?", const=True, default=False)
    # training
    _add(p, "--epoch", type=int, default=1)
    _add(p, "--num_train_iter", type=int_or_auto, default=20,
         help="total number of training iterations, or auto (from the pool's size: usb_asd.budget)")
    _add(p, "--num_warmup_iter", type=int, default=0, help="cosine linear warmup iterations")
    _add(p, "--num_eval_iter", type=int_or_auto, default=10, help="evaluation frequency (auto: a quarter of the run)")
    _add(p, "--num_log_iter", type=int_or_auto, default=5, help="logging frequency (auto: every 1/20 of the run)")
    _add(p, "-nl", "--num_labels", type=int, default=400)
    _add(p, "-bsz", "--batch_size", type=int, default=8)
    _add(p, "--uratio", type=int, default=1, help="unlabelled to labelled batch size ratio")
    _add(p, "--eval_batch_size", type=int, default=16)
    _add(p, "--ema_m", type=float, default=0.999, help="EMA momentum of the evaluation model")
    _add(p, "--ulb_loss_ratio", type=float, default=1.0)
    # optimiser
    _add(p, "--optim", type=str, default="SGD")
    _add(p, "--lr", type=float, default=3e-2)
    _add(p, "--momentum", type=float, default=0.9)
    _add(p, "--weight_decay", type=float, default=5e-4)
    _add(p, "--layer_decay", type=float, default=1.0)
    # backbone
    _add(p, "--net", type=str, default="wrn_28_2")
    _add(p, "--net_from_name", type=str2bool, default=False)
    _add(p, "--use_pretrain", type=str2bool, default=False)
    _add(p, "--pretrain_path", type=str, default="")
    _add(p, "--pretrain_sha256", type=str, default=None,
         help="SHA-256 (64 hex digits) the pretrain_path file must have; checked before anything is loaded")
    # learner
    _add(p, "-alg", "--algorithm", type=str, default="fixmatch")
    _add(p, "--use_cat", type=str2bool, default=True)
    _add(p, "--amp", "--use_amp", type=str2bool, default=False)
    _add(p, "--clip_grad", type=float, default=0.0)
    _add(p, "-imb_alg", "--imb_algorithm", type=str, default=None)
    # data
    _add(p, "--data_dir", type=str, default="./data")
    _add(p, "-ds", "--dataset", type=str, default="cifar10")
    _add(p, "-nc", "--num_classes", type=int, default=10)
    _add(p, "--train_sampler", type=str, default="RandomSampler")
    _add(p, "--num_workers", type=int, default=1)
    _add(p, "--include_lb_to_ulb", type=str2bool, default=True)
    _add(p, "--lb_imb_ratio", type=int, default=1)
    _add(p, "--ulb_imb_ratio", type=int, default=1)
    _add(p, "--ulb_num_labels", type=optional_int, default=None)
    _add(p, "--img_size", type=int, default=32)
    _add(p, "--crop_ratio", type=float, default=0.875)
    _add(p, "--max_length", type=int, default=512)
    _add(p, "--max_length_seconds", type=float, default=4.0)
    _add(p, "--sample_rate", type=int, default=16000)
    # distributed
    _add(p, "--world-size", "--world_size", type=int, default=1)
    _add(p, "--rank", type=int, default=0)
    _add(p, "-du", "--dist-url", "--dist_url", type=str, default="tcp://127.0.0.1:11111")
    _add(p, "--dist-backend", "--dist_backend", type=str, default="nccl")
    _add(p, "--seed", type=int, default=1)
    _add(p, "--gpu", type=optional_int, default=None)
    _add(p, "--multiprocessing-distributed", "--multiprocessing_distributed", type=str2bool, default=False)
    # plugin
    _add(p, "--num_cpu_procs", type=int, default=2,
         help="processes multiprocessing_distributed starts on a machine without CUDA (gloo)")
    p.add_argument("--keep_checkpoints", type=str2bool, nargs="?", const=True, default=False,
                   help="also keep model_it<N>.pth at every checkpoint, not only latest_model.pth")
    p.add_argument("--resume_fallback", type=str2bool, nargs="?", const=True, default=False,
                   help="resume: if load_path is damaged, take the newest intact model_it<N>.pth next to it")
    p.add_argument("--check_images", type=str2bool, nargs="?", const=True, default=True,
                   help="decode every image file before training, so a damaged one is named first (False skips it)")
    p.add_argument("--skip_bad_images", type=str2bool, nargs="?", const=True, default=False,
                   help="leave out image files that cannot be decoded (listed in the log and results.json) "
                   "instead of stopping")
    _add(p, "--adaptor", type=str, default=None,
         help="label-free adaptor composed with the learner: asd, selflabel (or none)")
    _add(p, "--image_kind", type=str, default=None,
         help="augmentation policy: natural, glyph, or auto (read from the images; default: the dataset's)")
    _add(p, "--da_target_dataset", type=str, default=None,
         help="domain adaptation: unlabelled target dataset (dataset: is the labelled source); "
         "the target feeds the unlabelled batch and the evaluation")
    _add(p, "--da_target_data_dir", type=str, default=None,
         help="directory of the target dataset (default: data_dir)")
    _add(p, "--bn_recalibration", type=str, default="auto",
         help="none: the final model predicts with batch-norm statistics of the training forwards (USB's); "
         "pool: re-estimated once at the end of training for the final (EMA) weights on the pool's images "
         "under the evaluation transform (no labels read); auto (default): pool with the ASD adaptor, "
         "where it was measured, none otherwise")
    p.add_argument("--progress_bar", type=str2bool, nargs="?", const=True, default=True,
                   help="a progress bar with ETA on stderr (only when stderr is a terminal)")
    p.add_argument("--allow_unknown_keys", type=str2bool, nargs="?", const=True, default=False,
                   help="accept YAML keys no flag knows (USB configs of other versions); default: an error")
    _add(p, "--c", type=str, default="", help="YAML config file; flags given on the command line override its keys")
    return p


def load_yaml(path: str) -> Dict[str, Any]:
    """Read a YAML config into a dict, with errors that name the file."""
    if not os.path.isfile(path):
        raise ConfigError(f"config file not found: {path!r} (given with --c)")
    try:
        with open(path, "r", encoding="utf-8") as handle:
            data = YAML(typ="safe", pure=True).load(handle)
    except YAMLError as error:
        raise ConfigError(f"config file {path!r} is not valid YAML: {error}") from error
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path!r} must hold a mapping of keys to values, got {type(data).__name__}")
    return data


def _dest_types(parser: argparse.ArgumentParser) -> Dict[str, Callable]:
    return {a.dest: a.type for a in parser._actions if a.type is not None}


def _nullable(parser: argparse.ArgumentParser) -> Set[str]:
    """Keys whose default is ``None``: a YAML ``null`` leaves them unset; elsewhere it is a mistake."""
    return {a.dest for a in parser._actions if a.default is None}


def coerce_value(key: str, value: Any, kind: Callable, source: str, nullable: bool = True) -> Any:
    """Check a YAML value against its flag's type and convert it as argparse would.

    Integers are accepted where floats are expected; a float is not accepted
    where an integer is expected unless it is integral; ``None`` is kept where
    the key may be unset (USB uses it for "unset": ``gpu``, ``load_path``, ...).

    Args:
        key: The key, for messages.
        value: The YAML value.
        kind: The flag's type.
        source: Where the value comes from, for messages.
        nullable: Whether ``None`` is a value of the key (its default is ``None``).

    Raises:
        ConfigError: naming the key, what it must be and what it got.
    """
    expected = {int: "an integer", float: "a number", str: "a string"}.get(kind, getattr(kind, "__name__", "valid"))
    bad = ConfigError(f"{source}: key '{key}' must be {expected}, got {value!r} ({type(value).__name__})")
    if value is None:
        if nullable:
            return None
        raise bad
    if kind is int:
        if isinstance(value, bool):
            raise bad
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if not isinstance(value, int):
            raise bad
        return value
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad
        return float(value)
    if kind is str:
        if isinstance(value, (dict, list)):
            raise bad
        return str(value)
    try:
        return kind(value)
    except (argparse.ArgumentTypeError, TypeError, ValueError) as error:
        raise ConfigError(f"{source}: key '{key}': {error}") from error


_NOT_GIVEN = object()


def given_on_command_line(parser: argparse.ArgumentParser, argv: Optional[Sequence[str]]) -> Set[str]:
    """The settings (``dest`` names) that ``argv`` sets explicitly, whatever their spelling or value.

    Parses ``argv`` into a namespace pre-filled with a marker, so argparse
    fills in no defaults and only the flags present replace the marker.
    Unknown flags are ignored here (the strict parse reports them).
    """
    namespace = argparse.Namespace(**{a.dest: _NOT_GIVEN for a in parser._actions if a.dest != argparse.SUPPRESS})
    parsed, _ = parser.parse_known_args(argv, namespace=namespace)
    return {dest for dest, value in vars(parsed).items() if value is not _NOT_GIVEN}


def apply_yaml(
    args: argparse.Namespace,
    parser: argparse.ArgumentParser,
    data: Dict[str, Any],
    source: str,
    keep: Iterable[str] = (),
) -> None:
    """Set YAML keys on ``args``, type-checked; keys in ``keep`` (flags given on the command line) are left as given."""
    types = _dest_types(parser)
    nullable = _nullable(parser)
    keep = set(keep)
    for key, value in data.items():
        if key in keep:
            continue
        if key in types:
            value = coerce_value(key, value, types[key], source, nullable=key in nullable)
        setattr(args, key, value)


def add_arguments(parser: argparse.ArgumentParser, arguments: Iterable[Any]) -> None:
    """Add USB ``SSL_Argument`` objects (``name``, ``type``, ``default``, ``help``), skipping known flags."""
    known = {opt for a in parser._actions for opt in a.option_strings}
    for argument in arguments:
        if argument.name in known:
            continue
        parser.add_argument(argument.name, type=argument.type, default=argument.default, help=argument.help)
        known.add(argument.name)


def check_known_keys(parser: argparse.ArgumentParser, data: Dict[str, Any], source: str) -> None:
    """Refuse keys that no flag knows, suggesting the nearest known one.

    Args:
        parser: The parser with every flag of the run (USB's, the learner's, the plugin's).
        data: The keys given (a YAML file or overrides).
        source: Where they come from, for the message.

    Raises:
        ConfigError: naming the first unknown key, its nearest known spelling and the switch.
    """
    known = sorted({a.dest for a in parser._actions if a.dest != argparse.SUPPRESS} - {"help"})
    unknown = [key for key in data if key not in known]
    if not unknown:
        return
    key = unknown[0]
    close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'? " if close else ""
    more = f" (and {len(unknown) - 1} more: {', '.join(map(str, unknown[1:4]))})" if len(unknown) > 1 else ""
    raise ConfigError(
        f"{source}: unknown key '{key}'{more}; {hint}Set allow_unknown_keys: True (or --allow_unknown_keys) "
        "to accept keys of other USB versions or learners"
    )


def parse_config(
    argv: Optional[Sequence[str]] = None,
    extra_arguments: Optional[Callable[[argparse.Namespace], List[Any]]] = None,
    overrides: Optional[Dict[str, Any]] = None,
) -> argparse.Namespace:
    """Parse flags and ``--c`` YAML as USB's train.py does, with type checks.

    Precedence, lowest first: the flags' defaults, the YAML, flags given on
    the command line, ``overrides``.

    Args:
        argv: Command-line words (``sys.argv[1:]`` when ``None``).
        extra_arguments: ``f(args) -> [SSL_Argument]``: learner and plugin
            arguments, which depend on the ``algorithm`` chosen by the first pass.
            Their flags are accepted on the command line too; an unknown flag
            is still an error (argparse's, after they are added), and so is an
            unknown YAML or override key unless ``allow_unknown_keys`` is set.
        overrides: Keys applied last (benchmarks and grids vary the seed or
            save name of one config), type-checked like YAML keys.

    Returns:
        The settings namespace.
    """
    parser = build_parser()
    if extra_arguments is None:
        args = parser.parse_args(argv)
    else:
        # The learner's and the plugin's flags are only known after this pass.
        args, _ = parser.parse_known_args(argv)
    data = load_yaml(args.c) if args.c else {}
    source = args.c or "command line"

    def apply_yaml_and_overrides(args: argparse.Namespace) -> None:
        apply_yaml(args, parser, data, source, keep=given_on_command_line(parser, argv))
        apply_yaml(args, parser, overrides or {}, "overrides")

    apply_yaml_and_overrides(args)  # an override or YAML key may choose the learner, so before its arguments are added
    if extra_arguments is not None:
        add_arguments(parser, extra_arguments(args))
        args = parser.parse_args(argv)
        apply_yaml_and_overrides(args)
        # Only now is every key of the run known (the learner's arguments depend on algorithm:).
        if not args.allow_unknown_keys:
            check_known_keys(parser, data, source)
            check_known_keys(parser, overrides or {}, "overrides")
    return args
