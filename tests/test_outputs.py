"""genodil.outputs: atomic writes, leftovers, collisions and unwritable places (exit 2).

How an unwritable location is made without root or mounts: these tests run as root, where
``chmod 0o500`` does not stop a write. A path whose parent is a *regular file*
(``some_file/out.bw``) fails for everyone, root included, with ENOTDIR, and it is the case that
made ``pyBigWig.open(path, "w")`` segfault. The chmod variant runs only when not root. A full
disk is injected in process: a writer that raises ``OSError(ENOSPC)`` after N bytes.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from genodil.errors import InputError
from genodil.outputs import (
    atomic_output,
    atomic_outputs,
    check_outputs,
    clean_stale_temps,
    ensure_writable_dir,
    output_error,
    scratch_dir,
    temp_path,
    write_atomic,
)
from genodil.predict.npz import NpyStream
from tests.conftest import write_learnable_data
from tests.helpers import write_vcf

ROOT = Path(__file__).resolve().parents[1]
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob(".*"))


# --------------------------------------------------------------------------- the helper


def test_renames_on_success_and_leaves_no_temp(tmp_path):
    out = tmp_path / "sub" / "scores.tsv"
    with atomic_output(out) as tmp:
        assert tmp.parent == out.parent
        assert tmp.name == f".scores.tsv.tmp-{os.getpid()}"
        assert tmp.exists() and not out.exists()
        tmp.write_text("a\n")
    assert out.read_text() == "a\n"
    assert _hidden(tmp_path) == []


@pytest.mark.parametrize("exc", [RuntimeError("boom"), KeyboardInterrupt(), SystemExit(3)])
def test_exception_removes_temp_and_keeps_old_output(tmp_path, exc):
    out = tmp_path / "scores.tsv"
    out.write_text("old\n")
    with pytest.raises(type(exc)), atomic_output(out) as tmp:
        tmp.write_text("half")
        raise exc
    assert out.read_text() == "old\n"
    assert _hidden(tmp_path) == []


def test_group_renames_all_or_nothing(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    with pytest.raises(RuntimeError), atomic_outputs([a, b]) as (ta, tb):
        ta.write_text("a")
        raise RuntimeError
    assert not a.exists() and not b.exists()
    with atomic_outputs([a, b]) as (ta, tb):
        ta.write_text("a")
        tb.write_text("b")
    assert (a.read_text(), b.read_text()) == ("a", "b")
    assert _hidden(tmp_path) == []


def test_sigterm_removes_temp(tmp_path):
    out = tmp_path / "x.bin"
    script = textwrap.dedent(
        f"""
        import os, signal
        from genodil.outputs import atomic_output
        with atomic_output({str(out)!r}) as tmp:
            tmp.write_bytes(b"x" * 100)
            os.kill(os.getpid(), signal.SIGTERM)
            raise AssertionError("SIGTERM did not interrupt")
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 128 + signal.SIGTERM, proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_stale_temps_of_killed_runs_are_removed(tmp_path):
    out = tmp_path / "pred.npz"
    dead = _dead_pid()
    stale_file = tmp_path / f".pred.npz.tmp-{dead}"
    stale_dir = tmp_path / f".pred.npz.parts-{dead}"
    stale_file.write_bytes(b"half")
    stale_dir.mkdir()
    (stale_dir / "0.npy").write_bytes(b"x")
    alive = tmp_path / ".pred.npz.tmp-1"  # pid 1 exists: maybe a concurrent run, keep it
    other = tmp_path / f".other.npz.tmp-{dead}"  # another output's leftover, not ours
    alive.write_bytes(b"")
    other.write_bytes(b"")
    write_atomic(out, b"new")
    assert not stale_file.exists() and not stale_dir.exists()
    assert alive.exists() and other.exists()
    assert out.read_bytes() == b"new"
    assert clean_stale_temps(out) == []


