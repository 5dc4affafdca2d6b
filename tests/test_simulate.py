"""The synthetic demo set: determinism, valid files, and the planted truth the tracks encode.

One ``tiny`` dataset is generated per module (a few seconds) and only read by the tests.
Numerical pieces (motif scan, expected tracks, variant effects) are checked against slow loops.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pyBigWig
import pyfaidx
import pysam
import pytest

from genodil import simulate as sim
from genodil.errors import InputError

COMP = {"A": "T", "C": "G", "G": "C", "T": "A", "N": "N"}


def rc(seq: str) -> str:
    return "".join(COMP[b] for b in reversed(seq.upper()))


def slow_score(motif: sim.Motif, site: str) -> float:
    """Log-odds of ``site`` (read on the motif's strand), one base at a time."""
    pwm = motif.pwm()
    total = 0.0
    for j, base in enumerate(site.upper()):
        total += -30.0 if base == "N" else math.log(pwm[j, "ACGT".index(base)] / 0.25)
    return total


def slow_occ(motif: sim.Motif, score: float) -> float:
    return 1 / (1 + math.exp(-1.5 * (score - (motif.max_score - 4.0))))


def codes(seq: str) -> np.ndarray:
    lut = {"A": 0, "C": 1, "G": 2, "T": 3}
    return np.array([lut.get(b, 4) for b in seq.upper()], dtype=np.uint8)


def read_tsv(path: Path) -> list[dict[str, str]]:
    with open(path) as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tiny")
    sim.simulate(out, preset="tiny", seed=0)
    return out


@pytest.fixture(scope="module")
def genome(tiny) -> dict[str, str]:
    fa = pyfaidx.Fasta(str(tiny / "genome.fa"), sequence_always_upper=False)
    seqs = {record.name: str(record[:]) for record in fa}
    fa.close()
    return seqs


@pytest.fixture(scope="module")
def truth(tiny) -> list[dict[str, str]]:
    return read_tsv(tiny / "truth.tsv")


def bw_values(path: Path, chrom: str) -> np.ndarray:
    bw = pyBigWig.open(str(path))
    try:
        return bw.values(chrom, 0, bw.chroms(chrom), numpy=True)
    finally:
        bw.close()


# --- arguments, determinism, files --------------------------------------------------------


def test_simulate_unknown_preset_raises(tmp_path):
    with pytest.raises(InputError, match="tiny, small, longrange, large"):
        sim.simulate(tmp_path, preset="huge")
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True])
def test_simulate_bad_seed_raises(tmp_path, seed):
    with pytest.raises(InputError, match="seed"):
        sim.simulate(tmp_path, seed=seed)


