"""genodil.train.evaluate against a slow per-window reference on real FASTA and bigWig files."""

from __future__ import annotations

import json

import numpy as np
import pyBigWig
import pyfaidx
import pytest
import torch

from genodil.config import build_datamodule
from genodil.errors import InputError
from genodil.train.evaluate import evaluate
from genodil.train.io import load_model

PNG = b"\x89PNG\r\n\x1a\n"


def _one_hot(seq: str) -> np.ndarray:
    """(4, L) float32, rows A, C, G, T; any other base is an all-zero column."""
    return np.stack(
        [np.frombuffer(seq.upper().encode(), "S1") == b for b in (b"A", b"C", b"G", b"T")]
    )


def _reference(run, tiny_data, windows) -> tuple[np.ndarray, np.ndarray]:
    """Predicted and observed signal, shape (T, n_windows * L_out), one window at a time."""
    loaded = load_model(run)
    fasta = pyfaidx.Fasta(str(tiny_data / "genome.fa"))
    bigwigs = [pyBigWig.open(str(tiny_data / f"{name}.bw")) for name in loaded.track_names]
    preds, targets = [], []
    for chrom, start, end in windows:
        x = torch.from_numpy(_one_hot(str(fasta[chrom][start:end])).astype(np.float32))
        with torch.no_grad():
            preds.append(loaded.model(x[None])["signal"][0].double().numpy())
        lo, hi = start + loaded.crop, end - loaded.crop
        values = np.array([bw.values(chrom, lo, hi) for bw in bigwigs], dtype=np.float64)
        targets.append(np.nan_to_num(values))
    for bw in bigwigs:
        bw.close()
    return np.concatenate(preds, axis=1), np.concatenate(targets, axis=1)


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1])


def _bin_sums(x: np.ndarray, n_windows: int, size: int) -> np.ndarray:
    """Sum each window's values into ``size``-bp bins; shape (T, n_windows * n_bins)."""
    t = x.shape[0]
    per_window = x.reshape(t, n_windows, -1)
    n_bins = per_window.shape[-1] // size
    return (
        per_window[..., : n_bins * size].reshape(t, n_windows, n_bins, size).sum(-1).reshape(t, -1)
    )


def test_metrics_match_a_per_window_reference(trained_run, trained_data, tmp_path):
    out = tmp_path / "eval" / "metrics.json"
    result = evaluate(
        trained_run, split="test", out=out, batch_size=3, device="cpu", progress=False
    )
    # The evaluation tiling itself is checked in tests/data/test_eval_tiling.py.
    table = build_datamodule(load_model(trained_run).data).windows("test")
    windows = list(zip(table["chrom"], table["start"], table["end"], strict=True))
    assert {c for c, _, _ in windows} == {"c4"}
    assert result["n_windows"] == len(windows)
    pred, obs = _reference(trained_run, trained_data, windows)
    for t, name in enumerate(["peak", "plus", "minus"]):
        got = result["tracks"][name]
        assert got["pearson"] == pytest.approx(_pearson(pred[t], obs[t]), abs=1e-5)
        p32, o32 = _bin_sums(pred, len(windows), 32), _bin_sums(obs, len(windows), 32)
        assert got["pearson_bin32"] == pytest.approx(_pearson(p32[t], o32[t]), abs=1e-5)
    mean = np.mean([result["tracks"][n]["pearson"] for n in result["tracks"]])
    assert result["mean"]["pearson"] == pytest.approx(mean)
    assert result["split"] == "test"
    assert json.loads(out.read_text()) == json.loads(json.dumps(result))


def test_batch_size_does_not_change_metrics(trained_run):
    one = evaluate(trained_run, batch_size=1, device="cpu", progress=False)
    many = evaluate(trained_run, batch_size=5, device="cpu", progress=False)
    for name, metrics in one["tracks"].items():
        for key, value in metrics.items():
            assert many["tracks"][name][key] == pytest.approx(value, abs=1e-5), (name, key)


def test_plots_are_written_as_png(trained_run, tmp_path):
    result = evaluate(trained_run, plots=tmp_path / "plots", device="cpu", progress=False)
    names = sorted(p.name for p in (tmp_path / "plots").iterdir())
    assert names == ["scatter_bin128.png", "tracks.png"]
    assert sorted(result["plots"]) == sorted(str(tmp_path / "plots" / n) for n in names)
    for name in names:
        assert (tmp_path / "plots" / name).read_bytes()[:8] == PNG


def test_valid_split_and_unknown_split(trained_run):
    valid = evaluate(trained_run, split="valid", device="cpu", progress=False)
    table = build_datamodule(load_model(trained_run).data).windows("valid")
    assert valid["split"] == "valid" and valid["n_windows"] == len(table)
    assert set(table["chrom"]) == {"c3"}
    with pytest.raises(InputError, match=r"unknown split 'tset'"):
        evaluate(trained_run, split="tset", device="cpu", progress=False)
