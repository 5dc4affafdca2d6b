"""Learning curves across resumes and the self-contained HTML run report."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pandas as pd
import pytest

from genodil.config import load_config
from genodil.errors import InputError
from genodil.report.curves import plot_learning_curves, read_metrics_history
from genodil.report.html import write_report
from genodil.train.run import train

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _write_log(run: Path, version: int, text: str) -> None:
    folder = run / "logs" / f"version_{version}"
    folder.mkdir(parents=True)
    (folder / "metrics.csv").write_text(text)


def test_read_metrics_history_later_version_wins_and_orders_numerically(tmp_path):
    # version_10 is newer than version_2 (a text sort would put it first).
    _write_log(tmp_path, 0, "epoch,step,train_loss,val_loss\n0,1,5.0,\n0,2,4.0,\n0,2,,3.5\n")
    _write_log(tmp_path, 2, "epoch,step,train_loss,val_loss\n0,2,3.0,\n0,3,2.5,\n")
    _write_log(tmp_path, 10, "epoch,step,train_loss,val_loss\n0,3,2.0,\n0,4,1.5,\n0,4,,1.2\n")
    history = read_metrics_history(tmp_path)
    assert list(history.index) == [1, 2, 3, 4]
    assert history.loc[2, "train_loss"] == 3.0  # version 2 repeated step 2
    assert history.loc[2, "val_loss"] == 3.5  # only version 0 validated at step 2
    assert history.loc[3, "train_loss"] == 2.0  # version 10 beats version 2
    assert history.loc[4, "val_loss"] == 1.2


def test_read_metrics_history_skips_empty_and_missing_logs(tmp_path):
    assert read_metrics_history(tmp_path).empty
    _write_log(tmp_path, 0, "")
    assert read_metrics_history(tmp_path).empty
    assert plot_learning_curves(tmp_path, tmp_path / "curves.png") is None
    assert not (tmp_path / "curves.png").exists()


def test_plot_learning_curves_writes_png(tmp_path):
    rows = "\n".join(f"0,{s},{10 - s / 10},," for s in range(1, 60))
    rows += "\n0,30,,4.0,0.2\n0,59,,3.0,0.4"
    _write_log(tmp_path, 0, "epoch,step,train_loss,val_loss,val_pearson\n" + rows + "\n")
    out = plot_learning_curves(tmp_path, tmp_path / "curves.png")
    assert out == tmp_path / "curves.png"
    assert out.read_bytes().startswith(PNG_MAGIC)
    assert not list(tmp_path.glob(".curves.png.tmp-*"))


@pytest.fixture
def trained_run(tiny_config, tmp_path) -> Path:
    cfg = load_config(tiny_config, ["--train.max_epochs", "1", "--train.limit_train_batches", "4"])
    return train(cfg, tmp_path / "run", progress=False)


def test_report_holds_metrics_table_and_embedded_figures(trained_run, tmp_path):
    scores = tmp_path / "scores.tsv"
    pd.DataFrame(
        {
            "chrom": ["c4", "c4"],
            "pos": [10, 20],
            "id": [".", "rs1"],
            "ref": ["A", "C"],
            "alt": ["G", "T"],
            "SAD_peak": [0.5, -7.25],
            "SAD_plus": [0.0, 1.0],
        }
    ).to_csv(scores, sep="\t", index=False)
    out = write_report(trained_run, tmp_path / "r.html", scores=scores, progress=False)
    text = out.read_text()
    table = re.search(r'<table id="metrics">(.*?)</table>', text, re.DOTALL)
    assert table, "no metrics table"
    for name in ("peak", "plus", "minus", "mean", "pearson", "pearson_bin128"):
        assert f">{name}<" in table.group(1)
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', text)
    # learning curves, tracks, scatter, receptive field
    assert len(images) >= 4
    assert all(base64.b64decode(i).startswith(PNG_MAGIC) for i in images)
    assert 'src="http' not in text and "href=" not in text  # self-contained
    variants = re.search(r'<table id="variants">(.*?)</table>', text, re.DOTALL).group(1)
    assert variants.index("rs1") < variants.index(">.<")  # strongest effect first
    assert "-7.250" in variants


def test_report_reuses_metrics_json_and_rejects_bad_inputs(trained_run, tmp_path):
    metrics = tmp_path / "m.json"
    metrics.write_text(
        '{"split": "test", "n_windows": 3, "tracks": {"peak": {"pearson": 0.123456}}}'
    )
    out = write_report(trained_run, tmp_path / "r.html", metrics=metrics)
    assert ">0.123<" in out.read_text()
    with pytest.raises(InputError, match="no SAD_<track> columns"):
        bad = tmp_path / "bad.tsv"
        bad.write_text("chrom\tpos\nc1\t3\n")
        write_report(trained_run, tmp_path / "r2.html", metrics=metrics, scores=bad)
    assert not (tmp_path / "r2.html").exists()
    with pytest.raises(InputError, match="does not exist"):
        write_report(tmp_path / "nope", tmp_path / "r3.html")
    with pytest.raises(InputError, match="existing directory"):
        write_report(trained_run, tmp_path, metrics=metrics)


def test_training_writes_learning_curves_and_summary_names_best_step(trained_run):
    from genodil.report.curves import training_summary

    assert (trained_run / "learning_curves.png").read_bytes().startswith(PNG_MAGIC)
    lines = training_summary(trained_run, "val_loss", "min")
    history = read_metrics_history(trained_run)
    best_step = int(history["val_loss"].idxmin())
    assert lines[0].startswith("best val_loss: ")
    assert f"at step {best_step} " in lines[0]
    assert any(str(trained_run / "checkpoints" / "best.ckpt") in line for line in lines)
    assert any("learning_curves.png" in line for line in lines)


def test_loaded_model_repr_is_one_line(trained_run):
    from genodil.train.io import load_model

    loaded = load_model(trained_run)
    text = repr(loaded)
    assert "\n" not in text and len(text) < 300
    assert "3 tracks [peak, plus, minus]" in text
    assert f"receptive field {loaded.model.receptive_field:,} bp" in text
    assert "window 1,024 bp" in text and str(loaded.path) in text


def test_loaded_predict_on_strings_in_track_and_model_units(trained_run):
    import numpy as np

    from genodil.genome.encode import encode, one_hot
    from genodil.predict.runner import predict
    from genodil.train.io import load_model

    loaded = load_model(trained_run)
    rng = np.random.default_rng(0)
    seqs = ["".join(rng.choice(list("ACGT"), size=loaded.window)) for _ in range(2)]
    ref = predict(loaded.model, np.stack([one_hot(encode(s)) for s in seqs])).numpy()
    np.testing.assert_allclose(loaded.predict(seqs, units="model"), ref, rtol=1e-6)
    assert loaded.predict(seqs[0]).shape == (1, 3, loaded.window - 2 * loaded.crop)
    # a track trained with scale 0.5 reads back twice as large in track units
    loaded.spec["data"]["tracks"][0]["scale"] = 0.5
    np.testing.assert_allclose(loaded.predict(seqs)[:, 0], 2 * ref[:, 0], rtol=1e-5)
    np.testing.assert_allclose(loaded.predict(seqs)[:, 1:], ref[:, 1:], rtol=1e-6)
    with pytest.raises(InputError, match="same length"):
        loaded.predict([seqs[0], seqs[1][:-1]])


def test_report_command_writes_html_and_rejects_a_missing_run(trained_run, tmp_path):
    import subprocess
    import sys

    metrics = tmp_path / "m.json"
    metrics.write_text('{"split": "test", "n_windows": 1, "tracks": {"peak": {"pearson": 0.5}}}')
    cmd = [sys.executable, "-m", "genodil.cli", "report", str(trained_run)]
    ok = subprocess.run(
        [*cmd, "--out", str(tmp_path / "r.html"), "--metrics", str(metrics), "--quiet"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert f"report written to {tmp_path / 'r.html'}" in ok.stdout
    assert '<table id="metrics">' in (tmp_path / "r.html").read_text()
    bad = subprocess.run(
        [sys.executable, "-m", "genodil.cli", "report", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert str(tmp_path / "nope") in bad.stderr


def test_genome_fasta_defaults_to_the_training_fasta(trained_run, tmp_path):
    from genodil.train.io import load_model

    loaded = load_model(trained_run)
    saved = Path(loaded.data["fasta"])
    assert loaded.genome_fasta() == saved and saved.is_file()
    assert loaded.genome_fasta(tmp_path / "other.fa") == tmp_path / "other.fa"
    saved.rename(tmp_path / "moved.fa")
    with pytest.raises(InputError, match=r"no --fasta given.*pass --fasta"):
        loaded.genome_fasta()
