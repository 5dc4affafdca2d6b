"""genodil.train.io: finding and loading checkpoints, and refusing what is not one."""

from __future__ import annotations

import shutil

import pytest
import torch

from genodil.errors import InputError
from genodil.models import DilatedResNet
from genodil.train.io import find_checkpoint, load_model


def test_find_checkpoint_prefers_best_then_last(trained_run, tmp_path):
    ckpts = trained_run / "checkpoints"
    assert find_checkpoint(trained_run) == ckpts / "best.ckpt"
    assert find_checkpoint(ckpts / "last.ckpt") == ckpts / "last.ckpt"  # a file is taken as is
    only_last = tmp_path / "only_last"
    (only_last / "checkpoints").mkdir(parents=True)
    shutil.copy(ckpts / "last.ckpt", only_last / "checkpoints" / "last.ckpt")
    assert find_checkpoint(only_last) == only_last / "checkpoints" / "last.ckpt"


def test_find_checkpoint_raises_for_empty_folder_and_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"holds no checkpoints/best.ckpt or last.ckpt"):
        find_checkpoint(tmp_path)
    with pytest.raises(InputError, match=r"nope.ckpt does not exist"):
        find_checkpoint(tmp_path / "nope.ckpt")


def test_load_model_rebuilds_the_trained_network(trained_run, trained_data):
    loaded = load_model(trained_run)
    assert loaded.track_names == ["peak", "plus", "minus"]
    assert (loaded.window, loaded.crop, loaded.bin_size) == (1024, 128, 1)
    # plus and minus are each other's strand pair; peak pairs with itself
    assert list(loaded.strand_pairs) == [0, 2, 1]
    assert loaded.path == trained_run / "checkpoints" / "best.ckpt"
    assert loaded.data["fasta"] == str(trained_data / "genome.fa")
    assert isinstance(loaded.model, DilatedResNet) and not loaded.model.training
    state = torch.load(loaded.path, map_location="cpu", weights_only=True)["state_dict"]
    weights = loaded.model.state_dict()
    assert weights.keys() == {k.removeprefix("model.") for k in state if k.startswith("model.")}
    for name, value in weights.items():
        torch.testing.assert_close(value, state[f"model.{name}"], rtol=0, atol=0)


def test_loaded_data_is_a_copy(trained_run):
    loaded = load_model(trained_run)
    loaded.data["window"] = 7
    assert loaded.data["window"] == 1024


def test_load_model_refuses_files_that_are_not_genodil_checkpoints(trained_run, tmp_path):
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(b"not a checkpoint at all")
    with pytest.raises(InputError, match=r"cannot read checkpoint .*garbage.ckpt"):
        load_model(garbage)
    half = tmp_path / "half.ckpt"
    data = (trained_run / "checkpoints" / "best.ckpt").read_bytes()
    half.write_bytes(data[: len(data) // 2])  # what a kill during a plain write leaves
    with pytest.raises(InputError, match=r"cannot read checkpoint .*half.ckpt"):
        load_model(half)
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(InputError, match=r"not a genodil checkpoint"):
        load_model(foreign)


class _Payload:
    """An arbitrary pickled object: loading it would run code from the file."""


def test_load_model_never_unpickles_arbitrary_objects(trained_run, tmp_path):
    ckpt = torch.load(trained_run / "checkpoints" / "best.ckpt", weights_only=True)
    ckpt["extra"] = _Payload()
    path = tmp_path / "unsafe.ckpt"
    torch.save(ckpt, path)
    with pytest.raises(InputError, match=r"cannot read checkpoint .*unsafe.ckpt"):
        load_model(path)
