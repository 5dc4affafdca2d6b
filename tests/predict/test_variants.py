"""score_variants and write_scores: known answers from hand-built models, alignment, skips."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from genodil.errors import InputError
from genodil.genome.encode import encode, one_hot
from genodil.genome.io import Genome
from genodil.genome.vcf import read_vcf
from genodil.predict import predict, score_variants, write_scores
from tests.helpers import random_seq, write_fasta, write_vcf
from tests.predict.toy_models import (
    FarTapModel,
    KernelModel,
    MotifCounter,
    SmoothNet,
    integer_weight,
    reference_track,
)

ALL = ["SAD", "logFC", "maxabs", "JSD"]


def _jsd_loop(ref: list[float], alt: list[float]) -> float:
    """Jensen-Shannon divergence in bits, written out with loops."""
    p = [r / sum(ref) for r in ref]
    q = [a / sum(alt) for a in alt]
    total = 0.0
    for pi, qi in zip(p, q, strict=True):
        mi = (pi + qi) / 2
        if pi > 0:
            total += 0.5 * pi * math.log2(pi / mi)
        if qi > 0:
            total += 0.5 * qi * math.log2(qi / mi)
    return total


@pytest.fixture
def motif_genome(tmp_path):
    """Background without G (so no accidental GATA), GATA planted at 150, 190, 200, 230."""
    rng = np.random.default_rng(0)
    seq = list("".join(rng.choice(list("ACT"), size=400)))
    for p in (150, 190, 200, 230):
        seq[p : p + 4] = "GATA"
    return Genome(write_fasta(tmp_path / "m.fa", {"c1": "".join(seq)}))


def _one(variants) -> pd.DataFrame:
    return pd.DataFrame(variants, columns=["chrom", "pos", "ref", "alt"])


def test_snv_breaking_motif_scores_match_hand_count(motif_genome):
    # window 64, crop 8: the output covers 0-based [p0 - 24, p0 + 24) = [176, 224) for
    # p0 = 200, holding the motifs at 190 and 200; G>C at 200 breaks the second one.
    model = MotifCounter("GATA", crop=8)
    scored, skipped = score_variants(
        model, motif_genome, _one([("c1", 201, "G", "C")]), ["gata"], window=64, scores=ALL
    )
    assert skipped.empty
    row = scored.iloc[0]
    assert row["SAD_gata"] == -1.0
    assert row["logFC_gata"] == pytest.approx(math.log2((1 + 1) / (2 + 1)), abs=1e-12)
    assert row["maxabs_gata"] == 1.0
    assert row["JSD_gata"] == pytest.approx(_jsd_loop([1, 1], [1, 0]), abs=1e-12)
    assert list(scored.columns) == [
        "chrom",
        "pos",
        "id",
        "ref",
        "alt",
        "SAD_gata",
        "logFC_gata",
        "maxabs_gata",
        "JSD_gata",
        "n_padded",
    ]
    assert row["n_padded"] == 0


def test_score_width_limits_to_central_positions(motif_genome):
    model = MotifCounter("GATA", crop=8)
    variants = _one([("c1", 201, "G", "C")])
    narrow, _ = score_variants(
        model, motif_genome, variants, ["gata"], window=64, score_width=5, scores="SAD,logFC"
    )
    # positions [198, 203) hold only the motif start at 200
    assert narrow.loc[0, "SAD_gata"] == -1.0
    assert narrow.loc[0, "logFC_gata"] == -1.0  # log2((0 + 1) / (1 + 1))
    assert list(narrow.columns[5:]) == ["SAD_gata", "logFC_gata", "n_padded"]


def test_binned_model_sad_sums_over_bins(motif_genome):
    model = MotifCounter("GATA", crop=8, bin_size=4)
    scored, _ = score_variants(
        model, motif_genome, _one([("c1", 201, "G", "C")]), ["gata"], window=64, scores=["SAD"]
    )
    assert scored.loc[0, "SAD_gata"] == -1.0


def test_identical_ref_alt_scores_exactly_zero(tmp_path):
    seq = random_seq(500, seed=4)
    g = Genome(write_fasta(tmp_path / "g.fa", {"c1": seq}))
    variants = _one(
        [
            ("c1", 101, seq[100], seq[100]),
            ("c1", 201, seq[200:203], seq[200:203]),
            ("c1", 3, seq[2], seq[2]),  # window padded with N on the left
        ]
    )
    scored, _ = score_variants(SmoothNet(crop=8), g, variants, ["a", "b"], window=49, scores=ALL)
    values = scored.iloc[:, 5:-1].to_numpy()  # scores, not n_padded
    assert values.shape == (3, 8)
    assert (values == 0.0).all()


def _slow_scores(seq, pos, ref, alt, weight, window, crop):
    """Independent loop version of the documented rule; returns (ref_al, alt_al)."""

    def g(i):
        return seq[i] if 0 <= i < len(seq) else "N"

    c = window // 2
    ws = pos - 1 - c
    k = 0
    while k < min(len(ref), len(alt)) and ref[k] == alt[k]:
        k += 1
    m, n = len(ref) - k, len(alt) - k
    while m and n and ref[k + m - 1] == alt[k + n - 1]:
        m, n = m - 1, n - 1
    block = c + k
    ref_win = "".join(g(i) for i in range(ws, ws + window))
    tail = "".join(g(ws + block + m + j) for j in range(window - block - n))
    alt_win = ref_win[:block] + alt[k : k + n] + tail
    assert len(alt_win) == window
    r_out = reference_track(ref_win, weight)[:, crop : window - crop]
    a_out = reference_track(alt_win, weight)[:, crop : window - crop]
    n_out = window - 2 * crop
    ref_al, alt_al = [], []
    for i in range(n_out):
        r = crop + i
        if m == n or r < block:
            j = i
        elif r >= block + m:
            j = i + n - m
        else:
            continue  # deleted (or replaced) reference base: no alternative value
        if 0 <= j < n_out:
            ref_al.append(r_out[:, i])
            alt_al.append(a_out[:, j])
    return np.array(ref_al).T, np.array(alt_al).T


@pytest.mark.parametrize(
    ("kind", "ref_len"), [("insertion", 1), ("deletion", 4), ("mnv", 2), ("complex", 3)]
)
def test_indel_aligned_tracks_match_slow_loop(tmp_path, kind, ref_len):
    seq = random_seq(300, seed=11)
    g = Genome(write_fasta(tmp_path / "g.fa", {"c1": seq}))
    pos = 151
    ref = seq[pos - 1 : pos - 1 + ref_len]
    if kind == "insertion":  # anchor base + 3 new bases
        alt_allele = ref + "TTG"
    elif kind == "deletion":  # anchor base kept, 3 bases deleted
        alt_allele = ref[0]
    elif kind == "mnv":  # 2 substituted bases
        alt_allele = "".join("ACGT"[("ACGT".index(b) + 1) % 4] for b in ref)
    else:  # anchor + 2 bases replaced by 3 others (m = 2, n = 3)
        z = next(b for b in "ACGT" if b not in ref[1:])
        alt_allele = ref[0] + z * 3
    weight = integer_weight(2, 5, seed=2)
    model = KernelModel(weight, crop=4)
    window = 41
    scored, skipped = score_variants(
        model,
        g,
        _one([("c1", pos, ref, alt_allele)]),
        ["a", "b"],
        window=window,
        scores=ALL,
        save_tracks=tmp_path / "tracks.npz",
    )
    assert skipped.empty
    ref_al, alt_al = _slow_scores(seq, pos, ref, alt_allele, weight, window, crop=4)
    np.testing.assert_array_equal(
        scored[["SAD_a", "SAD_b"]].to_numpy()[0], (alt_al - ref_al).sum(1)
    )
    np.testing.assert_array_equal(
        scored[["maxabs_a", "maxabs_b"]].to_numpy()[0], np.abs(alt_al - ref_al).max(1)
    )
    with np.load(tmp_path / "tracks.npz") as z:
        saved_ref, saved_alt = z["ref"][0], z["alt"][0]  # (T, L_out), alt on ref coordinates
        assert z["start"][0] == pos - 1 - window // 2 + 4
        assert list(z["track_names"]) == ["a", "b"]
    ok = ~np.isnan(saved_alt[0])
    np.testing.assert_array_equal(saved_ref[:, ok], ref_al)
    np.testing.assert_array_equal(saved_alt[:, ok], alt_al)
    # Unaffected flanks cancel exactly: more than the kernel half-width (2) from the change.
    change = window // 2 - 4 + 1  # output index of the first base after the anchor
    far = np.zeros(ok.shape, bool)
    far[: change - 3] = True
    far[change + ref_len + 3 :] = True
    far &= ok
    assert far.sum() > 10
    np.testing.assert_array_equal(saved_alt[:, far], saved_ref[:, far])
    if kind in ("deletion", "complex"):
        assert (~ok).sum() >= 2  # deleted reference bases have no alternative value


def test_rc_average_scores_are_strand_symmetric(tmp_path):
    seq = random_seq(301, seed=6)
    rc_seq = seq[::-1].translate(str.maketrans("ACGT", "TGCA"))
    g = Genome(write_fasta(tmp_path / "f.fa", {"f": seq}))
    g_rc = Genome(write_fasta(tmp_path / "r.fa", {"r": rc_seq}))
    comp = str.maketrans("ACGT", "TGCA")
    pos = 140
    alt = "ACGT"[("ACGT".index(seq[pos - 1]) + 1) % 4]
    model = KernelModel(integer_weight(2, 6, seed=9), crop=5, strand_pairs=[1, 0])
    kw = {"window": 41, "rc_average": True, "scores": ALL}
    fwd, _ = score_variants(model, g, _one([("f", pos, seq[pos - 1], alt)]), ["p", "m"], **kw)
    mirrored = ("r", 301 - pos + 1, seq[pos - 1].translate(comp), alt.translate(comp))
    rev, _ = score_variants(model, g_rc, _one([mirrored]), ["p", "m"], **kw)
    for s in ALL:
        assert fwd.loc[0, f"{s}_p"] == pytest.approx(rev.loc[0, f"{s}_m"], abs=1e-12)
        assert fwd.loc[0, f"{s}_m"] == pytest.approx(rev.loc[0, f"{s}_p"], abs=1e-12)
    assert fwd.loc[0, "SAD_p"] != 0.0


def test_skips_are_reported_with_reasons(motif_genome):
    variants = pd.DataFrame(
        {
            "chrom": ["c1", "c1", "chr9", "c1", "c1", "c1", "c1"],
            "pos": [201, 101, 5, 60, 61, 62, 399],
            "id": ["ok", "mismatch", "nochrom", "sym", "bnd", "star", "edge"],
            "ref": ["G", "G", "A", "A", "A", "A", "A"],
            "alt": ["C", "T", "C", "<DEL>", "A]c1:300]", "*", "C"],
        }
    )
    seq = motif_genome.fetch("c1", 0, 400)
    variants.loc[3:6, "ref"] = ["ACGTN"[seq[p - 1]] for p in (60, 61, 62, 399)]
    model = MotifCounter("GATA", crop=8)
    scored, skipped = score_variants(
        model, motif_genome, variants, ["gata"], window=64, skip_edge=True
    )
    assert list(scored["id"]) == ["ok"]
    reasons = dict(zip(skipped["id"], skipped["reason"], strict=True))
    assert list(skipped.columns) == ["chrom", "pos", "id", "ref", "alt", "reason"]
    assert reasons["mismatch"].startswith("REF mismatch")
    assert "REF=G" in reasons["mismatch"]
    assert f"FASTA has {'ACGTN'[seq[100]]}" in reasons["mismatch"]
    assert "'chr9' not in FASTA" in reasons["nochrom"]
    for vid in ("sym", "bnd", "star"):
        assert "symbolic or breakend" in reasons[vid]
    assert "chromosome end" in reasons["edge"]
    with pytest.raises(InputError, match="strict"):
        score_variants(model, motif_genome, variants, ["gata"], window=64, strict=True)


def test_batch_size_does_not_change_scores(tmp_path):
    seq = random_seq(400, seed=12)
    g = Genome(write_fasta(tmp_path / "g.fa", {"c1": seq}))
    rows = [
        ("c1", p, seq[p - 1], "ACGT"[("ACGT".index(seq[p - 1]) + 1) % 4])
        for p in range(20, 380, 37)
    ]
    rows.append(("c1", 200, seq[199:203], seq[199]))
    model = SmoothNet(crop=8)
    a, _ = score_variants(model, g, _one(rows), ["x", "y"], window=49, batch_size=2, scores=ALL)
    b, _ = score_variants(model, g, _one(rows), ["x", "y"], window=49, batch_size=64, scores=ALL)
    np.testing.assert_allclose(
        a.iloc[:, 5:-1].to_numpy(), b.iloc[:, 5:-1].to_numpy(), rtol=1e-5, atol=1e-7
    )


def test_vcf_to_tsv_and_parquet(motif_genome, tmp_path):
    vcf = write_vcf(
        tmp_path / "v.vcf",
        [("c1", 201, "rs1", "G", "C,T"), ("c1", 101, "rs2", "G", "T"), ("chrZ", 3, ".", "A", "C")],
    )
    variants = read_vcf(vcf)
    scored, skipped = score_variants(
        MotifCounter("GATA", crop=8), motif_genome, variants, ["gata"], window=64, scores="SAD"
    )
    out, skipped_path = write_scores(scored, skipped, tmp_path / "res" / "scores.tsv")
    assert skipped_path == tmp_path / "res" / "scores.skipped.tsv"
    back = pd.read_csv(out, sep="\t")
    assert list(back.columns) == ["chrom", "pos", "id", "ref", "alt", "SAD_gata", "n_padded"]
    assert back[["id", "alt", "SAD_gata"]].values.tolist() == [
        ["rs1", "C", -1.0],
        ["rs1", "T", -1.0],
    ]
    skipped_back = pd.read_csv(skipped_path, sep="\t")
    assert list(skipped_back["id"]) == ["rs2", "."]
    assert skipped_back["reason"].str.contains("REF mismatch|not in FASTA").all()
    pq, _ = write_scores(scored, skipped, tmp_path / "res" / "scores.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(pq), scored)
    assert sorted(p.name for p in (tmp_path / "res").iterdir()) == [
        "scores.parquet",
        "scores.parquet.skipped.tsv",  # its own skipped table: scores.skipped.tsv is untouched
        "scores.skipped.tsv",
        "scores.tsv",
    ]


def test_bad_arguments_raise(motif_genome):
    model = MotifCounter("GATA", crop=8)
    v = _one([("c1", 201, "G", "C")])
    with pytest.raises(InputError, match="unknown score 'SAR'"):
        score_variants(model, motif_genome, v, ["gata"], window=64, scores=["SAR"])
    with pytest.raises(InputError, match="score width"):
        score_variants(model, motif_genome, v, ["gata"], window=64, score_width=100)
    with pytest.raises(InputError, match="lacks columns"):
        score_variants(model, motif_genome, v.drop(columns="ref"), ["gata"], window=64)


def test_score_arrays_numpy_and_torch_agree():
    """The CPU (numpy) and device (torch) scoring paths compute the same numbers."""
    from genodil.predict.variants import _score_arrays

    rng = np.random.default_rng(0)
    ref = rng.normal(1.0, 1.0, size=(3, 2, 50))
    alt = ref + rng.normal(0, 0.3, size=ref.shape)
    valid = rng.random((3, 1, 50)) > 0.2
    ref[2, 1] = 0.0  # an all-zero profile counts as uniform in JSD
    a = _score_arrays(ref, alt, valid, ALL)
    b = _score_arrays(torch.from_numpy(ref), torch.from_numpy(alt), torch.from_numpy(valid), ALL)
    np.testing.assert_allclose(a, b.numpy(), rtol=1e-12, atol=1e-12)
    d = alt - ref
    for i in range(3):
        v = valid[i, 0]
        np.testing.assert_allclose(a[i, 0], d[i][:, v].sum(1))
        np.testing.assert_allclose(a[i, 2], np.abs(d[i][:, v]).max(1))
    p, q = np.clip(ref[0, 0][valid[0, 0]], 0, None), np.clip(alt[0, 0][valid[0, 0]], 0, None)
    assert a[0, 3, 0] == pytest.approx(_jsd_loop(list(p), list(q)), abs=1e-12)


def test_reach_wide_window_sums_effects_beyond_the_configured_output(tmp_path):
    """A window shorter than 4 x crop: the effect lies outside its output, yet is scored."""
    seq = random_seq(600, seed=21)
    g = Genome(write_fasta(tmp_path / "r.fa", {"c1": seq}))
    left, right = np.array([1, 2, 3, 4.0]), np.array([10, 20, 30, 40.0])
    model = FarTapModel(left, right, reach=20)  # crop 20, receptive field 41
    p0 = 300
    ref = seq[p0]
    alt = "ACGT"[("ACGT".index(ref) + 1) % 4]
    i_ref, i_alt = "ACGT".index(ref), "ACGT".index(alt)
    # Output p0 + 20 reads the SNV through its left tap, output p0 - 20 through its right tap.
    want = (left[i_alt] - left[i_ref]) + (right[i_alt] - right[i_ref])
    assert want != 0

    # The configured window (60 < 4 * 20) outputs bases p0 - 10 .. p0 + 9 only: no change there.
    window = 60
    ref_codes = encode(seq[p0 - 30 : p0 + 30])
    alt_codes = ref_codes.copy()
    alt_codes[30] = i_alt
    onehot = torch.from_numpy(one_hot(np.stack([ref_codes, alt_codes])))
    pred = predict(model, onehot, device="cpu")
    assert torch.equal(pred[0], pred[1])

    variants = _one(
        [
            ("c1", p0 + 1, ref, alt),
            ("c1", 101, seq[100:103], seq[100]),  # deletion of 2 bases
            ("c1", 451, seq[450], seq[450] + "GATTACA"),  # insertion of 7 bases
        ]
    )
    short, _ = score_variants(model, g, variants, ["t"], window=window, scores=["SAD", "maxabs"])
    assert short["SAD_t"][0] == want
    changes = (left[i_alt] - left[i_ref], right[i_alt] - right[i_ref])
    assert short["maxabs_t"][0] == max(abs(c) for c in changes)
    # The same sums as with a window long enough to hold the whole reach.
    long, _ = score_variants(model, g, variants, ["t"], window=400, scores=["SAD", "maxabs"])
    # the same scores; the windows differ, so do the bases padded past the chromosome ends
    pd.testing.assert_frame_equal(short.drop(columns="n_padded"), long.drop(columns="n_padded"))
    # A model that does not declare its receptive field keeps the configured window.
    plain = KernelModel(model.conv.weight.detach().numpy(), crop=20)
    blind, _ = score_variants(plain, g, variants.iloc[:1], ["t"], window=window, scores=["SAD"])
    assert blind["SAD_t"][0] == 0


def test_reach_wide_tracks_are_saved_padded(tmp_path):
    """An SNV fits an 82-bp window; a 7-bp insertion needs a longer one: rows are NaN-padded."""
    seq = random_seq(600, seed=22)
    g = Genome(write_fasta(tmp_path / "r.fa", {"c1": seq}))
    model = FarTapModel([1, 2, 3, 4], [5, 6, 7, 8], reach=20)
    alt = "C" if seq[300] != "C" else "A"
    variants = _one([("c1", 301, seq[300], alt), ("c1", 401, seq[400], seq[400] + "GATTACA")])
    out = tmp_path / "tracks.npz"
    score_variants(model, g, variants, ["t"], window=82, save_tracks=out, scores=["SAD"])
    saved = np.load(out)
    track = reference_track(seq, model.conv.weight.detach().numpy())[0]
    n_long = saved["ref"].shape[-1]
    assert n_long > 42  # the insertion's window outputs more than the configured 82 - 2 * 20
    for row, (p0, n_out) in enumerate([(300, 42), (400, n_long)]):
        start = p0 - n_out // 2
        assert int(saved["start"][row]) == start
        np.testing.assert_array_equal(saved["ref"][row, 0, :n_out], track[start : start + n_out])
        assert np.isnan(saved["ref"][row, 0, n_out:]).all()


def test_n_padded_flags_exactly_the_windows_past_a_chromosome_end(motif_genome):
    model = MotifCounter("GATA", crop=8)
    seq = motif_genome.fetch("c1", 0, 400)
    rows = [("c1", p, "ACGTN"[seq[p - 1]], "G") for p in (3, 30, 201, 390)]
    scored, _ = score_variants(model, motif_genome, _one(rows), ["gata"], window=64, scores="SAD")
    edge, _ = score_variants(
        model, motif_genome, _one(rows), ["gata"], window=64, scores="SAD", skip_edge=True
    )
    assert list(scored["n_padded"] > 0) == [p not in set(edge["pos"]) for p in scored["pos"]]
    assert scored["n_padded"].tolist()[:3] == [32 - 2, 32 - 29, 0]  # centre 32, p0 = pos - 1
    assert scored["n_padded"].iloc[3] == (389 - 32 + 64) - 400


def test_scores_in_track_units_undo_the_track_transform(motif_genome):
    from genodil.data.tracks import TrackSpec

    model = MotifCounter("GATA", crop=8)
    v = _one([("c1", 201, "G", "C")])
    model_units, _ = score_variants(model, motif_genome, v, ["gata"], window=64, scores="SAD")
    spec = [TrackSpec("gata", "gata.bw", scale=0.5)]
    track_units, _ = score_variants(
        model, motif_genome, v, ["gata"], window=64, scores="SAD", track_specs=spec
    )
    assert model_units.loc[0, "SAD_gata"] == -1.0
    assert track_units.loc[0, "SAD_gata"] == -2.0  # the model learned half the bigWig's values


def test_skipped_table_hints_at_a_chr_prefix(motif_genome):
    _, skipped = score_variants(
        MotifCounter("GATA", crop=8),
        motif_genome,
        _one([("chrc1", 201, "G", "C")]),
        ["gata"],
        window=64,
    )
    assert "the FASTA calls it 'c1'" in skipped.loc[0, "reason"]


def test_annotated_vcf_output_and_units_sidecar(motif_genome, tmp_path):
    import json

    import pysam

    vcf = write_vcf(
        tmp_path / "v.vcf", [("c1", 201, "rs1", "G", "C,T"), ("c1", 101, "rs2", "G", "T")]
    )
    scored, skipped = score_variants(
        MotifCounter("GATA", crop=8),
        motif_genome,
        read_vcf(vcf),
        ["gata"],
        window=64,
        scores="SAD,logFC",
    )
    units = {"units": "track", "tracks": {"gata": "track units: as in gata.bw"}}
    out, skipped_out, side = write_scores(scored, skipped, tmp_path / "s.vcf.gz", vcf, units)
    assert skipped_out.name == "s.vcf.gz.skipped.tsv" and side.name == "s.vcf.gz.units.json"
    assert json.loads(side.read_text()) == units
    with pysam.VariantFile(str(out)) as vf:
        assert "track units" in vf.header.info["SAD_gata"].description
        recs = list(vf)
    assert recs[0].info["SAD_gata"] == pytest.approx((-1.0, -1.0))
    assert "SAD_gata" not in recs[1].info  # REF mismatch: skipped, record kept unannotated
    assert "n_padded" not in recs[0].info
    with pytest.raises(InputError, match="needs the input VCF"):
        write_scores(scored, skipped, tmp_path / "t.vcf")
