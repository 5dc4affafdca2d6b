"""predict_regions / predict_sequences: stitched tiles, bigWig values, atomic writes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyBigWig
import pytest
import torch

from genodil.errors import InputError
from genodil.genome.encode import encode, one_hot
from genodil.genome.io import Genome
from genodil.predict import (
    merge_regions,
    predict_regions,
    predict_sequences,
    regions_from_bed,
    regions_from_strings,
    whole_genome_regions,
)
from tests.helpers import random_seq, write_bed, write_fasta
from tests.predict.toy_models import (
    FailingModel,
    KernelModel,
    MotifCounter,
    SmoothNet,
    integer_weight,
    motif_starts,
    reference_track,
)

SEQS = {"c1": random_seq(1000, seed=1), "c2": random_seq(237, seed=2), "c3": random_seq(90, 3)}


@pytest.fixture
def genome(tmp_path):
    return Genome(write_fasta(tmp_path / "g.fa", SEQS))


def _read(path, chrom, start, end):
    bw = pyBigWig.open(str(path))
    try:
        return bw.values(chrom, start, end, numpy=True)
    finally:
        bw.close()


def test_predict_regions_values_match_slow_reference(genome, tmp_path):
    weight = integer_weight(2, 7, seed=3)
    model = KernelModel(weight, crop=6)
    regions = [("c1", 0, 130), ("c1", 100, 260), ("c1", 900, 1000), ("c2", 5, 17), ("c3", 0, 90)]
    out = predict_regions(
        model, genome, regions, tmp_path / "out", ["t0", "t1"], window=40, batch_size=3
    )
    assert set(out) == {"t0", "t1"}
    for chrom, seq in SEQS.items():
        ref = reference_track(seq, weight)  # (T, len)
        covered = np.zeros(len(seq), bool)
        for c, s, e in regions:
            if c == chrom:
                covered[s:e] = True
        for t, name in enumerate(["t0", "t1"]):
            got = _read(out[name], chrom, 0, len(seq))
            np.testing.assert_array_equal(got[covered], ref[t][covered])
            assert np.isnan(got[~covered]).all()
    bw = pyBigWig.open(str(out["t0"]))
    assert bw.chroms() == {c: len(s) for c, s in SEQS.items()}
    bw.close()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["t0.bw", "t1.bw"]


def test_predict_regions_equals_each_window_alone(genome, tmp_path):
    """Every base equals the prediction of a window predicted alone, placed at that base."""
    model = SmoothNet(n_tracks=2, crop=8)
    window = 48
    out = predict_regions(
        model, genome, [("c2", 0, 237)], tmp_path / "o", ["a", "b"], window=window, batch_size=4
    )
    got = np.stack([_read(out[n], "c2", 0, 237) for n in ("a", "b")])  # (T, 237)
    padded = "N" * 8 + SEQS["c2"] + "N" * window
    with torch.no_grad():
        for p in range(237):
            x = torch.from_numpy(one_hot(encode(padded[p : p + window])))[None]  # (1, 4, L)
            alone = model(x)["signal"][0, :, 0].numpy()  # output base 0 = genome base p
            np.testing.assert_allclose(got[:, p], alone, rtol=1e-5, atol=1e-6)


def test_predict_regions_binned_output_spans_bins(genome, tmp_path):
    model = MotifCounter("AC", crop=2, bin_size=5)
    out = predict_regions(model, genome, [("c3", 3, 88)], tmp_path / "o", ["ac"], window=24)
    starts = motif_starts(SEQS["c3"], "AC")
    bw = pyBigWig.open(str(out["ac"]))
    intervals = bw.intervals("c3")
    bw.close()
    # Bins are aligned to multiples of 5 and stop at the chromosome end (90 = 18 bins).
    assert [(s, e) for s, e, _ in intervals] == [(b, b + 5) for b in range(0, 90, 5)]
    for s, e, v in intervals:
        assert v == starts[s:e].sum()


def test_predict_regions_binned_partial_last_bin(tmp_path):
    g = Genome(write_fasta(tmp_path / "g.fa", {"x": "AC" * 11 + "A"}))  # length 23
    model = MotifCounter("AC", crop=2, bin_size=5)
    out = predict_regions(model, g, [("x", 0, 23)], tmp_path / "o", ["ac"], window=24)
    bw = pyBigWig.open(str(out["ac"]))
    intervals = bw.intervals("x")
    bw.close()
    # The last bin covers 20..23 and counts motif starts there, predicted with N beyond 23.
    assert intervals[-1][:2] == (20, 23)
    assert [v for *_, v in intervals] == [3, 2, 3, 2, 1]


def test_interrupted_predict_leaves_no_complete_file(genome, tmp_path):
    out_dir = tmp_path / "o"
    out_dir.mkdir()
    old = out_dir / "t0.bw"
    old.write_bytes(b"previous result")
    model = FailingModel(integer_weight(1, 3), crop=2, fail_at=3)
    with pytest.raises(RuntimeError, match="simulated failure"):
        predict_regions(
            model, genome, [("c1", 0, 1000)], out_dir, ["t0"], window=20, batch_size=2,
            npz=out_dir / "p.npz",
        )  # fmt: skip
    assert sorted(p.name for p in out_dir.iterdir()) == ["t0.bw"]
    assert old.read_bytes() == b"previous result"  # untouched, not half-overwritten
    assert model.training  # training mode restored after the failure


def test_rc_average_is_symmetric(tmp_path):
    """rc-averaged predictions on a genome and on its reverse complement mirror each other."""
    seq = random_seq(300, seed=5)
    rc_seq = seq[::-1].translate(str.maketrans("ACGT", "TGCA"))
    g = Genome(write_fasta(tmp_path / "f.fa", {"f": seq}))
    g_rc = Genome(write_fasta(tmp_path / "r.fa", {"r": rc_seq}))
    model = KernelModel(integer_weight(2, 6, seed=9), crop=5, strand_pairs=[1, 0])
    kw = {"window": 30, "rc_average": True, "progress": False}
    fwd = predict_regions(model, g, [("f", 0, 300)], tmp_path / "a", ["p", "m"], **kw)
    rev = predict_regions(model, g_rc, [("r", 0, 300)], tmp_path / "b", ["p", "m"], **kw)
    f_p, f_m = _read(fwd["p"], "f", 0, 300), _read(fwd["m"], "f", 0, 300)
    r_p, r_m = _read(rev["p"], "r", 0, 300), _read(rev["m"], "r", 0, 300)
    np.testing.assert_array_equal(f_p, r_m[::-1])
    np.testing.assert_array_equal(f_m, r_p[::-1])
    plain = predict_regions(model, g, [("f", 0, 300)], tmp_path / "c", ["p", "m"], window=30)
    assert not np.array_equal(_read(plain["p"], "f", 0, 300), f_p)  # averaging did something


def test_predict_sequences_writes_records_and_npz(tmp_path):
    seqs = {"design1": "GATA" * 10, "hap_alt": random_seq(55, seed=8), "tiny": "GATAG"}
    fa = write_fasta(tmp_path / "s.fa", seqs)
    model = MotifCounter("GATA", crop=3)
    out = predict_sequences(model, fa, tmp_path / "o", ["gata"], window=16, npz=tmp_path / "p.npz")
    with np.load(tmp_path / "p.npz") as z:
        assert sorted(z.files) == ["_bin_size", "_track_names", "design1", "hap_alt", "tiny"]
        assert list(z["_track_names"]) == ["gata"]
        for name, seq in seqs.items():
            expected = motif_starts(seq, "GATA")
            assert z[name].shape == (1, len(seq))
            np.testing.assert_array_equal(z[name][0], expected)
            np.testing.assert_array_equal(_read(out["gata"], name, 0, len(seq)), expected)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_merge_regions_sorts_clips_and_merges(genome):
    regions = pd.DataFrame(
        {
            "chrom": ["c2", "c1", "c1", "c1", "c1"],
            "start": [10, 500, 0, 90, 300],
            "end": [20, 2000, 100, 120, 301],
        }
    )
    merged = merge_regions(regions, genome)
    assert list(merged.itertuples(index=False, name=None)) == [
        ("c1", 0, 120),
        ("c1", 300, 301),
        ("c1", 500, 1000),
        ("c2", 10, 20),
    ]
    binned = merge_regions([("c1", 3, 11), ("c1", 12, 14), ("c2", 231, 236)], genome, bin_size=5)
    assert list(binned.itertuples(index=False, name=None)) == [
        ("c1", 0, 15),
        ("c2", 230, 237),
    ]


def test_merge_regions_bad_input_raises(genome):
    with pytest.raises(InputError, match="'chrX' is not in FASTA"):
        merge_regions([("chrX", 0, 10)], genome)
    with pytest.raises(InputError, match="starts past the end"):
        merge_regions([("c3", 95, 100)], genome)


def test_region_helpers(genome, tmp_path):
    bed = write_bed(tmp_path / "r.bed", [("c1", 5, 10, "peak"), ("c2", 0, 3)])
    assert regions_from_bed(bed).values.tolist() == [["c1", 5, 10], ["c2", 0, 3]]
    assert regions_from_strings(["c1:1,000-2,000"]).values.tolist() == [["c1", 1000, 2000]]
    assert whole_genome_regions(genome).values.tolist() == [
        ["c1", 0, 1000],
        ["c2", 0, 237],
        ["c3", 0, 90],
    ]
    bad = tmp_path / "bad.bed"
    bad.write_text("track name=x\nc1\t5\t10\nc1\tfive\t10\n")
    with pytest.raises(InputError, match=r"bad\.bed, line 3"):
        regions_from_bed(bad)


def test_predict_regions_wrong_output_shape_raises(genome, tmp_path):
    model = KernelModel(integer_weight(1, 3), crop=2)
    with pytest.raises(ValueError, match="expected"):
        predict_regions(model, genome, [("c3", 0, 90)], tmp_path / "o", ["a", "b"], window=20)
    assert not any((tmp_path / "o").iterdir())


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown without CUDA")
def test_cuda_requested_without_cuda_raises(genome, tmp_path):
    model = KernelModel(integer_weight(1, 3), crop=2)
    with pytest.raises(InputError, match="CUDA is not available"):
        predict_regions(model, genome, [("c3", 0, 90)], tmp_path / "o", ["a"], 20, device="cuda")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu(genome, tmp_path):
    model = SmoothNet(n_tracks=2, crop=8)
    kw = {"window": 48, "rc_average": True, "strand_pairs": [1, 0], "precision": "32"}
    cpu = predict_regions(model, genome, [("c1", 0, 1000)], tmp_path / "a", ["p", "m"], **kw)
    gpu = predict_regions(
        model, genome, [("c1", 0, 1000)], tmp_path / "b", ["p", "m"], device="cuda", **kw
    )
    for name in ("p", "m"):
        np.testing.assert_allclose(
            _read(gpu[name], "c1", 0, 1000), _read(cpu[name], "c1", 0, 1000), rtol=1e-4, atol=1e-5
        )
    assert next(model.parameters()).device.type == "cpu"  # moved back


def test_predict_regions_no_regions_raises(genome, tmp_path):
    model = KernelModel(integer_weight(1, 3), crop=2)
    with pytest.raises(InputError, match="no regions"):
        predict_regions(model, genome, [], tmp_path / "o", ["a"], window=20)


def test_predict_regions_writes_track_units(genome, tmp_path):
    from genodil.data.tracks import TrackSpec

    weight = integer_weight(2, 7, seed=3)
    model = KernelModel(weight, crop=6)
    specs = [TrackSpec("t0", "t0.bw", scale=0.5), TrackSpec("t1", "t1.bw")]
    out = predict_regions(
        model, genome, [("c1", 0, 130)], tmp_path / "o", ["t0", "t1"], window=40, track_specs=specs
    )
    ref = reference_track(SEQS["c1"], weight)[:, :130]  # model units
    np.testing.assert_allclose(_read(out["t0"], "c1", 0, 130), 2 * ref[0])  # scale 0.5 undone
    np.testing.assert_array_equal(_read(out["t1"], "c1", 0, 130), ref[1])
