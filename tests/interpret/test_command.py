"""`genodil interpret` end to end: arrays, BED, contribution bigWigs, figures, errors."""

import numpy as np
import pyBigWig
import pytest

from genodil.cli import main
from tests.helpers import random_seq, write_bed, write_fasta
from tests.interpret.models import small_resnet, write_checkpoint

pytest.importorskip("tangermeme")
pytest.importorskip("logomaker")

WINDOW = 200


@pytest.fixture
def setup(tmp_path):
    fasta = write_fasta(tmp_path / "g.fa", {"c1": random_seq(600, 1), "c2": random_seq(300, 2)})
    model = small_resnet(n_tracks=2, crop=20)
    ckpt = write_checkpoint(tmp_path / "m.ckpt", model, ["plus", "minus"], WINDOW, fasta)
    return tmp_path, fasta, ckpt


def _run(ckpt, out, *extra):
    return main(["interpret", "--checkpoint", str(ckpt), "--out", str(out), "--quiet", *extra])


def test_interpret_writes_modisco_arrays_bed_and_projected_bigwig(setup):
    tmp, _, ckpt = setup
    # two overlapping regions, one near a chromosome end (its interval holds N past the end)
    bed = write_bed(tmp / "r.bed", [("c1", 300, 340), ("c1", 320, 350), ("c2", 260, 300)])
    out = tmp / "out"
    assert _run(ckpt, out, "--regions", str(bed), "--method", "gradxinput", "--flank", "30") == 0
    ohe = np.load(out / "ohe.npz")["arr_0"]
    width = 40 + 2 * 30
    assert ohe.shape == (3, 4, width)
    rows = [line.split("\t") for line in (out / "regions.bed").read_text().splitlines()]
    assert [r[3] for r in rows] == ["c1:300-340", "c1:320-350", "c2:260-300"]
    assert [int(r[1]) for r in rows] == [270, 285, 200]  # centred, shifted inside c2
    for target in ("plus", "minus"):
        hyp = np.load(out / target / "shap.npz")["arr_0"]
        assert hyp.shape == ohe.shape and np.abs(hyp).max() > 0
        projected = (hyp * ohe).sum(1)
        with pyBigWig.open(str(out / target / "contrib.bw")) as bw:
            got = np.array(bw.values("c1", 270, 370))
            # the first interval is written whole; the second only past its end
            np.testing.assert_allclose(got[:100], projected[0], rtol=1e-6, atol=1e-7)
            got2 = np.array(bw.values("c1", 370, 385))
            np.testing.assert_allclose(got2, projected[1, 85:100], rtol=1e-6, atol=1e-7)
            np.testing.assert_allclose(bw.values("c2", 200, 300), projected[2], rtol=1e-6)
        assert (out / target / "logo.png").stat().st_size > 0
    assert '"method": "gradxinput"' in (out / "interpret.json").read_text()
    # a rerun into the same folder is refused without --overwrite
    assert _run(ckpt, out, "--regions", str(bed)) == 2
    assert not list(out.rglob(".*tmp*"))


def test_interpret_ism_heatmap_and_sequences(setup):
    tmp, _, ckpt = setup
    seqs = write_fasta(tmp / "s.fa", {"a": random_seq(50, 7), "b": random_seq(50, 8)})
    out = tmp / "ism"
    code = _run(ckpt, out, "--sequences", str(seqs), "--method", "ism", "--track", "all")
    assert code == 0
    raw = np.load(out / "all" / "ism.npz")["arr_0"]
    assert raw.shape == (2, 4, WINDOW)  # 50 + 2 x 100 flank, capped at the window
    assert (out / "all" / "ism.png").stat().st_size > 0
    with pyBigWig.open(str(out / "all" / "contrib.bw")) as bw:
        assert bw.chroms() == {"a": 50, "b": 50}


@pytest.mark.parametrize("region", ["c2:250-310", "c1:-5-20", "c9:1-10"])
def test_interpret_rejects_regions_outside_the_chromosome(setup, region, capsys):
    tmp, _, ckpt = setup
    assert _run(ckpt, tmp / "bad", "--region", region) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert region.split(":")[0] in err
    assert not (tmp / "bad" / "ohe.npz").exists()


