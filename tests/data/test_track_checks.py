"""Track value checks before training (docs/reliability.md): errors and visible warnings."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
import torch

from genodil.data.tracks import TrackSpec, check_track_values
from genodil.errors import InputError
from genodil.train.metrics import TrackMetrics, undefined_to_null
from tests.helpers import write_bigwig

SIZES = {"c1": 500, "c2": 300}


def _spec(tmp_path, values, name="t", scale=1.0) -> TrackSpec:
    path = write_bigwig(tmp_path / f"{name}.bw", values, chrom_sizes=SIZES)
    return TrackSpec(name=name, path=str(path), scale=scale)


def test_negative_values_under_poisson_raise_but_mse_accepts(tmp_path):
    spec = _spec(tmp_path, {"c1": np.full(500, -2.0), "c2": np.ones(300)})
    with pytest.raises(InputError, match=r"negative values \(down to -2 on c1\).*train.loss: mse"):
        check_track_values([spec], ["c1", "c2"], loss="poisson")
    check_track_values([spec], ["c1", "c2"], loss="mse")


def test_empty_track_raises_and_partly_empty_warns(tmp_path, caplog):
    empty = _spec(tmp_path, {}, name="empty")
    with pytest.raises(InputError, match="no values on any training chromosome"):
        check_track_values([empty], ["c1", "c2"])
    half = _spec(tmp_path, {"c1": np.ones(500)}, name="half")
    with caplog.at_level(logging.WARNING):
        check_track_values([half], ["c1", "c2"])
    assert "no values on training chromosome(s) c2" in caplog.text


def test_huge_values_warn_about_scale(tmp_path, caplog):
    spec = _spec(tmp_path, {"c1": np.full(500, 1e9), "c2": np.ones(300)})
    with caplog.at_level(logging.WARNING):
        check_track_values([spec], ["c1", "c2"])
    assert "reaches 1e+09 on c1" in caplog.text
    caplog.clear()
    scaled = _spec(tmp_path, {"c1": np.full(500, 1e9), "c2": np.ones(300)}, "s", scale=1e-6)
    with caplog.at_level(logging.WARNING):
        check_track_values([scaled], ["c1", "c2"])
    assert "reaches" not in caplog.text


def test_constant_track_gives_null_pearson_and_spearman_with_a_note():
    metrics = TrackMetrics(["flat", "live"], bins=(4, 8))
    g = torch.Generator().manual_seed(0)
    pred = torch.rand(2, 2, 64, generator=g)
    target = torch.rand(2, 2, 64, generator=g)
    target[:, 0] = 0.0  # an all-zero observed track
    metrics.update(pred, target)
    out = metrics.compute()
    assert np.isnan(out["flat"]["pearson"]) and np.isnan(out["flat"]["spearman_bin8"])
    assert not np.isnan(out["live"]["spearman_bin8"])
    clean, notes = undefined_to_null(out)
    assert clean["flat"]["pearson"] is None and clean["flat"]["spearman_bin8"] is None
    assert "constant" in notes["flat"] and "live" not in notes
    json.dumps(clean, allow_nan=False)  # strict JSON


def test_relocate_data_moves_every_file_under_the_new_root(tmp_path):
    from genodil.train.evaluate import relocate_data

    data = {
        "fasta": "/old/data/genome.fa",
        "blacklist": "/old/data/bed/bl.bed",
        "regions": None,
        "tracks": [{"name": "a", "path": "/old/data/tracks/a.bw"}],
    }
    moved = relocate_data(data, data_root=tmp_path)
    assert moved["fasta"] == str(tmp_path / "genome.fa")
    assert moved["blacklist"] == str(tmp_path / "bed" / "bl.bed")
    assert moved["tracks"][0]["path"] == str(tmp_path / "tracks" / "a.bw")
    assert data["tracks"][0]["path"] == "/old/data/tracks/a.bw"  # the input is not changed
    assert relocate_data(data, fasta=tmp_path / "g.fa")["fasta"] == str(tmp_path / "g.fa")