def test_simulate_out_dir_is_file_raises(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(InputError, match="not a folder"):
        sim.simulate(tmp_path / "f")


def test_simulate_same_seed_same_bytes(tiny, tmp_path):
    paths = sim.simulate(tmp_path / "again", preset="tiny", seed=0)
    assert digest(tiny) == digest(tmp_path / "again")
    assert {p.name for p in paths.values()} == {p.name for p in tiny.iterdir()}
    assert not any(p.name.endswith(".tmp") for p in tiny.iterdir())  # temporaries renamed


def test_simulate_other_seed_differs(tiny, tmp_path):
    sim.simulate(tmp_path, preset="tiny", seed=1, write_expected=False)
    assert not (tmp_path / "local.expected.bw").exists()
    assert (tmp_path / "genome.fa").read_bytes() != (tiny / "genome.fa").read_bytes()
    assert (tmp_path / "genome.fa.fai").read_bytes() == (tiny / "genome.fa.fai").read_bytes()


def test_fasta_and_index_match_pyfaidx(tiny, tmp_path, genome):
    sizes = dict(zip(sim.CHROMS, sim.PRESETS["tiny"], strict=True))
    assert {c: len(s) for c, s in genome.items()} == sizes
    shutil.copy(tiny / "genome.fa", tmp_path / "g.fa")
    pyfaidx.Faidx(str(tmp_path / "g.fa")).close()  # builds its own index
    assert (tmp_path / "g.fa.fai").read_text() == (tiny / "genome.fa.fai").read_text()


def test_fasta_has_soft_mask_and_n_runs(genome):
    for seq in genome.values():
        assert set(seq) <= set("ACGTNacgt")
        lower = sum(c.islower() for c in seq) / len(seq)
        assert 0.02 < lower < 0.3
        assert seq.startswith("N" * 1000)  # a leading gap
        assert len(re.findall("N+", seq)) >= 3


def test_bigwigs_cover_chromosomes_and_are_counts(tiny, genome):
    for track in sim.TRACKS:
        for suffix in (".bw", ".expected.bw"):
            bw = pyBigWig.open(str(tiny / f"{track}{suffix}"))
            assert bw.isBigWig()
            assert bw.chroms() == {c: len(s) for c, s in genome.items()}
            bw.close()
        counts = bw_values(tiny / f"{track}.bw", "chr2")
        assert not np.isnan(counts).any()
        assert (counts >= 0).all() and (counts == np.round(counts)).all()
        expected = bw_values(tiny / f"{track}.expected.bw", "chr2")
        is_n = np.frombuffer(genome["chr2"].encode(), np.uint8) == ord("N")
        assert (expected[is_n] == 0).all() and (counts[is_n] == 0).all()
        assert (expected[~is_n] > 0).all()


def test_vcf_refs_match_fasta_and_records_are_valid(tiny, genome):
    vf = pysam.VariantFile(str(tiny / "variants.vcf"))
    assert list(vf.header.contigs) == list(sim.CHROMS)
    records = list(vf)
    keys = [(sim.CHROMS.index(r.chrom), r.pos) for r in records]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    assert len({r.id for r in records}) == len(records)
    for r in records:
        assert genome[r.chrom][r.pos - 1 : r.pos - 1 + len(r.ref)].upper() == r.ref, r.id
        assert r.info["EFFECT"] in ("break", "create", "neutral")
        assert r.id.startswith(("neutral", r.info["EFFECT"], "del_", "ins_", "multi_"))
    kinds = {
        "del": [r for r in records if len(r.ref) > 1],
        "ins": [r for r in records if any(len(a) > len(r.ref) for a in r.alts)],
        "multi": [r for r in records if len(r.alts) > 1],
    }
    assert all(kinds.values())
    for r in kinds["del"] + kinds["ins"]:
        (alt,) = r.alts
        assert alt[0] == r.ref[0] and 1 <= abs(len(alt) - len(r.ref)) <= 20
    prefixes = {r.id.rsplit("_", 1)[0] for r in records}
    for track in ("local_ap1", "distal_ets", "distal_sp1"):
        assert {f"break_{track}", f"create_{track}"} <= prefixes
    assert {"del_break_local_ap1", "ins_create_local_ap1", "multi_break_local_ap1"} <= prefixes
    assert {"neutral_snv", "neutral_del", "neutral_ins"} <= prefixes
    assert prefixes & {"break_cage_plus_tata", "break_cage_minus_tata"}
    assert prefixes & {"create_cage_plus_tata", "create_cage_minus_tata"}
    enhancer_breaks = [r for r in records if r.info["CLASS"] == "enhancer_break"]
    assert len(records) == 4 * 20 + len(enhancer_breaks)  # every kind found its quota
    assert len(enhancer_breaks) >= 8
    for r in enhancer_breaks:
        assert r.id.startswith("break_longrange_gata") and r.info["TRACK"] == "longrange"
        assert r.info["DIST"] in (500, 1000, 2000, 4000, 8000)
    assert {r.info["CLASS"] for r in records} == {
        "snv_break",
        "snv_create",
        "enhancer_break",
        "indel",
        "neutral",
    }
    vf.close()


def test_vcf_gz_is_indexed_and_equal(tiny):
    plain = [str(r) for r in pysam.VariantFile(str(tiny / "variants.vcf"))]
    with pysam.VariantFile(str(tiny / "variants.vcf.gz")) as vf:
        assert [str(r) for r in vf] == plain
        chr4 = [str(r) for r in vf.fetch("chr4", 0, 220_000)]
    assert chr4 == [line for line in plain if line.startswith("chr4\t")] and chr4


def test_regions_and_manifest(tiny, genome):
    rows = [line.split("\t") for line in (tiny / "regions_predict.bed").read_text().splitlines()]
    assert len(rows) == 2
    for chrom, start, end, _name in rows:
        assert chrom == sim.SPLITS["test"][0]
        assert 0 <= int(start) < int(end) <= len(genome[chrom])
        assert "N" not in genome[chrom][int(start) : int(end)]
    bed = [line.split("\t") for line in (tiny / "regions.bed").read_text().splitlines()]
    assert len(bed) > 500 and all(len(r) == 6 and int(r[1]) < int(r[2]) for r in bed)
    manifest = json.loads((tiny / "manifest.json").read_text())
    assert manifest["preset"] == "tiny" and manifest["seed"] == 0
    assert manifest["splits"] == {"train": ["chr1", "chr2"], "valid": ["chr3"], "test": ["chr4"]}
    assert all((tiny / name).exists() for name in manifest["files"].values())
    pairs = {t["name"]: t["strand_pair"] for t in manifest["tracks"]}
    assert pairs == {
        "local": None,
        "distal": None,
        "cage_plus": "cage_minus",
        "cage_minus": "cage_plus",
        "longrange": None,
    }


def test_ceiling_recomputed_from_bigwigs(tiny):
    """The best per-base Pearson r any model can reach on the test chromosome (printed)."""
    ceiling = json.loads((tiny / "manifest.json").read_text())["ceiling"]
    assert ceiling["chrom"] == "chr4"
    for track in sim.TRACKS:
        lam = bw_values(tiny / f"{track}.expected.bw", "chr4")
        counts = bw_values(tiny / f"{track}.bw", "chr4")
        r = float(np.corrcoef(lam, counts)[0, 1])
        # For Poisson counts, corr(lambda, y)^2 = var(lambda) / (var(lambda) + mean(lambda)).
        analytic = math.sqrt(lam.var() / (lam.var() + lam.mean()))
        print(f"ceiling {track}: r = {r:.4f} (analytic {analytic:.4f})")
        assert r == pytest.approx(ceiling["tracks"][track]["pearson"], abs=1e-4)
        assert r == pytest.approx(analytic, abs=0.02)
        assert r > 0.85
    assert ceiling["tracks"]["local"]["pearson"] > 0.95


# --- the truth: sites in the FASTA, signal at the sites --------------------------------------


def test_truth_sites_are_in_fasta_with_their_scores(truth, genome):
    kinds = {row["kind"] for row in truth}
    assert kinds == {"planted", "latent", "chance"}
    for row in truth:
        motif = sim.MOTIFS[row["motif"]]
        start, end = int(row["start"]), int(row["end"])
        assert end - start == len(motif)
        site = genome[row["chrom"]][start:end]
        site = site.upper() if row["strand"] == "+" else rc(site)
        score = slow_score(motif, site)
        assert float(row["score"]) == pytest.approx(score, abs=2e-3)
        assert float(row["occupancy"]) == pytest.approx(slow_occ(motif, score), abs=2e-4)
        if row["kind"] == "latent":  # the consensus but for one core base
            diff = [
                j
                for j, (a, b) in enumerate(zip(site, motif.consensus.upper(), strict=True))
                if a != b
            ]
            assert len(diff) == 1 and motif.consensus[diff[0]].isupper()
    planted = [r for r in truth if r["kind"] == "planted"]
    for name in sim.MOTIFS:
        rows = [r for r in planted if r["motif"] == name]
        occupied = [r for r in rows if float(r["occupancy"]) >= 0.5]
        assert len(occupied) > 0.7 * len(rows) > 8, name


def test_local_track_is_high_at_sites(tiny, truth, genome):
    counts = bw_values(tiny / "local.bw", "chr3")
    sites = [r for r in truth if r["chrom"] == "chr3" and r["motif"] == "ap1"]
    strong = [(int(r["start"]) + int(r["end"])) // 2 for r in sites if float(r["occupancy"]) > 0.9]
    at_sites = np.mean([counts[c - 20 : c + 20].mean() for c in strong])
    near = np.array([b == "N" for b in genome["chr3"]])  # N runs count as near
    for r in truth:
        if r["chrom"] == "chr3":
            near[max(0, int(r["start"]) - 600) : int(r["end"]) + 600] = True
    far = counts[~near]
    assert at_sites > 20 * max(far.mean(), 0.1)
    assert 0.3 < far.mean() < 0.8  # background rate 0.5


def test_distal_track_needs_an_enhancer(tiny, truth):
    lam = bw_values(tiny / "distal.expected.bw", "chr1")
    counts = bw_values(tiny / "distal.bw", "chr1")
    prom = [r for r in truth if r["chrom"] == "chr1" and r["motif"] == "sp1"]
    prom = [r for r in prom if float(r["occupancy"]) > 0.9]
    with_e = [(int(r["start"]) + 5) for r in prom if float(r["enhancer_input"]) >= 0.9]
    without = [(int(r["start"]) + 5) for r in prom if float(r["enhancer_input"]) < 0.05]
    assert len(with_e) >= 3 and len(without) >= 3
    high = np.mean([counts[c - 30 : c + 30].mean() for c in with_e])
    low = np.mean([counts[c - 30 : c + 30].mean() for c in without])
    assert high > 4 * low > 4 * 2
    # Peak tops: occupancy * (4 + 36) with an enhancer, occupancy * 4 without (+ background).
    assert max(lam[c] for c in without) < 0.3 + 4 + 1
    assert min(lam[c] for c in with_e) > 0.9 * 36


def test_cage_signal_is_downstream_on_the_site_strand(tiny, truth):
    plus = bw_values(tiny / "cage_plus.bw", "chr2")
    minus = bw_values(tiny / "cage_minus.bw", "chr2")
    sites = [r for r in truth if r["chrom"] == "chr2" and r["motif"] == "tata"]
    sites = [r for r in sites if float(r["occupancy"]) > 0.9]
    # Mean counts 20-36 bp downstream and upstream of each site: (same strand, other strand).
    down, up = [], []
    for r in sites:
        start, end = int(r["start"]), int(r["end"])
        right, left = slice(end + 20, end + 36), slice(start - 36, start - 20)
        same, other = (plus, minus) if r["strand"] == "+" else (minus, plus)
        d, u = (right, left) if r["strand"] == "+" else (left, right)
        down.append((same[d].mean(), other[d].mean()))
        up.append(same[u].mean())
    down_a = np.array(down)
    assert len(down_a) > 40
    assert down_a[:, 0].mean() > 10  # peak height 30, sigma 4 bp
    assert down_a[:, 1].mean() < 0.5 and np.mean(up) < 0.5  # background 0.1


# --- pure functions against slow references ------------------------------------------------


def random_bases(n: int, seed: int) -> str:
    return "".join(np.random.default_rng(seed).choice(list("ACGT"), n))


def with_sites(seq: str, sites: list[tuple[int, str, str]]) -> str:
    """Write consensus sites ``(start, motif, strand)`` into ``seq``."""
    s = list(seq)
    for start, name, strand in sites:
        site = sim.MOTIFS[name].consensus.upper()
        site = site if strand == "+" else rc(site)
        s[start : start + len(site)] = site
    return "".join(s)


def test_find_sites_matches_slow_scan():
    seq = with_sites(
        random_bases(3000, 5),
        [(100, "ap1", "+"), (500, "ap1", "-"), (900, "tata", "-"), (1300, "sp1", "+")],
    )
    seq = seq[:2000] + "N" * 5 + seq[2005:]
    got = sim.find_sites(codes(seq))
    for name, motif in sim.MOTIFS.items():
        m = len(motif)
        want = []
        for s in range(len(seq) - m + 1):
            scores = {
                1: slow_score(motif, seq[s : s + m]),
                -1: slow_score(motif, rc(seq[s : s + m])),
            }
            if motif.role == "oriented":
                want += [(s, k, v) for k, v in scores.items() if slow_occ(motif, v) >= sim.MIN_OCC]
            else:
                k = -1 if scores[-1] > scores[1] else 1
                if slow_occ(motif, scores[k]) >= sim.MIN_OCC:
                    want.append((s, k, scores[k]))
        want.sort(key=lambda t: (t[0], -t[1]))
        sites = got[name]
        pairs = sorted(
            zip(sites.start.tolist(), sites.strand.tolist(), strict=True),
            key=lambda t: (t[0], -t[1]),
        )
        assert pairs == [(s, k) for s, k, _ in want], name
        order = np.lexsort((-sites.strand, sites.start))
        np.testing.assert_allclose(sites.score[order], [v for *_, v in want], atol=1e-4)
    assert (100, 1) in zip(got["ap1"].start.tolist(), got["ap1"].strand.tolist(), strict=True)
    assert (900, -1) in zip(got["tata"].start.tolist(), got["tata"].strand.tolist(), strict=True)


def slow_tracks(seq: str) -> dict[str, np.ndarray]:
    """The documented track model, one site and one base at a time."""
    n = len(seq)
    out = {t: np.full(n, sim._BACKGROUND[t]) for t in sim.TRACKS}
    sites = sim.find_sites(codes(seq))
    site_list = {
        name: list(zip(s.start.tolist(), s.strand.tolist(), s.occ.tolist(), strict=True))
        for name, s in sites.items()
    }
    for name, motif in sim.MOTIFS.items():
        m = len(motif)
        for start, _strand, occ in site_list[name]:
            centre = start + m / 2
            for i in range(start - 150, start + m + 150):
                if 0 <= i < n and motif.local_height:
                    x = i + 0.5 - centre
                    g = math.exp(-(x**2) / (2 * 35.0**2)) * (1 - 0.5 * math.exp(-(x**2) / 72.0))
                    out["local"][i] += motif.local_height * occ * g
    for p_start, _, p_occ in site_list["sp1"]:
        cp = p_start + 5
        e_in = sum(o for s, _, o in site_list["ets"] if 1500 <= abs(s + 5.5 - cp) <= 5000)
        height = p_occ * (4 + 36 * min(1.0, e_in))
        for i in range(p_start - 240, p_start + 10 + 240):
            if 0 <= i < n:
                out["distal"][i] += height * math.exp(-((i + 0.5 - cp) ** 2) / (2 * 60.0**2))
    for p_start, _, p_occ in site_list["nfy"]:
        cp = p_start + 5.5
        e_in = sum(
            o * math.sqrt(1000 / max(abs(s + 5.5 - cp), 1000))
            for s, _, o in site_list["gata"]
            if abs(s + 5.5 - cp) <= 8500
        )
        for i in range(p_start - 240, p_start + 11 + 240):
            if 0 <= i < n:
                g = math.exp(-((i + 0.5 - cp) ** 2) / (2 * 60.0**2))
                out["longrange"][i] += p_occ * (2 + 40 * e_in) * g
    for start, strand, occ in site_list["tata"]:
        for x in range(400):
            i = start + 11 + x if strand == 1 else start - 1 - x
            shape = math.exp(-((x - 28) ** 2) / 72.0) + 0.15 * math.exp(-x / 120.0)
            if 0 <= i < n:
                out["cage_plus" if strand == 1 else "cage_minus"][i] += 30 * occ * shape
    is_n = np.array([b == "N" for b in seq])
    return {t: np.where(is_n, 0.0, v) for t, v in out.items()}


def test_expected_tracks_match_slow_reference():
    seq = with_sites(
        random_bases(9000, 7),
        [
            (300, "tata", "+"),
            (1000, "ap1", "-"),
            (2000, "sp1", "+"),
            (4500, "ets", "-"),  # 2.5 kb from the promoter: counts
            (7600, "sp1", "-"),  # the same enhancer, 3.1 kb to its left
            (8700, "tata", "-"),
            (3000, "nfy", "+"),
            (5200, "gata", "-"),  # 2.2 kb from the nfy promoter
            (8400, "gata", "+"),  # 5.4 kb
        ],
    )
    seq = seq[:7000] + "N" * 30 + seq[7030:]
    got = sim.expected_tracks(codes(seq))
    want = slow_tracks(seq)
    for t in sim.TRACKS:
        np.testing.assert_allclose(got[t], want[t], rtol=1e-5, atol=1e-5, err_msg=t)
    assert got["distal"][2005] > 30 and got["cage_plus"][300 + 11 + 28] > 25
    assert got["cage_minus"][8700 - 1 - 28] > 25


def test_expected_tracks_reverse_complement_swaps_strand_pair():
    seq = with_sites(
        random_bases(8000, 3),
        [
            (1000, "tata", "+"),
            (2500, "ap1", "+"),
            (3000, "sp1", "-"),
            (6000, "ets", "+"),
            (7000, "tata", "-"),
            (4000, "nfy", "-"),
            (5500, "gata", "+"),
        ],
    )
    fwd, rev = sim.expected_tracks(codes(seq)), sim.expected_tracks(codes(rc(seq)))
    for t in ("local", "distal", "longrange"):
        np.testing.assert_allclose(rev[t], fwd[t][::-1], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(rev["cage_plus"], fwd["cage_minus"][::-1], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(rev["cage_minus"], fwd["cage_plus"][::-1], rtol=1e-5, atol=1e-5)
    assert int(np.argmax(fwd["cage_plus"][:2000])) == 1000 + 11 + 28  # right of the + site
    assert fwd["cage_minus"][1000:1500].max() < 0.2


def test_variant_effect_aligns_indels():
    """A background indel far from a site changes nothing once positions are aligned."""
    seq = with_sites(random_bases(30_000, 11), [(15_500, "ap1", "+")])
    c = codes(seq)
    g = 15_000  # anchor base, 500 bp left of the site
    deletion = sim.variant_effect(c, g, seq[g : g + 11], seq[g])
    insertion = sim.variant_effect(c, g, seq[g], seq[g] + "ACGTTGCA")
    for effect in (deletion, insertion):
        assert max(abs(v) for v in effect.values()) < 1e-3
    # Deleting the site removes its whole peak (the deleted bases themselves are not compared).
    lam = sim.expected_tracks(c)["local"]
    gone = sim.variant_effect(c, 15_499, seq[15_499:15_512], seq[15_499])
    kept = np.r_[15_500 - 1000 : 15_500, 15_512 : 15_512 + 1000]
    assert gone["local"] == pytest.approx(-(lam[kept] - 0.5).sum(), rel=1e-3)


def test_variants_change_the_truth_they_claim(tiny, genome, truth):
    rows = read_tsv(tiny / "variants_truth.tsv")
    sites = {}
    for r in truth:
        for i in range(int(r["start"]), int(r["end"])):
            sites.setdefault((r["chrom"], i), []).append(r)
    for v in rows:
        sad = {t: float(v[f"true_sad_{t}"]) for t in sim.TRACKS}
        if v["effect"] == "neutral":
            assert max(abs(x) for x in sad.values()) < 40, v["id"]
            continue
        sign = -1 if v["effect"] == "break" else 1
        assert sign * sad[v["track"]] > 100, v["id"]
        if len(v["ref"]) != 1 or len(v["alt"]) != 1:
            continue
        # SNV: rescore the site it hits, independently of the module, before and after.
        pos0 = int(v["pos"]) - 1
        hit = [s for s in sites[(v["chrom"], pos0)] if s["motif"] == v["motif"]]
        if v["effect"] == "create":
            (site,) = [s for s in hit if s["kind"] == "latent"]
        else:
            site = max(hit, key=lambda s: float(s["occupancy"]))
        start, end = int(site["start"]), int(site["end"])
        seq = genome[v["chrom"]][start:end].upper()
        alt = seq[: pos0 - start] + v["alt"] + seq[pos0 - start + 1 :]
        motif = sim.MOTIFS[v["motif"]]
        if site["strand"] == "-":
            seq, alt = rc(seq), rc(alt)
        before, after = (
            slow_occ(motif, slow_score(motif, seq)),
            slow_occ(motif, slow_score(motif, alt)),
        )
        if v["effect"] == "break":
            assert before > 0.8 and after < 0.2, v["id"]
        else:
            assert site["kind"] == "latent" and before < 0.2 and after > 0.8, v["id"]
    ids = {v["id"] for v in rows}
    assert len(rows) == len(ids) + 4  # one multi-allelic record (two alleles) per chromosome


# --- the longrange track: enhancers at controlled distances ------------------------------------


def kernel_sum(m: int) -> float:
    """Summed peak shape at a promoter of length ``m`` (sigma 60, +-240 bp), base by base."""
    return sum(math.exp(-((i + 0.5 - m / 2) ** 2) / (2 * 60.0**2)) for i in range(-240, m + 240))


@pytest.mark.parametrize("distance", [500, 1000, 2000, 4000, 8000, 9000])
@pytest.mark.parametrize("side", [1, -1])
def test_planted_enhancer_effect_equals_hand_computed(distance, side):
    """Adding one enhancer at ``distance`` adds occ_p * 40 * w(d) * occ_e * kernel to longrange."""
    p_start = 12_000
    e_start = p_start + side * distance
    base = random_bases(24_000, 21)
    without = with_sites(base, [(p_start, "nfy", "+")])
    with_e = with_sites(without, [(e_start, "gata", "-")])
    nfy, gata = sim.MOTIFS["nfy"], sim.MOTIFS["gata"]
    occ_p = slow_occ(nfy, slow_score(nfy, without[p_start : p_start + 11]))
    occ_e = slow_occ(gata, slow_score(gata, rc(with_e[e_start : e_start + 11])))
    d = abs(e_start + 5.5 - (p_start + 5.5))
    weight = math.sqrt(1000 / max(d, 1000)) if d <= 8500 else 0.0
    want = occ_p * 40 * weight * occ_e * kernel_sum(11)
    a = sim.expected_tracks(codes(without))["longrange"].astype(np.float64)
    b = sim.expected_tracks(codes(with_e))["longrange"].astype(np.float64)
    assert (b - a).sum() == pytest.approx(want, rel=1e-4, abs=1e-2)
    if distance == 9000:
        assert want == 0
    else:
        assert want > 1500  # >= 0.35 of a full boost at 8 kb
        # The change sits on the promoter only, not around the enhancer.
        changed = np.flatnonzero(np.abs(b - a) > 1e-3)
        assert abs(changed.mean() - (p_start + 5.5)) < 5 and np.ptp(changed) <= 11 + 480


def test_enhancer_break_truth_matches_hand_computed(tiny, truth, genome):
    """Each enhancer-breaking SNV's true longrange effect is the hand-computed pair effect."""
    rows = [r for r in read_tsv(tiny / "variants_truth.tsv") if r["class"] == "enhancer_break"]
    assert len(rows) >= 8
    by_start = {(r["chrom"], int(r["start"]), r["motif"]): r for r in truth}
    k = kernel_sum(11)
    distances = set()
    for v in rows:
        pos0, d = int(v["pos"]) - 1, int(v["distance"])
        distances.add(d)
        enh = [
            r
            for r in truth
            if r["chrom"] == v["chrom"]
            and r["motif"] == "gata"
            and r["kind"] == "planted"
            and int(r["start"]) <= pos0 < int(r["end"])
        ]
        (enh,) = enh
        assert int(enh["pair_distance"]) == d
        e_start = int(enh["start"])
        prom = (
            by_start.get((v["chrom"], e_start - d, "nfy"))
            or by_start[(v["chrom"], e_start + d, "nfy")]
        )
        assert prom["kind"] == "planted" and int(prom["pair_distance"]) == d
        occ_e = float(enh["occupancy"])
        site = genome[v["chrom"]][e_start : e_start + 11].upper()
        site = site[: pos0 - e_start] + v["alt"] + site[pos0 - e_start + 1 :]
        site = site if enh["strand"] == "+" else rc(site)
        gata = sim.MOTIFS["gata"]
        occ_after = slow_occ(gata, slow_score(gata, site))  # the broken site keeps a little
        # Its own promoter, and any chance promoter site in reach (those listed: occ >= 0.05).
        want = 0.0
        for p in truth:
            dist = abs(int(p["start"]) - e_start)  # both sites are 11 bp long
            if p["chrom"] == v["chrom"] and p["motif"] == "nfy" and dist <= 8500:
                weight = math.sqrt(1000 / max(dist, 1000))
                want -= float(p["occupancy"]) * 40 * weight * (occ_e - occ_after) * k
        weight = math.sqrt(1000 / max(d, 1000))
        own = -float(prom["occupancy"]) * 40 * weight * (occ_e - occ_after) * k
        assert want <= own < 0
        assert float(v["true_sad_longrange"]) == pytest.approx(want, rel=0.02), v["id"]
        assert float(v["true_sad_distal"]) == 0.0
    assert len(distances) >= 3


def test_variant_effect_covers_every_changed_base():
    """The truth window holds every base a variant can change: an enhancer 8 kb away."""
    seq = with_sites(random_bases(60_000, 23), [(30_000, "nfy", "+"), (38_000, "gata", "+")])
    c = codes(seq)
    g = 38_000 + int(np.flatnonzero([ch.isupper() for ch in sim.MOTIFS["gata"].consensus])[0])
    alt = "A" if seq[g] != "A" else "C"
    effect = sim.variant_effect(c, g, seq[g], alt)
    alt_seq = seq[:g] + alt + seq[g + 1 :]
    ref_tr, alt_tr = sim.expected_tracks(c), sim.expected_tracks(codes(alt_seq))
    for t in sim.TRACKS:
        whole = float(alt_tr[t].astype(np.float64).sum() - ref_tr[t].astype(np.float64).sum())
        assert effect[t] == pytest.approx(whole, rel=1e-4, abs=1e-2), t
    assert effect["longrange"] < -1500


def test_motifs_meme_parses_with_memelite(tiny):
    from memelite.io import read_meme

    motifs = read_meme(str(tiny / "motifs.meme"))
    assert [key.split()[0] for key in motifs] == list(sim.MOTIFS)
    for key, pwm in motifs.items():
        motif = sim.MOTIFS[key.split()[0]]
        assert key.split()[1] == motif.consensus
        np.testing.assert_allclose(pwm, motif.pwm().T, atol=1e-6)  # (4, w), rows A C G T
        assert pwm.argmax(axis=0).tolist() == motif.codes.tolist()


@pytest.mark.parametrize("share", [0.0, 1.0])
def test_lonely_promoters_have_no_enhancer_in_reach(share):
    """``longrange``'s enhancer-less promoters: about one per pair, none near a planted enhancer,
    and their longrange peak is the promoter's own (2 x occupancy), pairs left where they were."""
    from genodil.simulate.genome import _build_chrom

    families = [np.random.default_rng(0).integers(0, 4, n, dtype=np.uint8) for n in (300, 1500)]
    chrom = _build_chrom("chr1", 0, 1_000_000, 3, families, n_latent=2, lonely_share=share)
    plain = _build_chrom("chr1", 0, 1_000_000, 3, families, n_latent=2)
    nfy = [p for p in chrom.planted if p.motif == "nfy"]
    pairs = [p for p in nfy if p.pair >= 0]
    lonely = [p for p in nfy if p.pair < 0]
    assert len(pairs) >= 15
    assert [(p.start, p.pair) for p in pairs] == [
        (p.start, p.pair) for p in plain.planted if p.motif == "nfy"
    ]
    if share == 0:
        assert lonely == []
        return
    requested = int(sim.MOTIFS["nfy"].per_mb)  # pairs asked for on 1 Mb; one lonely each
    assert 0.8 * len(pairs) <= len(lonely) <= requested
    gata = np.array([p.start for p in chrom.planted if p.motif == "gata"])
    for p in lonely:  # centre to centre, both motifs 11 bp long
        assert np.abs(gata - p.start).min() > sim.LONGRANGE_MAX
    sites = sim.find_sites(chrom.codes)
    rate = sim.expected_tracks(chrom.codes, sites)["longrange"].astype(np.float64)
    occ = dict(zip(sites["nfy"].start.tolist(), sites["nfy"].occ.tolist(), strict=True))
    # Chance gata sites in the random background can still fall in reach; most have none.
    alone = [
        p
        for p in lonely
        if occ.get(p.start, 0) >= 0.5
        and np.abs(sites["gata"].start - p.start).min() > sim.LONGRANGE_MAX
    ]
    assert len(alone) >= 0.6 * len(lonely)
    for p in alone:
        peak = rate[p.start - 240 : p.start + 11 + 240] - 0.2  # background 0.2
        assert peak.sum() == pytest.approx(2 * occ[p.start] * kernel_sum(11), rel=1e-3)
