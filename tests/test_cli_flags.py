"""The command line's flags, help texts and exit codes (no training: each case stops early)."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from genodil import cli
from genodil.cli import build_parser, main
from tests.conftest import run_config

# The fewest arguments each command needs to get past argparse (nothing they name exists).
REQUIRED = {
    "demo": [],
    "simulate": ["--out", "OUT"],
    "train": [],
    "evaluate": ["--checkpoint", "nope.ckpt"],
    "predict": ["--checkpoint", "nope.ckpt", "--out", "OUT"],
    "score-variants": ["--checkpoint", "c", "--fasta", "f", "--vcf", "v", "--out", "o.tsv"],
    "receptive-field": [],
    "interpret": ["--checkpoint", "c", "--region", "c1:0-9", "--out", "OUT"],
    "motifs": ["--checkpoint", "c", "--out", "OUT"],
    "marginalize": ["--checkpoint", "c", "--out", "OUT"],
    "explain-variants": ["--checkpoint", "c", "--vcf", "v", "--out", "OUT"],
    "report": ["RUN"],
    "check": ["--config", "c.yaml"],
    "merge-bigwig": ["--out", "m.bw", "a.bw"],
}


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _options(p: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in p._actions if a.option_strings and a.dest != "help"]


def test_every_command_is_covered():
    assert set(_subparsers()) == set(REQUIRED)


@pytest.mark.parametrize("command", sorted(REQUIRED))
def test_dash_and_underscore_spellings_are_the_same_flag(command):
    p = _subparsers()[command]
    for action in _options(p):
        flag = action.option_strings[-1]
        if "-" not in flag[2:]:
            continue
        value = [] if action.nargs == 0 else [str((action.choices or ["3"])[0])]
        a = p.parse_known_args([*REQUIRED[command], flag, *value])[0]
        b = p.parse_known_args([*REQUIRED[command], "--" + flag[2:].replace("-", "_"), *value])[0]
        assert vars(a) == vars(b), flag


@pytest.mark.parametrize("command", sorted(REQUIRED))
def test_unknown_flag_names_the_nearest_in_every_command(command, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main([command, *REQUIRED[command], "--quite"]) == 2
    err = capsys.readouterr().err
    assert "unknown option --quite" in err
    p = _subparsers()[command]
    if "--quiet" in p._option_string_actions:
        assert "did you mean --quiet?" in err
    assert "Traceback" not in err


def test_batch_size_with_underscore_runs_predict_far_enough(capsys, tmp_path):
    # It used to fail with the top-level usage line; now it reaches the missing checkpoint.
    code = main(
        [
            *["predict", "--checkpoint", str(tmp_path / "x.ckpt"), "--batch_size", "4"],
            *["--out", str(tmp_path / "p"), "--region", "c1:0-10", "--fasta", "g.fa"],
        ]
    )
    assert code == 2
    assert "x.ckpt does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("command", sorted(REQUIRED))
def test_help_texts(command):
    p = _subparsers()[command]
    text = p.format_help()
    assert "(default: None)" not in text
    assert "(default: False)" not in text
    for action in _options(p):
        assert action.help, f"{command} {action.option_strings[0]} has no help text"
        if action.required:
            assert "(default" not in p._get_formatter()._expand_help(action)
    out = p._option_string_actions.get("--out")
    if out is not None:
        assert out.help.endswith(("(a folder)", "(a file)")), command
    for pos in [a for a in p._actions if not a.option_strings]:
        assert pos.help


def test_out_kinds_are_the_documented_ones():
    kinds = {name: (p.get_default("_paths") or {}).get("out") for name, p in _subparsers().items()}
    assert kinds == {
        "demo": "folder",
        "simulate": "folder",
        "train": "folder",
        "predict": "folder",
        "interpret": "folder",
        "motifs": "folder",
        "marginalize": "folder",
        "explain-variants": "folder",
        "report": "file",
        "evaluate": "file",
        "score-variants": "file",
        "merge-bigwig": "file",
        "receptive-field": None,
        "check": None,
    }


def test_preset_choices_are_listed_and_match_the_simulator():
    from genodil.simulate import PRESETS

    p = _subparsers()["simulate"]
    assert "{tiny,small,longrange,large}" in p.format_help()
    assert tuple(p._option_string_actions["--preset"].choices) == tuple(PRESETS)
    assert all(name in p.format_help() for name in PRESETS)
    smk = (Path(__file__).parents[1] / "workflows" / "rules" / "common.smk").read_text()
    listed = re.search(r"^SIMULATE_PRESETS = \((.*)\)$", smk, re.MULTILINE)
    assert listed is not None, "workflows/rules/common.smk no longer lists SIMULATE_PRESETS"
    assert tuple(re.findall(r'"(\w+)"', listed.group(1))) == tuple(PRESETS)


@pytest.mark.parametrize(
    ("command", "flag", "make"),
    [
        ("evaluate", "--out", "dir"),
        ("score-variants", "--out", "dir"),
        ("merge-bigwig", "--out", "dir"),
        ("predict", "--out", "file"),
        ("interpret", "--out", "file"),
        ("simulate", "--out", "file"),
        ("evaluate", "--plots", "file"),
        ("predict", "--npz", "dir"),
    ],
)
def test_out_of_the_wrong_kind_is_exit_2(command, flag, make, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "target"
    if make == "dir":
        target.mkdir()
    else:
        target.write_text("keep me\n")
    args = list(REQUIRED[command])
    if flag in args:
        args[args.index(flag) + 1] = str(target)
    else:
        args += [flag, str(target)]
    assert main([command, *args]) == 2
    err = capsys.readouterr().err
    assert f"{flag} {target} is an existing {'directory' if make == 'dir' else 'file'}" in err
    if make == "file":
        assert target.read_text() == "keep me\n"


def test_evaluate_split_lists_only_valid_choices(capsys):
    p = _subparsers()["evaluate"]
    assert (
        "{test,valid}" in p.format_help()
        and "train" not in p.format_help().split("--split")[1][:80]
    )
    assert main(["evaluate", "--checkpoint", "x", "--split", "train"]) == 2
    assert "invalid choice: 'train'" in capsys.readouterr().err
    args = p.parse_args(["--checkpoint", "x", "--split", "val"])
    assert args.split == "valid"


@pytest.mark.parametrize("value", ["-1", "0", "1.5", "abc"])
def test_demo_steps_must_be_positive(value, capsys, tmp_path):
    assert main(["demo", "--out", str(tmp_path / "d"), "--steps", value]) == 2
    assert "--steps" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--device", "gpu0"], "must be auto, cpu, cuda or cuda:N"),
        (["--batch-size", "0"], "must be 1 or more"),
        (["--scores", "SAD,FOO"], "unknown score 'FOO'"),
    ],
)
def test_bad_option_values_are_exit_2(args, words, capsys, tmp_path):
    base = ["score-variants", "--checkpoint", str(tmp_path / "c"), "--fasta", "f", "--vcf", "v"]
    assert main([*base, "--out", str(tmp_path / "s.tsv"), *args]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


def test_score_variants_batch_size_needs_two(capsys, tmp_path):
    base = ["score-variants", "--checkpoint", "c", "--fasta", "f", "--vcf", "v"]
    assert main([*base, "--out", str(tmp_path / "s.tsv"), "--batch-size", "1"]) == 2
    assert "must be 2 or more" in capsys.readouterr().err


def _boom(exc: BaseException):
    def cmd(args):
        raise exc

    return cmd


def test_a_bare_value_error_is_an_internal_error_with_a_log(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.delenv("GENODIL_DEBUG", raising=False)
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    monkeypatch.setattr(cli, "cmd_simulate", _boom(ValueError("bad\nshape")))
    assert main(["simulate", "--out", str(tmp_path / "s")]) == 1
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "internal error" in lines[0] and "ValueError: bad shape" in err
    assert "Traceback" not in err
    log = Path(err.split("the traceback is in ")[1].split(" (set GENODIL_DEBUG")[0])
    assert log.parent == tmp_path
    assert "Traceback" in log.read_text() and "bad" in log.read_text()


def test_genodil_debug_prints_the_traceback(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("GENODIL_DEBUG", "1")
    monkeypatch.setattr(cli, "cmd_simulate", _boom(RuntimeError("oops")))
    assert main(["simulate", "--out", str(tmp_path / "s")]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "RuntimeError: oops" in err


def test_keyboard_interrupt_exits_130(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(cli, "cmd_simulate", _boom(KeyboardInterrupt()))
    assert main(["simulate", "--out", str(tmp_path / "s")]) == 130
    assert capsys.readouterr().err.strip() == "genodil simulate: interrupted"


def test_input_error_is_exit_2(monkeypatch, capsys, tmp_path):
    from genodil.errors import InputError

    monkeypatch.setattr(cli, "cmd_simulate", _boom(InputError("x.fa: line 3 is bad")))
    assert main(["simulate", "--out", str(tmp_path / "s")]) == 2
    assert capsys.readouterr().err.strip() == "genodil simulate: error: x.fa: line 3 is bad"


def _bad_config(root: Path, **train) -> Path:
    cfg = run_config(root)
    cfg["train"].update(train)
    path = root / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.mark.parametrize(
    ("edit", "override", "words"),
    [
        ({"max_time": "ten minutes"}, [], "train.max_time"),
        ({"monitor": "val_accuracy"}, [], "train.monitor"),
        ({}, ["--trainer.foo", "3"], "--trainer.foo"),
        ({}, ["--train.max_time", "2 weeks"], "DD:HH:MM:SS"),
    ],
)
def test_train_and_check_refuse_bad_configs_before_any_step(
    tiny_data, tmp_path, capsys, edit, override, words
):
    path = _bad_config(tiny_data, **edit)
    run = tmp_path / "run"
    assert main(["train", "--config", str(path), "--out", str(run), "--quiet", *override]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err
    assert not run.exists()
    assert main(["check", "--config", str(path), *override]) == 2
    assert words in capsys.readouterr().err


def test_trainer_section_in_file_is_checked(tiny_data, capsys):
    cfg = run_config(tiny_data)
    cfg["trainer"] = {"foo": 1}
    path = tiny_data / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["check", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "unknown key 'foo' in section 'trainer'" in err and str(path) in err


def test_check_accepts_nested_overrides(tiny_config, capsys):
    assert main(["check", "--config", str(tiny_config), "--model.dilations.blocks", "3"]) == 0
    assert "inputs agree" in capsys.readouterr().out


def test_subprocess_bad_config_has_no_traceback(tiny_data, tmp_path):
    path = _bad_config(tiny_data, max_time="2 fortnights")
    env = {**os.environ, "GENODIL_ALLOCATOR": "default"}
    env.pop("GENODIL_DEBUG", None)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "genodil.cli",
            "train",
            "--config",
            str(path),
            "--out",
            str(tmp_path / "r"),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 2
    assert "train.max_time" in proc.stderr and str(path) in proc.stderr
    assert "Traceback" not in proc.stderr


def test_overrides_take_negative_values_and_unknown_plain_flags_are_refused(tiny_config, capsys):
    code = main(
        ["train", "--config", str(tiny_config), "--print-config", "--train.max_steps", "-1"]
    )
    assert code == 0
    assert yaml.safe_load(capsys.readouterr().out)["train"]["max_steps"] == -1
    assert main(["train", "--config", str(tiny_config), "--print_confg"]) == 2
    assert "did you mean --print-config?" in capsys.readouterr().err
