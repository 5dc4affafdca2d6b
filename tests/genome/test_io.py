"""FASTA access, BED reading and chromosome checks across files, on small real files."""

from __future__ import annotations

import logging
import multiprocessing as mp
import pickle

import numpy as np
import pytest

from genodil.errors import InputError
from genodil.genome.encode import codes_to_str
from genodil.genome.io import (
    Genome,
    alias_chrom,
    bigwig_chrom_sizes,
    check_chrom_agreement,
    parse_region,
    read_bed,
)
from tests.helpers import random_seq, write_bed, write_bigwig, write_fasta


def _reference_fetch(seq: str, start: int, end: int) -> str:
    """Per-character reference: upper case, non-ACGT -> N, N past the ends."""
    out = []
    for i in range(start, end):
        ch = seq[i].upper() if 0 <= i < len(seq) else "N"
        out.append(ch if ch in "ACGT" else "N")
    return "".join(out)


@pytest.fixture
def seqs():
    s1 = random_seq(1000, seed=1)
    s1 = s1[:100] + s1[100:200].lower() + "NNNNNRYKM" + s1[209:]  # soft mask, N, IUPAC
    return {"c1": s1, "c2": random_seq(333, seed=2)}


@pytest.mark.parametrize("in_memory", [False, True])
def test_fetch_matches_reference_with_padding(tmp_path, seqs, in_memory):
    fa = write_fasta(tmp_path / "g.fa", seqs, width=61)
    g = Genome(fa, in_memory=in_memory)
    assert g.chrom_sizes == {"c1": 1000, "c2": 333}
    cases = [("c1", 0, 1000), ("c1", 90, 215), ("c1", -7, 20), ("c1", 990, 1012), ("c2", -5, 340)]
    cases += [("c2", 400, 410), ("c2", 5, 5)]
    for chrom, start, end in cases:
        got = codes_to_str(g.fetch(chrom, start, end))
        assert got == _reference_fetch(seqs[chrom], start, end), (chrom, start, end)


def test_fetch_result_is_independent_copy_in_memory(tmp_path, seqs):
    g = Genome(write_fasta(tmp_path / "g.fa", seqs), in_memory=True)
    a = g.fetch("c2", 0, 10)
    a[:] = 4
    assert codes_to_str(g.fetch("c2", 0, 10)) == seqs["c2"][:10]


def test_in_memory_chosen_by_size_threshold(tmp_path, seqs):
    fa = write_fasta(tmp_path / "g.fa", seqs)
    assert Genome(fa).in_memory
    assert not Genome(fa, in_memory_max_bp=1332).in_memory
    assert Genome(fa, in_memory=True, in_memory_max_bp=10).in_memory


def test_missing_index_is_built_and_reported(tmp_path, seqs, caplog):
    fa = write_fasta(tmp_path / "g.fa", seqs, index=False)
    with caplog.at_level(logging.WARNING, logger="genodil.genome.io"):
        g = Genome(fa, in_memory=False)
    assert (tmp_path / "g.fa.fai").exists()
    assert "building it" in caplog.text
    assert codes_to_str(g.fetch("c2", 10, 20)) == seqs["c2"][10:20]


def test_missing_fasta_raises(tmp_path):
    with pytest.raises(InputError, match=r"FASTA file .*nope\.fa does not exist"):
        Genome(tmp_path / "nope.fa")


def test_unindexable_fasta_raises(tmp_path):
    (tmp_path / "bad.fa").write_text(">c1\nACGTACGT\nAC\nACGTACGT\n")  # ragged lines
    with pytest.raises(InputError, match=r"cannot index FASTA .*bad\.fa"):
        Genome(tmp_path / "bad.fa")


def test_unknown_chromosome_hint(tmp_path, seqs):
    g = Genome(write_fasta(tmp_path / "g.fa", {"chr1": seqs["c2"]}))
    with pytest.raises(InputError, match=r"'1' is not in FASTA .*calls it 'chr1'"):
        g.fetch("1", 0, 10)


def _child_fetch(genome: Genome, queue) -> None:
    queue.put(codes_to_str(genome.fetch("c1", 300, 400)))


def test_genome_survives_fork_and_pickle(tmp_path, seqs):
    g = Genome(write_fasta(tmp_path / "g.fa", seqs), in_memory=False)
    g.fetch("c1", 0, 10)  # opens the handle in the parent
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    p = ctx.Process(target=_child_fetch, args=(g, queue))
    p.start()
    got = queue.get(timeout=30)
    p.join(timeout=30)
    assert got == _reference_fetch(seqs["c1"], 300, 400)
    g2 = pickle.loads(pickle.dumps(g))
    assert codes_to_str(g2.fetch("c1", 300, 400)) == got