def test_scratch_dir_is_always_removed(tmp_path):
    out = tmp_path / "t.npz"
    with pytest.raises(KeyboardInterrupt), scratch_dir(out) as parts:
        assert parts.name == f".t.npz.parts-{os.getpid()}"
        (parts / "0.npy").write_bytes(b"x")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- collisions


def test_check_outputs_collisions(tmp_path):
    a = tmp_path / "a.npz"
    with pytest.raises(InputError, match=r"--npz and bigWig of track x are the same file"):
        check_outputs({"bigWig of track x": a, "--npz": tmp_path / "." / "a.npz"})
    with pytest.raises(InputError, match="temporary name"):
        check_outputs({"--out": a, "--npz": temp_path(a)})
    check_outputs({"--out": a, "--npz": None, "--save-tracks": tmp_path / "b.npz"})


def test_check_outputs_file_vs_directory(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "f").write_text("")
    with pytest.raises(InputError, match=r"--out .*d is an existing directory"):
        check_outputs({"--out": tmp_path / "d"})
    with pytest.raises(InputError, match=r"--out .*f is an existing file"):
        check_outputs({}, {"--out": tmp_path / "f"})
    with pytest.raises(InputError, match="is an existing directory"), atomic_output(tmp_path / "d"):
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d", "f"]


def test_check_outputs_refuses_overwrite_unless_asked(tmp_path):
    out = tmp_path / "m.json"
    out.write_text("{}")
    with pytest.raises(InputError, match="--overwrite"):
        check_outputs({"--out": out}, overwrite=False)
    check_outputs({"--out": out}, overwrite=True)


# --------------------------------------------------------------------------- unwritable, full


