"""Run configs: typed sections, dotted overrides, validation before the first step."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
import yaml

from genodil.config import build_model, load_config, section_params
from genodil.errors import InputError
from genodil.train.settings import parse_duration
from tests.conftest import run_config


def _write(root: Path, **sections) -> Path:
    cfg = run_config(root)
    for name, body in sections.items():
        if isinstance(body, dict) and isinstance(cfg.get(name), dict):
            cfg[name].update(body)
        else:
            cfg[name] = body
    path = root / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _error(path, overrides=()) -> str:
    with pytest.raises(InputError) as e:
        load_config(path, list(overrides))
    text = str(e.value)
    # No jsonargparse or Python wording leaks into a message.
    for leak in ("Parser key", "Expected a <class", "NoneType", "Traceback"):
        assert leak not in text
    return text


def test_nested_overrides_are_typed_like_top_level_keys(tiny_config):
    cfg = load_config(
        tiny_config,
        [
            "--model.dilations.blocks",
            "3",
            "--data.augment.max_shift=4",
            "--data.tracks.0.scale",
            "0.5",
            "--train.max-epochs",
            "7",
        ],
    )
    assert cfg.model["dilations"] == {"schedule": "exponential", "rate": 2, "blocks": 3}
    assert cfg.data["augment"]["max_shift"] == 4
    assert cfg.data["tracks"][0]["scale"] == 0.5
    assert cfg.train.max_epochs == 7
    assert build_model(cfg).geometry is not None


def test_nested_override_of_a_missing_mapping_creates_it(tiny_data):
    path = _write(tiny_data, data={"augment": None})
    cfg = load_config(path, ["--data.augment.jitter", "5"])
    assert cfg.data["augment"] == {"jitter": 5}


def test_bad_nested_override_names_the_key(tiny_config):
    assert "data.augment" in _error(tiny_config, ["--data.augment.maxshift", "3"])
    assert "did you mean 'max_shift'" in _error(tiny_config, ["--data.augment.maxshift", "3"])
    assert "model.channels" in _error(tiny_config, ["--model.channels.x", "3"])
    assert "needs a value" in _error(tiny_config, ["--train.lr"])


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("10min", 600), ("2h", 7200), ("1h30min", 5400), ("00:00:02:00", 120)],
)
def test_max_time_formats(tiny_config, text, seconds):
    assert parse_duration(text) == datetime.timedelta(seconds=seconds)
    cfg = load_config(tiny_config, ["--train.max_time", text])
    assert cfg.train.max_time_delta.total_seconds() == seconds


@pytest.mark.parametrize("text", ["ten minutes", "2 fortnights", "0s", "1:2", "-5min"])
def test_bad_max_time_names_key_and_formats(tiny_data, text):
    msg = _error(_write(tiny_data, train={"max_time": text}))
    assert "train.max_time" in msg and "DD:HH:MM:SS" in msg and "10min" in msg
    assert "cfg.yaml" in msg


def test_monitor_must_be_a_logged_metric(tiny_data):
    msg = _error(_write(tiny_data, train={"monitor": "val_accuracy"}))
    assert "train.monitor" in msg and "val_pearson" in msg and "cfg.yaml" in msg
    assert "did you mean 'val_pearson'" in _error(
        tiny_data / "cfg.yaml", ["--train.monitor", "val_pearsn"]
    )
    for ok in ("val_loss", "val_pearson", "val_pearson_bin128", "val_pearson/plus"):
        assert load_config(tiny_data / "cfg.yaml", ["--train.monitor", ok]).train.monitor == ok


def test_monitor_of_a_bin_longer_than_the_output_is_refused(tiny_data):
    # window 1024 - 2 * 128 crop = 768 outputs: whole 128-bp bins exist, 1024-bp ones do not.
    path = _write(tiny_data, train={"monitor": "val_pearson_bin128"})
    assert load_config(path).train.monitor == "val_pearson_bin128"
    msg = _error(path, ["--data.crop", "480"])  # 64 outputs: no 128-bp bin
    assert "val_pearson_bin128" in msg


def test_bin_loss_size_must_tile_the_output_window(tiny_data):
    # 768 outputs at bin_size 1: 128 and 256 tile it, 100 does not.
    path = _write(tiny_data, train={"bin_loss_weight": 1.0})
    for ok in ("128", "256", "1"):
        cfg = load_config(path, ["--train.bin_loss_size", ok])
        assert cfg.train.bin_loss_size == int(ok) and cfg.train.bin_loss_weight == 1.0
    msg = _error(path, ["--train.bin_loss_size", "100"])
    assert "train.bin_loss_size is 100 bp" in msg and "768" in msg and "cfg.yaml" in msg
    assert "e.g. 64, 96, 128" in msg
    # bin_size 4: 192 positions; 130 bp is not a whole number of positions.
    msg = _error(path, ["--data.bin_size", "4", "--train.bin_loss_size", "130"])
    assert "multiple of data.bin_size" in msg
    assert load_config(path, ["--data.bin_size", "4"]).train.bin_loss_size == 128
    # Off (weight 0): the size is not checked.
    assert load_config(path, ["--train.bin_loss_weight", "0", "--train.bin_loss_size", "100"])


def test_bin_loss_needs_a_count_loss_and_a_weight_of_at_least_0(tiny_data):
    path = _write(tiny_data, train={"bin_loss_weight": 1.0, "loss": "mse"})
    msg = _error(path)
    assert "train.bin_loss_weight" in msg and "mse" in msg and "poisson" in msg
    msg = _error(path, ["--train.loss", "poisson", "--train.bin_loss_weight", "-1"])
    assert "train.bin_loss_weight is -1" in msg


def test_unknown_trainer_keys_name_the_nearest(tiny_data):
    msg = _error(_write(tiny_data, trainer={"max_epoch": 1}))
    assert "'trainer'" in msg and "did you mean 'max_epochs'" in msg
    msg = _error(_write(tiny_data, trainer={"foo": 1}))
    assert "'foo'" in msg and "Valid keys" in msg
    path = _write(tiny_data)
    assert "did you mean --trainer.max_epochs" in _error(path, ["--trainer.max_epoch", "3"])
    assert load_config(tiny_data / "cfg.yaml", ["--trainer.num_sanity_val_steps", "0"]).trainer == {
        "num_sanity_val_steps": 0
    }


@pytest.mark.parametrize("name", ["a/b", "a b", "", "x\\y"])
def test_track_names_must_be_file_names(tiny_data, name):
    cfg = run_config(tiny_data)
    cfg["data"]["tracks"][0]["name"] = name
    path = tiny_data / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    msg = _error(path)
    assert repr(name) in msg and "file name" in msg and "data.tracks" in msg


def test_splits_as_a_list_and_bad_pool_in_plain_words(tiny_data):
    msg = _error(_write(tiny_data, data={"splits": ["c3", "c4"]}))
    assert "data.splits must be a mapping" in msg and "valid: [chr2]" in msg
    cfg = run_config(tiny_data)
    cfg["data"]["tracks"][0]["pool"] = "max"
    path = tiny_data / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    msg = _error(path)
    assert "data.tracks[0].pool must be one of sum, mean" in msg and "'max'" in msg
    assert "model.pool must be one of sum, mean" in _error(
        path, ["--data.tracks.0.pool", "sum", "--model.pool", "max"]
    )


@pytest.mark.parametrize(
    ("section", "key", "value", "words"),
    [
        ("data", "window", "big", "data.window must be an integer"),
        ("data", "chroms", "c1", "data.chroms must be a list of names"),
        ("train", "lr", [1], "train.lr must be a number"),
        ("train", "compile", "yes please", "train.compile must be true or false"),
        ("model", "aspp", [1, "x"], "model.aspp[1] must be an integer"),
        ("data", "chrom_alias", "chr", "data.chrom_alias must be one of none, add_chr"),
    ],
)
def test_type_errors_name_the_key(tiny_data, section, key, value, words):
    assert words in _error(_write(tiny_data, **{section: {key: value}}))


def test_yaml_strings_that_are_numbers_are_read_as_numbers(tiny_data):
    # PyYAML reads 1e-3 as text; the typed float field still gets a number.
    path = tiny_data / "cfg.yaml"
    path.write_text(_write(tiny_data).read_text().replace("lr: 0.005", "lr: 1e-3"))
    assert load_config(path).train.lr == 0.001


def test_derived_model_keys_keep_strand_pairs(tiny_config):
    cfg = load_config(tiny_config)
    model = build_model(cfg)
    assert model.config["strand_pairs"] == [0, 2, 1]
    assert (model.config["n_tracks"], model.config["crop"]) == (3, 128)
    assert cfg.checkpoint_spec()["model"] == cfg.model_kwargs()


def test_receptive_field_from_a_config_keeps_strand_pairs(tiny_config):
    # The CLI used to rebuild the model itself and dropped strand_pairs.
    import argparse

    from genodil.cli import _model_from

    model = _model_from(argparse.Namespace(config=str(tiny_config), checkpoint=None))
    assert model.config["strand_pairs"] == [0, 2, 1]


def test_dumped_config_loads_back_equal(tiny_config, tmp_path):
    cfg = load_config(tiny_config, ["--train.max_time", "2h", "--model.dilations.blocks", "4"])
    again = tmp_path / "config.yaml"
    again.write_text(cfg.dump())
    assert load_config(again) == cfg


def test_command_line_paths_resolve_against_data_root(tiny_data, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = load_config(
        tiny_data / "run.yaml" if (tiny_data / "run.yaml").exists() else _write(tiny_data),
        ["--data.blacklist", "b.bed"],
    )
    assert cfg.data["blacklist"] == str(tmp_path / "b.bed")
    cfg = load_config(_write(tiny_data), ["--data.blacklist", "b.bed"], data_root=tiny_data)
    assert cfg.data["blacklist"] == str(tiny_data / "b.bed")


def test_every_section_key_has_a_type_and_the_model_derived_keys_are_hidden():
    model = section_params("model")
    assert "strand_pairs" not in model and "n_tracks" not in model and "channels" in model
    assert section_params("data")["fasta"].required
    assert section_params("train")["max_time"].default is None


def test_docs_config_md_is_generated_and_up_to_date():
    from genodil.config.reference import config_reference

    path = Path(__file__).resolve().parents[1] / "docs" / "config.md"
    assert path.read_text() == config_reference(), (
        "docs/config.md is out of date: run `python -m genodil.config.reference docs/config.md`"
    )
    text = path.read_text()
    for section in ("data", "model", "train"):
        for key in section_params(section):
            assert f"| `{key}` |" in text


def test_reference_refuses_an_undocumented_key(monkeypatch):
    from genodil.config import reference
    from genodil.train.settings import TrainSettings

    doc = TrainSettings.__doc__.replace("    seed : int\n", "    sed : int\n")
    monkeypatch.setattr(TrainSettings, "__doc__", doc)
    with pytest.raises(ValueError, match=r"train\.seed"):
        reference.config_reference()


def test_docstring_params_reads_grouped_names():
    from genodil.config.reference import docstring_params

    doc = """Title.

    Parameters
    ----------
    a, b : int
        Shared text
        on two lines.
    c : {"x", "y"}

    Returns
    -------
    d : int
        Not a parameter.
    """
    assert docstring_params(doc) == {
        "a": "Shared text on two lines.",
        "b": "Shared text on two lines.",
        "c": '{"x", "y"}',
    }