def test_parse_region():
    assert parse_region("IV:0-500,000") == ("IV", 0, 500000)
    with pytest.raises(InputError, match="chrom:start-end"):
        parse_region("IV:500")
    with pytest.raises(InputError, match="end <= start"):
        parse_region("IV:10-5")


def test_read_bed_skips_headers_and_keeps_names(tmp_path):
    p = tmp_path / "r.bed"
    p.write_text("track name=x\n# comment\nc1\t10\t20\tpeak1\nc2\t0\t5\n\n")
    df = read_bed(p)
    assert df["chrom"].tolist() == ["c1", "c2"]
    assert df["start"].tolist() == [10, 0]
    assert df["end"].tolist() == [20, 5]
    assert df["name"].tolist() == ["peak1", ""]


def test_read_bed_drops_unknown_chromosomes(tmp_path):
    p = write_bed(tmp_path / "r.bed", [("c1", 1, 2), ("chrM", 1, 2)])
    df = read_bed(p, chrom_sizes={"c1": 100})
    assert df["chrom"].tolist() == ["c1"]
    with pytest.raises(InputError, match=r"none of its chromosomes \(c1, chrM\)"):
        read_bed(p, chrom_sizes={"c9": 100})


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "holds no intervals"),
        ("# only a comment\n", "holds no intervals"),
        ("c1\t20\t10\n", r"line 1: start 20 > end 10"),
        ("c1\t0\t10\nc1\tx\t10\n", r"line 2: start and end must be integers"),
        ("c1\t0\n", "line 1: needs at least 3"),
    ],
)
def test_read_bed_bad_input_raises(tmp_path, text, match):
    p = tmp_path / "bad.bed"
    p.write_text(text)
    with pytest.raises(InputError, match=match) as e:
        read_bed(p, "regions BED")
    assert str(p) in str(e.value)


def test_read_bed_missing_file_raises(tmp_path):
    with pytest.raises(InputError, match=r"blacklist file .*nope\.bed does not exist"):
        read_bed(tmp_path / "nope.bed", "blacklist")


def test_alias_chrom():
    assert alias_chrom("1", "add_chr") == "chr1"
    assert alias_chrom("chr1", "add_chr") == "chr1"
    assert alias_chrom("chr1", "strip_chr") == "1"
    assert alias_chrom("X", "strip_chr") == "X"
    assert alias_chrom("chr1", "none") == "chr1"


def test_chrom_agreement_names_prefix_mismatch_and_fix(tmp_path):
    fasta_sizes = {"1": 100, "2": 50}
    bw = write_bigwig(tmp_path / "t.bw", {"chr1": np.ones(100), "chr2": np.ones(50)})
    others = {str(bw): bigwig_chrom_sizes(bw)}
    with pytest.raises(InputError) as e:
        check_chrom_agreement("g.fa", fasta_sizes, others, ["1", "2"])
    msg = str(e.value)
    assert "t.bw" in msg and "lacks 1, 2" in msg and "chrom_alias: add_chr" in msg
    check_chrom_agreement("g.fa", fasta_sizes, others, ["1", "2"], chrom_alias="add_chr")


def test_chrom_agreement_lists_missing_and_length_mismatch(tmp_path):
    fasta_sizes = {"c1": 100, "c2": 50, "c3": 10}
    a = write_bigwig(tmp_path / "a.bw", {"c1": np.ones(100)}, chrom_sizes={"c1": 100, "c2": 60})
    others = {str(a): bigwig_chrom_sizes(a)}
    with pytest.raises(InputError) as e:
        check_chrom_agreement("g.fa", fasta_sizes, others, ["c1", "c2", "c3"])
    msg = str(e.value)
    assert "lacks c3" in msg
    assert "c2: 60 bp vs 50 in the FASTA" in msg
    check_chrom_agreement("g.fa", fasta_sizes, others, ["c1"])  # only the chromosomes used


def test_bigwig_chrom_sizes_rejects_non_bigwig(tmp_path):
    p = tmp_path / "x.bw"
    p.write_text("not a bigwig\n")
    with pytest.raises(InputError, match="not a readable bigWig"):
        bigwig_chrom_sizes(p)
    with pytest.raises(InputError, match="does not exist"):
        bigwig_chrom_sizes(tmp_path / "missing.bw")
