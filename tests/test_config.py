"""genodil.config: reading, checking and resolving a run config, without training anything."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from genodil.config import dump_config, load_config
from genodil.errors import InputError
from tests.conftest import run_config


def _write(path: Path, cfg: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_relative_paths_resolve_against_the_config_folder(tiny_data, tmp_path, monkeypatch):
    path = _write(tiny_data / "run.yaml", run_config(tiny_data))
    monkeypatch.chdir(tmp_path)  # not the config's folder
    cfg = load_config(path)
    assert cfg.data["fasta"] == str(tiny_data / "genome.fa")
    assert [t["path"] for t in cfg.data["tracks"]] == [
        str(tiny_data / name) for name in ("peak.bw", "plus.bw", "minus.bw")
    ]


def test_data_root_key_then_argument_take_precedence(tiny_data, tmp_path):
    elsewhere = tmp_path / "configs"
    raw = {**run_config(tiny_data), "data_root": "../data"}
    cfg = load_config(_write(elsewhere / "run.yaml", raw))
    assert cfg.data["fasta"] == str(tiny_data / "genome.fa")  # data_root, relative to the file
    other = tmp_path / "other"
    cfg = load_config(elsewhere / "run.yaml", data_root=other)
    assert cfg.data["fasta"] == str(other / "genome.fa")  # --data_root wins over the key
    assert "data_root" not in cfg.to_dict()


def test_absolute_paths_are_kept(tiny_data, tmp_path):
    raw = run_config(tiny_data)
    raw["data"]["fasta"] = str(tiny_data / "genome.fa")
    cfg = load_config(_write(tmp_path / "elsewhere" / "run.yaml", raw))
    assert cfg.data["fasta"] == str(tiny_data / "genome.fa")


def test_values_and_overrides_reach_the_sections(tiny_config):
    cfg = load_config(tiny_config, ["--model.channels", "16", "--train.lr", "0.01"])
    assert cfg.model["channels"] == 16
    assert cfg.train.lr == pytest.approx(0.01)
    assert cfg.data["window"] == 1024 and cfg.data["crop"] == 128
    assert cfg.data["splits"] == {"valid": ["c3"], "test": ["c4"]}
    assert cfg.train.loss == "poisson"  # a default filled in
    assert "config" not in cfg.to_dict()


def test_override_without_a_file(tiny_data):
    track = f"[{{name: peak, path: {tiny_data / 'peak.bw'}}}]"
    cfg = load_config(
        None,
        [
            *["--data.fasta", str(tiny_data / "genome.fa"), "--data.tracks", track],
            *["--model.channels", "8"],
        ],
    )
    assert cfg.data["fasta"] == str(tiny_data / "genome.fa")
    assert cfg.model["channels"] == 8


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda c: c.update(modle={}),
            r"unknown key 'modle' in the top level; did you mean 'model'",
        ),
        (
            lambda c: c["model"].update(chanels=8),
            r"unknown key 'chanels' in section 'model'; did you mean 'channels'",
        ),
        (
            lambda c: c["data"]["tracks"][0].update(scael=2.0),
            r"unknown key 'scael' in data.tracks\[0\]; did you mean 'scale'",
        ),
        (lambda c: c["model"].update(n_tracks=3), r"model.n_tracks is derived from the data"),
        (
            lambda c: c["model"].update(track_heads=["exp"]),
            r"model.track_heads is derived from the data section .*strand_pair and head",
        ),
        (
            lambda c: c["data"]["tracks"][0].update(head="logistic"),
            r"data.tracks\[0\].head",
        ),
        (lambda c: c.update(train=[1, 2]), r"section 'train' must be a mapping"),
        (lambda c: c["data"]["tracks"].append("x.bw"), r"data.tracks\[3\] must be a mapping"),
        (lambda c: c["train"].update(loss="huber"), r"train.loss"),
    ],
)
def test_config_errors_name_the_file_and_key(tiny_data, edit, message):
    raw = run_config(tiny_data)
    edit(raw)
    path = _write(tiny_data / "bad.yaml", raw)
    with pytest.raises(InputError, match=message) as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_unknown_override_suggests_the_nearest_option(tiny_config):
    with pytest.raises(InputError, match=r"unknown option --model.chanels; did you mean"):
        load_config(tiny_config, ["--model.chanels", "8"])


def test_nested_override_under_a_dict_option_is_accepted(tiny_config):
    cfg = load_config(tiny_config, ["--trainer.enable_model_summary", "false"])
    assert cfg.trainer == {"enable_model_summary": False}


@pytest.mark.parametrize(
    ("text", "message"),
    [(None, "does not exist"), ("data: [unclosed", "not valid YAML"), ("- a\n- b\n", "mapping")],
)
def test_unreadable_config_files_raise_input_error(tmp_path, text, message):
    path = tmp_path / "run.yaml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(InputError, match=message):
        load_config(path)


def test_dumped_config_loads_back_to_the_same_values(tiny_config, tmp_path):
    cfg = load_config(tiny_config, ["--model.channels", "12"])
    text = dump_config(cfg)
    again = load_config(_write(tmp_path / "dumped" / "config.yaml", yaml.safe_load(text)))
    assert again == cfg  # absolute paths survive a move of the file