def test_path_under_a_regular_file_is_an_input_error(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    with pytest.raises(InputError, match="regular file"):
        ensure_writable_dir(blocker / "sub")
    with pytest.raises(InputError, match="blocker"):
        check_outputs({"--out": blocker / "sub" / "x.tsv"}, writable=True)
    with pytest.raises(InputError, match="blocker"), atomic_output(blocker / "x.bw"):
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker"]


@pytest.mark.skipif(IS_ROOT, reason="root writes into a chmod 0o500 folder anyway")
def test_read_only_folder_is_an_input_error(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(InputError, match="permission denied"):
            ensure_writable_dir(ro)
        with pytest.raises(InputError, match="permission denied"), atomic_output(ro / "x.tsv"):
            pass
    finally:
        ro.chmod(0o700)
    assert list(ro.iterdir()) == []


def test_check_does_not_create_folders(tmp_path):
    check_outputs(
        {"--out": tmp_path / "a" / "b" / "x.tsv"}, {"--plots": tmp_path / "p"}, writable=True
    )
    assert list(tmp_path.iterdir()) == []


class _FullDisk:
    """A file object that accepts ``limit`` bytes, then fails like a full disk."""

    def __init__(self, fh, limit: int) -> None:
        self.fh, self.left = fh, limit

    def write(self, data) -> int:
        if len(data) > self.left:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.left -= len(data)
        return self.fh.write(data)


def test_full_disk_is_an_input_error_and_leaves_nothing(tmp_path):
    out = tmp_path / "big.bin"
    out.write_bytes(b"previous")
    full = pytest.raises(InputError, match=r"big\.bin: no space left")
    with full, atomic_output(out, what="--out") as tmp, open(tmp, "wb") as fh:
        disk = _FullDisk(fh, limit=1000)
        for _ in range(100):
            disk.write(b"x" * 100)
    assert out.read_bytes() == b"previous"
    assert _hidden(tmp_path) == []


def test_full_disk_while_saving_variant_tracks(tmp_path, monkeypatch):
    """ENOSPC from the real streaming writer of score-variants --save-tracks, mid-run."""
    from genodil.genome.io import Genome
    from genodil.genome.vcf import read_vcf
    from genodil.predict.variants import score_variants
    from tests.helpers import random_seq, write_fasta, write_vcf

    seq = random_seq(2000, seed=1)
    fasta = write_fasta(tmp_path / "g.fa", {"c1": seq})
    records = [("c1", 500 + 10 * i, f"v{i}", seq[499 + 10 * i], "N") for i in range(6)]
    table = read_vcf(write_vcf(tmp_path / "v.vcf", records))
    written = {"n": 0}
    original = NpyStream.write

    def write(self, chunk):
        written["n"] += 1
        if written["n"] > 4:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        original(self, chunk)

    monkeypatch.setattr(NpyStream, "write", write)
    model = torch.nn.Conv1d(4, 1, 9, padding=4)
    wrapped = _SignalModel(model)
    save = tmp_path / "tracks.npz"
    with pytest.raises(InputError, match=r"tracks\.npz: no space left"):
        score_variants(
            wrapped, Genome(fasta), table, ["t"], window=64, scores="SAD", save_tracks=save,
            batch_size=2, device="cpu", progress=False,
        )  # fmt: skip
    assert _hidden(tmp_path) == []
    assert not save.exists()


class _SignalModel(torch.nn.Module):
    crop = 0
    bin_size = 1

    def __init__(self, conv) -> None:
        super().__init__()
        self.conv = conv

    def forward(self, x):
        return {"signal": torch.nn.functional.softplus(self.conv(x))}


def test_output_error_messages():
    msg = str(output_error(OSError(errno.EROFS, "Read-only file system"), "/x/y.bw", "--out"))
    assert msg.startswith("cannot write --out /x/y.bw") and "read-only" in msg


# --------------------------------------------------------------------------- the CLI


@pytest.fixture(scope="module")
def model_files(tmp_path_factory):
    """A small untrained genodil checkpoint plus the tiny genome, without training."""
    from genodil.models import DilatedResNet

    root = tmp_path_factory.mktemp("outputs_cli")
    data = root / "data"
    write_learnable_data(data)
    kw = {"n_tracks": 2, "channels": 4, "stem_kernel": 5, "dilations": [1, 2], "crop": 16}
    model = DilatedResNet(**kw)
    spec = {
        "model": {**model.config},
        "data": {
            "window": 256,
            "tracks": [{"name": "a", "path": "a.bw"}, {"name": "b", "path": "b.bw", "scale": 2.0}],
        },
        "track_names": ["a", "b"],
        "version": "test",
    }
    state = {f"model.{k}": v for k, v in model.state_dict().items()}
    ckpt = root / "model.ckpt"
    torch.save({"genodil": spec, "state_dict": state}, ckpt)
    other = root / "other.ckpt"
    torch.save({"genodil": spec, "state_dict": {k: v + 1 for k, v in state.items()}}, other)
    return {"ckpt": ckpt, "other": other, "fasta": data / "genome.fa", "root": root}


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "genodil.cli", *map(str, args)]
    return subprocess.run(
        cmd, env=env, capture_output=True, text=True, cwd=cwd, timeout=300, check=False
    )


def _predict(m, out, *extra):
    return _cli(
        "predict", "--checkpoint", m["ckpt"], "--fasta", m["fasta"], "--region", "c1:0-600",
        "--out", out, "--quiet", "--device", "cpu", *extra,
    )  # fmt: skip


def _assert_clean_exit_2(proc):
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("error:") == 1


def test_cli_predict_and_merge_into_unwritable_location(model_files, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    proc = _predict(model_files, blocker / "pred")
    _assert_clean_exit_2(proc)
    assert "blocker" in proc.stderr
    good = tmp_path / "good"
    assert _predict(model_files, good).returncode == 0
    proc = _cli("merge-bigwig", "--out", blocker / "m.bw", good / "a.bw")
    _assert_clean_exit_2(proc)
    assert sorted(p.name for p in tmp_path.rglob("*")) == sorted(
        ["blocker", "good", "a.bw", "b.bw", "manifest.json"]
    )


def test_cli_predict_npz_colliding_with_a_bigwig(model_files, tmp_path):
    out = tmp_path / "pred"
    proc = _predict(model_files, out, "--npz", out / "a.bw")
    _assert_clean_exit_2(proc)
    assert "--npz" in proc.stderr and "same file" in proc.stderr
    assert not out.exists()


def test_cli_predict_manifest_and_model_mixing(model_files, tmp_path):
    out = tmp_path / "pred"
    assert _predict(model_files, out).returncode == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["checkpoint"]["path"] == str(model_files["ckpt"].resolve())
    assert len(manifest["checkpoint"]["sha256"]) == 64
    assert [t["name"] for t in manifest["tracks"]] == ["a", "b"]
    assert manifest["units"] == "track"
    units = [t["units"] for t in manifest["tracks"]]
    assert units[0].startswith("track units") and "no transform" in units[0]
    assert units[1].startswith("track units") and "undid" in units[1]
    assert manifest["regions"] == ["c1:0-600"]
    assert _predict(model_files, out).returncode == 0  # same model again: fine
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    other = {**model_files, "ckpt": model_files["other"]}
    proc = _predict(other, out)
    _assert_clean_exit_2(proc)
    assert "another model" in proc.stderr and "--overwrite" in proc.stderr
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert _predict(other, out, "--overwrite").returncode == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["checkpoint"]["path"] == str(model_files["other"].resolve())


def test_cli_predict_refuses_folder_of_unknown_bigwigs(model_files, tmp_path):
    out = tmp_path / "data"
    out.mkdir()
    (out / "a.bw").write_bytes(b"input track")
    proc = _predict(model_files, out)
    _assert_clean_exit_2(proc)
    assert "without a manifest.json" in proc.stderr
    assert (out / "a.bw").read_bytes() == b"input track"


def test_cli_predict_out_is_a_file(model_files, tmp_path):
    out = tmp_path / "pred"
    out.write_text("x")
    proc = _predict(model_files, out)
    _assert_clean_exit_2(proc)
    assert "existing file" in proc.stderr


def _score(m, tmp_path, out, *extra):
    from tests.helpers import write_vcf

    vcf = write_vcf(tmp_path / "v.vcf", [("c1", 300, "v1", "N", "A")])
    return _cli(
        "score-variants", "--checkpoint", m["ckpt"], "--fasta", m["fasta"], "--vcf", vcf,
        "--out", out, "--quiet", "--device", "cpu", *extra,
    )  # fmt: skip


def test_cli_score_variants_save_tracks_equal_to_out(model_files, tmp_path):
    out = tmp_path / "s.tsv"
    out.write_text("keep")
    proc = _score(model_files, tmp_path, out, "--save-tracks", out)
    _assert_clean_exit_2(proc)
    assert "--save-tracks and --out are the same file" in proc.stderr
    assert out.read_text() == "keep"
    proc = _score(model_files, tmp_path, out, "--save-tracks", tmp_path / "s.skipped.tsv")
    _assert_clean_exit_2(proc)
    assert "skipped table" in proc.stderr


def test_cli_score_variants_out_is_a_directory(model_files, tmp_path):
    (tmp_path / "scores.tsv").mkdir()
    proc = _score(model_files, tmp_path, tmp_path / "scores.tsv")
    _assert_clean_exit_2(proc)
    assert "existing directory" in proc.stderr


def test_skipped_tables_of_parquet_and_tsv_gz_differ(tmp_path):
    from genodil.predict.variants import skipped_path, write_scores

    scored = pd.DataFrame({"chrom": ["c1"], "pos": [1], "SAD_a": [0.5]})
    skipped = pd.DataFrame({"chrom": ["c1"], "pos": [2], "reason": ["x"]})
    pytest.importorskip("pyarrow")
    paths = {
        n: write_scores(scored, skipped, tmp_path / n) for n in ("s.parquet", "s.tsv.gz", "s.tsv")
    }
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(
        [
            "s.parquet",
            "s.parquet.skipped.tsv",
            "s.tsv.gz",
            "s.tsv.gz.skipped.tsv",
            "s.tsv",
            "s.skipped.tsv",
        ]
    )
    assert paths["s.tsv"][1] == skipped_path(tmp_path / "s.tsv") == tmp_path / "s.skipped.tsv"
    assert np.all(pd.read_csv(tmp_path / "s.tsv.gz", sep="\t")["SAD_a"] == 0.5)


def test_c_writer_failing_on_a_full_disk_is_an_input_error(tmp_path, monkeypatch):
    """pyBigWig reports a full disk as a bare RuntimeError; the helper checks the free space."""
    from genodil import outputs

    monkeypatch.setattr(outputs, "_disk_full", lambda folder: True)
    with pytest.raises(InputError, match=r"x\.bw: no space left"), atomic_output(tmp_path / "x.bw"):
        raise RuntimeError("Received an error while writing the bigWig header")
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(outputs, "_disk_full", lambda folder: False)
    with pytest.raises(RuntimeError), atomic_output(tmp_path / "x.bw"):
        raise RuntimeError("a bug, not the disk")


def test_cli_simulate_under_a_file_is_exit_2(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    proc = _cli("simulate", "--out", blocker / "sim")
    _assert_clean_exit_2(proc)
    assert "blocker" in proc.stderr
    assert list(tmp_path.iterdir()) == [blocker]


def test_cli_evaluate_out_is_a_directory(model_files, tmp_path):
    (tmp_path / "metrics.json").mkdir()
    proc = _cli("evaluate", "--checkpoint", model_files["ckpt"], "--out", tmp_path / "metrics.json")
    _assert_clean_exit_2(proc)
    assert "existing directory" in proc.stderr


def test_cli_predict_units_track_and_model(model_files, tmp_path):
    import pyBigWig

    track, model = tmp_path / "track", tmp_path / "model"
    assert _predict(model_files, track).returncode == 0
    proc = _predict(model_files, model, "--units", "model")
    assert proc.returncode == 0 and "values in model units" in proc.stdout
    assert json.loads((model / "manifest.json").read_text())["units"] == "model"
    vals = {}
    for folder in (track, model):
        for name in ("a", "b"):
            with pyBigWig.open(str(folder / f"{name}.bw")) as bw:
                vals[folder.name, name] = np.array(bw.values("c1", 100, 300))
    np.testing.assert_allclose(vals["track", "a"], vals["model", "a"])  # no transform
    np.testing.assert_allclose(vals["track", "b"], vals["model", "b"] / 2.0, rtol=1e-6)  # scale 2


def test_cli_score_variants_vcf_output_counts_and_units(model_files, tmp_path):
    import pysam

    from genodil.genome.io import Genome

    seq = Genome(model_files["fasta"]).fetch("c1", 0, 400)
    base = "ACGTN"[seq[299]]
    vcf = write_vcf(
        tmp_path / "v.vcf",
        [
            ("c1", 300, "rs1", base, "A,C" if base not in "AC" else "G,T"),
            ("c9", 5, "rs2", "A", "C"),
        ],
    )
    out = tmp_path / "s.vcf"
    proc = _cli(
        "score-variants", "--checkpoint", model_files["ckpt"], "--vcf", vcf, "--out", out,
        "--fasta", model_files["fasta"], "--quiet", "--device", "cpu",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "of 3 alleles (2 records): scored 2 alleles (1 record), skipped 1 allele" in proc.stdout
    units = json.loads((tmp_path / "s.vcf.units.json").read_text())
    assert units["units"] == "track" and "undid scale=2" in units["tracks"]["b"]
    with pysam.VariantFile(str(out)) as vf:
        recs = list(vf)
    assert len(recs) == 2 and len(recs[0].info["SAD_b"]) == 2 and "SAD_b" not in recs[1].info
