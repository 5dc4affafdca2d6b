"""`genodil motifs` pieces, and recovery of planted motifs on simulated sequence."""

import numpy as np
import pandas as pd
import pytest

from genodil.errors import InputError
from genodil.interpret.motifs import (
    Pattern,
    _bh,
    discover_motifs,
    load_motif_db,
    seqlet_bed,
    write_meme,
)
from tests.helpers import write_fasta

pytest.importorskip("modiscolite")
pytest.importorskip("memelite")


def test_bh_qvalues_match_a_direct_computation():
    p = np.array([0.01, 0.04, 0.03, 0.5, np.nan])
    q = _bh(p)
    # sorted p: .01 .03 .04 .5 1 -> p*n/rank: .05 .075 .0667 .625 1 -> cumulative min from right
    np.testing.assert_allclose(q, [0.05, 0.0667, 0.0667, 0.625, 1.0], atol=1e-3)


def test_meme_round_trip_and_seqlet_coordinates(tmp_path):
    from memelite.io import read_meme

    ppm = np.array([[0.9, 0.05, 0.03, 0.02], [0.1, 0.1, 0.7, 0.1]])
    p = Pattern("pos_pattern_0", "+", ppm, ppm, [(1, 5, 25, True), (0, 0, 20, False)])
    write_meme(tmp_path / "p.meme", [p])
    back = read_meme(str(tmp_path / "p.meme"))
    np.testing.assert_allclose(back["pos_pattern_0"], ppm.T, atol=1e-6)
    assert p.consensus == "AG"
    bed = pd.DataFrame({"chrom": ["c1", "c2"], "start": [100, 1000], "end": [300, 1200]})
    rows = seqlet_bed([p], bed)
    assert rows.values.tolist() == [
        ["c1", 100, 120, "pos_pattern_0", 0, "+"],
        ["c2", 1005, 1025, "pos_pattern_0", 0, "-"],
    ]


def test_motif_db_errors_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="exactly one"):
        load_motif_db()
    with pytest.raises(InputError, match="not a JASPAR taxon"):
        load_motif_db(jaspar="martians")
    with pytest.raises(InputError, match="does not exist"):
        load_motif_db(meme=str(tmp_path / "none.meme"))
    (tmp_path / "empty.meme").write_text("MEME version 4\n")
    with pytest.raises(InputError, match="no MOTIF"):
        load_motif_db(meme=str(tmp_path / "empty.meme"))


def test_jaspar_loads_offline():
    pytest.importorskip("pyjaspar")
    db = load_motif_db(jaspar="fungi")
    assert len(db) > 100
    m = next(iter(db.values()))
    assert m.shape[0] == 4 and np.allclose(m.sum(0), 1)


def _planted_genome(tmp_path, n_per_motif=60, spacing=300, seed=0):
    """A random chromosome with instances of every simulator motif, one per region."""
    from genodil import simulate
    from genodil.genome.encode import codes_to_str

    rng = np.random.default_rng(seed)
    names = list(simulate.MOTIFS)
    n = n_per_motif * len(names)
    codes = rng.integers(0, 4, size=(n + 2) * spacing).astype(np.uint8)
    regions = []
    for i in range(n):
        m = simulate.MOTIFS[names[i % len(names)]]
        pwm = m.pwm()
        site = np.array([rng.choice(4, p=row) for row in pwm], dtype=np.uint8)
        if rng.random() < 0.5:
            site = (3 - site)[::-1]
        start = (i + 1) * spacing + int(rng.integers(-20, 20))
        codes[start : start + len(site)] = site
        regions.append(("c1", start - 40, start + len(site) + 40))
    fasta = write_fasta(tmp_path / "g.fa", {"c1": codes_to_str(codes)})
    meme = tmp_path / "planted.meme"
    lines = ["MEME version 4", "", "ALPHABET= ACGT", "", "strands: + -", ""]
    for name, m in simulate.MOTIFS.items():
        lines += [f"MOTIF {name}", f"letter-probability matrix: alength= 4 w= {len(m)}"]
        lines += [" ".join(f"{x:.4f}" for x in row) for row in m.pwm()] + [""]
    meme.write_text("\n".join(lines))
    return fasta, meme, pd.DataFrame(regions, columns=["chrom", "start", "end"])


@pytest.mark.slow
def test_motifs_recovers_every_planted_motif(tmp_path):
    """On the simulator's motif-occupancy network, TF-MoDISco + Tomtom find all four motifs.

    The database is the planted PWMs plus JASPAR vertebrates (decoys, and enough targets for
    Tomtom's background); each planted motif must be some pattern's best match at q < 0.05.
    """
    pytest.importorskip("pyjaspar")
    from genodil.genome.io import Genome
    from genodil.train.io import Loaded
    from tests.interpret.models import MotifOccupancyModel

    fasta, meme, regions = _planted_genome(tmp_path)
    db = {**load_motif_db(jaspar="vertebrates"), **load_motif_db(meme=str(meme))}
    model = MotifOccupancyModel(crop=20).eval()
    loaded = Loaded(model, ["local"], 400, 20, 1, None)
    out = tmp_path / "motifs"
    written = discover_motifs(
        loaded,
        Genome(fasta),
        regions,
        out,
        db,
        track="local",
        flank=60,
        n_shuffles=10,
        device="cpu",
        progress=False,
        final_min_cluster_size=10,
        min_metacluster_size=20,
    )
    table = pd.read_csv(written["patterns"], sep="\t")
    found = set(table.loc[table["match_qvalue"] < 0.05, "best_match"])
    assert {"ap1", "ets", "sp1", "tata"} <= found, table.to_string()
    bed = pd.read_csv(written["seqlets"], sep="\t", header=None)
    assert len(bed) >= 100 and (bed[0] == "c1").all()
    assert (out / "report.html").read_text().count("<img") == len(table)


