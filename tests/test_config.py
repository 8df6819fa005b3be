"""USB-style flags + YAML, with type checks that name the key."""


import pytest

from usb_asd.config import ConfigError, parse_config


def _write(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return str(path)


class _Arg:
    def __init__(self, name, type, default):
        self.name, self.type, self.default, self.help = name, type, default, ""


def test_yaml_sets_what_the_command_line_does_not_and_learner_arguments_are_added(tmp_path):
    path = _write(tmp_path, "num_train_iter: 30\nlr: 1\ngpu: None\np_cutoff: 0.9\n")
    args = parse_config(
        ["--c", path, "--batch_size", "4"],
        extra_arguments=lambda a: [_Arg("--p_cutoff", float, 0.95), _Arg("--T", float, 0.5)],
    )
    assert args.num_train_iter == 30
    assert args.batch_size == 4
    assert args.lr == 1.0 and isinstance(args.lr, float)
    assert args.gpu is None
    assert args.p_cutoff == 0.9 and args.T == 0.5


def test_flags_given_on_the_command_line_win_over_the_yaml(tmp_path):
    """Unlike USB (which applies the file last and silently drops such a flag)."""
    path = _write(tmp_path, "num_train_iter: 30\nsave_name: from_file\np_cutoff: 0.9\nT: 0.7\n")
    args = parse_config(
        ["--c", path, "--num_train_iter", "5", "-sn", "from_flag", "--p_cutoff", "0.8"],
        extra_arguments=lambda a: [_Arg("--p_cutoff", float, 0.95), _Arg("--T", float, 0.5)],
    )
    assert args.num_train_iter == 5
    assert args.save_name == "from_flag"  # a short spelling counts as given
    assert args.p_cutoff == 0.8  # a learner flag, unknown to the first pass
    assert args.T == 0.7  # not on the command line: the YAML's


def test_overrides_win_over_flags_and_yaml_and_may_choose_the_learner(tmp_path):
    path = _write(tmp_path, "algorithm: fixmatch\nseed: 0\n")
    seen = []

    def extra(args):
        seen.append(args.algorithm)
        return [_Arg("--p_cutoff", float, 0.95)]

    args = parse_config(["--c", path, "--seed", "1"], extra_arguments=extra,
                        overrides={"seed": 2, "algorithm": "freematch"})
    assert args.seed == 2 and args.algorithm == "freematch"
    assert seen == ["freematch"]  # the learner's arguments were asked for the overridden learner


def test_unknown_or_ill_typed_flags_still_fail_after_learner_arguments_are_added(tmp_path, capsys):
    path = _write(tmp_path, "seed: 0\n")
    extra = lambda a: [_Arg("--p_cutoff", float, 0.95)]  # noqa: E731
    with pytest.raises(SystemExit):
        parse_config(["--c", path, "--p_cutofff", "0.8"], extra_arguments=extra)
    assert "unrecognized arguments: --p_cutofff" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_config(["--c", path, "--p_cutoff", "high"], extra_arguments=extra)
    assert "--p_cutoff" in capsys.readouterr().err


@pytest.mark.parametrize(
    "text, key",
    [
        ("num_train_iter: ten\n", "num_train_iter"),
        ("num_train_iter: 2.5\n", "num_train_iter"),
        ("lr: fast\n", "lr"),
        ("use_cat: maybe\n", "use_cat"),
        ("batch_size: true\n", "batch_size"),
        ("gpu: first\n", "gpu"),
    ],
)
def test_wrong_type_names_the_key(tmp_path, text, key):
    with pytest.raises(ConfigError, match=f"'{key}'"):
        parse_config(["--c", _write(tmp_path, text)])


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        parse_config(["--c", str(tmp_path / "absent.yaml")])
    with pytest.raises(ConfigError, match="not valid YAML"):
        parse_config(["--c", _write(tmp_path, "a: [1, 2\n")])
    with pytest.raises(ConfigError, match="mapping"):
        parse_config(["--c", _write(tmp_path, "- 1\n- 2\n")])


def test_usb_flag_spellings_are_accepted():
    args = parse_config(["--world-size", "2", "--multiprocessing-distributed", "True", "--resume"])
    assert args.world_size == 2 and args.multiprocessing_distributed is True and args.resume is True
    with pytest.raises(SystemExit):
        parse_config(["--num_train_iter", "x"])