def test_interpret_deepliftshap_default_method(setup):
    tmp, _, ckpt = setup
    out = tmp / "dls"
    code = _run(ckpt, out, "--region", "c1:100-140", "--track", "plus", "--n-shuffles", "4")
    assert code == 0
    hyp = np.load(out / "plus" / "shap.npz")["arr_0"]
    assert hyp.shape == (1, 4, WINDOW)  # 40 + 2 x 100 flank, capped at the window


def test_modisco_lite_reads_the_arrays_in_their_layout(setup):
    from modiscolite.cli import _load_input

    tmp, _, ckpt = setup
    bed = write_bed(tmp / "r.bed", [("c1", 100, 140), ("c1", 400, 440)])
    out = tmp / "m"
    assert _run(ckpt, out, "--regions", str(bed), "--method", "gradxinput", "--flank", "30") == 0
    seqs, attrs = _load_input(out / "ohe.npz"), _load_input(out / "plus" / "shap.npz")
    assert seqs.shape == attrs.shape == (2, 4, 100)  # (N, 4, L): what `modisco motifs` slices
    assert (seqs.sum(1) == 1).all()


@pytest.mark.slow
def test_modisco_motifs_command_runs_on_interpret_outputs(tmp_path):
    """The real `modisco motifs` CLI on interpret's ohe.npz/shap.npz (numba compiles: slow)."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    exe = shutil.which("modisco") or str(Path(sys.executable).parent / "modisco")
    fasta = write_fasta(tmp_path / "g.fa", {"c1": random_seq(20000, 1)})
    ckpt = write_checkpoint(tmp_path / "m.ckpt", small_resnet(1), ["t"], WINDOW, fasta)
    bed = write_bed(tmp_path / "r.bed", [("c1", s, s + 100) for s in range(100, 19800, 400)])
    out = tmp_path / "o"
    assert _run(ckpt, out, "--regions", str(bed), "--method", "gradxinput", "--flank", "50") == 0
    cmd = [exe, "motifs", "-s", str(out / "ohe.npz"), "-a", str(out / "t" / "shap.npz")]
    cmd += ["-n", "2000", "-w", "200", "-o", str(tmp_path / "m.h5")]
    done = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "m.h5").exists()


def test_marginalize_command_writes_table_profiles_and_spacing(setup):
    import pandas as pd

    tmp, _, ckpt = setup
    out = tmp / "marg"
    args = ["marginalize", "--checkpoint", str(ckpt), "--motif", "GATGACTCATC", "--n", "4"]
    args += ["--second-motif", "CACGTG", "--spacing", "20,30", "--out", str(out)]
    args += ["--device", "cpu"]
    assert main(args) == 0
    table = pd.read_csv(out / "marginalize.tsv", sep="\t")
    assert table["track"].tolist() == ["plus", "minus"]
    assert np.load(out / "profiles.npz")["GATGACTCATC"].shape == (2, WINDOW - 40)
    spacing = pd.read_csv(out / "spacing.tsv", sep="\t")
    assert spacing["spacing"].tolist() == [20, 20, 30, 30]
    assert (out / "profile.png").stat().st_size > 0
    assert main([*args[:-2], "--spacing", "2"]) == 2  # overlapping motifs: a clear error


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--jaspar", "martians"], "not a JASPAR taxon"),
        (["--jaspar", "fungi", "--top-peaks", "3"], "exactly one of --regions"),
        (["--jaspar", "fungi", "--track", "nope"], "not a track"),
        (["--jaspar", "fungi", "--peaks-from", "guessed"], "invalid choice"),
    ],
)
def test_motifs_command_rejects_bad_arguments(setup, extra, message, capsys):
    tmp, _, ckpt = setup
    bed = write_bed(tmp / "r.bed", [("c1", 100, 200)])
    args = ["motifs", "--checkpoint", str(ckpt), "--regions", str(bed), "--out", str(tmp / "mo")]
    assert main([*args, *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_motifs_top_observed_peaks_need_the_tracks_bigwig(setup, capsys):
    # a hand-made checkpoint records no bigWig: observed peaks cannot be read, predicted can
    tmp, _, ckpt = setup
    args = ["motifs", "--checkpoint", str(ckpt), "--top-peaks", "3", "--jaspar", "fungi"]
    assert main([*args, "--out", str(tmp / "mo")]) == 2
    err = capsys.readouterr().err
    assert "--peaks-from predicted" in err and "Traceback" not in err