def test_top_peaks_reads_a_region_split_and_centres_on_the_summit(tmp_path):
    """A test split given as chrom:start-end (as configs/yeast_r64.yaml) picks peaks in it only."""
    import torch

    from genodil.genome.io import Genome
    from genodil.interpret.motifs import top_peaks
    from genodil.train.io import Loaded
    from tests.helpers import random_seq, write_bigwig

    size = 20_000
    fasta = write_fasta(tmp_path / "g.fa", {"A": random_seq(size, 1), "B": random_seq(size, 2)})
    v = {c: np.zeros(size) for c in ("A", "B")}
    v["A"][3_000] = 50.0  # outside the test region: the highest, must be ignored
    v["A"][12_345] = 20.0
    v["A"][15_010] = 10.0
    v["B"][5_000] = 40.0  # a whole other chromosome, not in the split
    bw = write_bigwig(tmp_path / "t.bw", v)
    spec = {"data": {"tracks": [{"name": "t", "path": str(bw)}]}}
    spec["data"]["splits"] = {"test": ["A:10000-16000"]}
    loaded = Loaded(torch.nn.Identity(), ["t"], 400, 0, 1, None, spec)
    peaks = top_peaks(loaded, Genome(fasta), 2, "t", width=400)
    assert peaks.values.tolist() == [["A", 12_145, 12_545], ["A", 14_810, 15_210]]


def _peak_loaded(tmp_path, model=None):
    """A genome of two chromosomes, a peak bigWig and a Loaded that records both."""
    from genodil.genome.io import Genome
    from genodil.train.io import Loaded
    from tests.helpers import random_seq, write_bigwig
    from tests.interpret.models import MotifOccupancyModel

    fasta = write_fasta(tmp_path / "g.fa", {"c1": random_seq(4000, 1), "c2": random_seq(2000, 2)})
    x = np.arange(4000)
    c1 = 0.5 + 10 * np.exp(-0.5 * ((x - 1000) / 30) ** 2)
    c1 += 6 * np.exp(-0.5 * ((x - 2405) / 30) ** 2)
    c2 = 0.5 + 8 * np.exp(-0.5 * ((np.arange(2000) - 700) / 30) ** 2)
    bw = write_bigwig(tmp_path / "t.bw", {"c1": c1, "c2": c2})
    data = {"tracks": [{"name": "t", "path": str(bw)}], "splits": {"test": ["c1", "c2"]}}
    model = model or MotifOccupancyModel(crop=20).eval()
    loaded = Loaded(model, ["t"], 400, 20, 1, None, spec={"data": data})
    return Genome(fasta), loaded


def test_top_observed_peaks_are_recentred_and_a_split_peak_counts_once(tmp_path):
    from genodil.interpret.motifs import top_peaks

    genome, loaded = _peak_loaded(tmp_path)
    # the c1 peak at 2405 straddles the tile border at 2400: both tiles re-centre on it
    got = top_peaks(loaded, genome, 3, "t", width=400)
    assert got.values.tolist() == [["c1", 800, 1200], ["c2", 500, 900], ["c1", 2205, 2605]]
    got = top_peaks(loaded, genome, 1, "t", width=400, chroms=["c2"])
    assert got.values.tolist() == [["c2", 500, 900]]
    with pytest.raises(InputError, match="peaks-from"):
        top_peaks(loaded, genome, 3, "t", source="guessed")


def test_top_predicted_peaks_follow_the_model_not_the_bigwig(tmp_path):
    """Predicted peaks lie on planted AP-1 sites; the signal equals one whole-chromosome pass."""
    import torch

    from genodil.genome.encode import encode, one_hot
    from genodil.interpret.motifs import _predicted_signal, top_peaks

    genome, loaded = _peak_loaded(tmp_path)
    codes = genome.fetch("c1", 0, 4000)
    sites = {3000: "GATGACTCATC", 600: "GATGACTCATC"}
    for start, site in sites.items():
        codes[start : start + len(site)] = encode(site)
    fasta = write_fasta(tmp_path / "p.fa", {"c1": "".join("ACGTN"[c] for c in codes)})
    from genodil.genome.io import Genome

    genome = Genome(fasta)
    loaded.spec["data"]["splits"] = {"test": ["c1"]}
    ((span, signal),) = _predicted_signal(
        loaded, genome, "t", [("c1", 0, 4000)], device="cpu", batch_size=3
    )
    assert span == ("c1", 0, 4000)
    with torch.no_grad():
        x = torch.nn.functional.pad(torch.from_numpy(one_hot(codes))[None], (20, 20))
        want = loaded.model(x)["signal"][0, 0].double().numpy()
    np.testing.assert_allclose(signal, want, rtol=1e-5, atol=1e-5)
    got = top_peaks(loaded, genome, 2, "t", width=400, source="predicted", device="cpu")
    centres = sorted(((got["start"] + got["end"]) // 2).tolist())
    assert all(abs(c - (s + 5)) <= 3 for c, s in zip(centres, sorted(sites), strict=True))
    # a split given as a region: only the site inside it
    got = top_peaks(loaded, genome, 1, "t", chroms=["c1:2000-4000"], source="predicted")
    assert abs((got["start"].iat[0] + got["end"].iat[0]) // 2 - 3005) <= 3
