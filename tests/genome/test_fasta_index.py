"""FASTA indexes: stale .fai detection and rebuild, bgzip FASTA, compressed FASTA messages."""

from __future__ import annotations

import gzip
import shutil
import subprocess

import numpy as np
import pytest

from genodil.errors import InputError
from genodil.genome.encode import encode
from genodil.genome.io import Genome, fasta_compression
from tests.helpers import random_seq, write_fasta

SEQS = {"a": random_seq(250, seed=1), "b": random_seq(130, seed=2)}


def _codes(text: str) -> np.ndarray:
    return encode(text)


def test_rewrapped_fasta_with_old_index_is_rebuilt(tmp_path, caplog):
    fa = write_fasta(tmp_path / "g.fa", SEQS, width=60)
    old_fai = (tmp_path / "g.fa.fai").read_text()
    write_fasta(fa, SEQS, width=70, index=False)  # re-wrapped; the 60-wide index stays
    with caplog.at_level("WARNING"):
        g = Genome(fa, in_memory=False)
    assert "is stale" in caplog.text
    assert (tmp_path / "g.fa.fai").read_text() != old_fai
    np.testing.assert_array_equal(g.fetch("a", 55, 125), _codes(SEQS["a"][55:125]))
    assert len(g.fetch("b", 0, 60)) == 60


def test_rewritten_fasta_with_other_lengths_is_rebuilt(tmp_path):
    fa = write_fasta(tmp_path / "g.fa", SEQS)
    new = {"a": SEQS["a"][:200], "b": SEQS["b"] + "ACGT" * 5}
    write_fasta(fa, new, index=False)
    g = Genome(fa, in_memory=False)
    assert g.chrom_sizes == {"a": 200, "b": 150}
    np.testing.assert_array_equal(g.fetch("b", 100, 150), _codes(new["b"][100:150]))


def test_matching_index_is_kept(tmp_path):
    fa = write_fasta(tmp_path / "g.fa", SEQS)
    fai = tmp_path / "g.fa.fai"
    before = fai.stat().st_mtime_ns
    Genome(fa)
    assert fai.stat().st_mtime_ns == before


def test_stale_index_in_read_only_folder_raises(tmp_path, read_only_dir):
    folder = tmp_path / "ro"
    folder.mkdir()
    fa = write_fasta(folder / "g.fa", SEQS, width=60)
    write_fasta(fa, SEQS, width=50, index=False)
    stale = r"index .*g.fa.fai is stale .*samtools faidx"
    with read_only_dir(folder), pytest.raises(InputError, match=stale):
        Genome(fa)


def test_missing_index_in_read_only_folder_raises(tmp_path, read_only_dir):
    folder = tmp_path / "ro"
    folder.mkdir()
    fa = write_fasta(folder / "g.fa", SEQS, index=False)
    missing = r"has no index .*g.fa.fai.*samtools faidx"
    with read_only_dir(folder), pytest.raises(InputError, match=missing):
        Genome(fa)
    assert not list(folder.glob(".*tmp*"))


def _bgzip(src, dst) -> None:
    from Bio import bgzf

    with open(src, "rb") as fh, bgzf.BgzfWriter(str(dst), "wb") as out:
        out.write(fh.read())


def test_bgzipped_fasta_reads_like_plain(tmp_path):
    fa = write_fasta(tmp_path / "g.fa", SEQS, index=False)
    gz = tmp_path / "g.fa.gz"
    _bgzip(fa, gz)
    assert fasta_compression(gz) == "bgzf"
    g = Genome(gz, in_memory=False)
    assert g.chrom_sizes == {"a": 250, "b": 130}
    np.testing.assert_array_equal(g.fetch("a", 100, 240), _codes(SEQS["a"][100:240]))
    assert (tmp_path / "g.fa.gz.gzi").exists()


def test_plain_gzip_fasta_says_how_to_convert(tmp_path):
    fa = write_fasta(tmp_path / "g.fa", SEQS, index=False)
    gz = tmp_path / "g.fa.gz"
    with open(fa, "rb") as fh, gzip.open(gz, "wb") as out:
        shutil.copyfileobj(fh, out)
    with pytest.raises(InputError, match=r"gzip-compressed.*bgzip.*samtools faidx.*gunzip -c"):
        Genome(gz)


def test_bgzip_under_a_plain_name_is_named(tmp_path):
    fa = write_fasta(tmp_path / "g.fa", SEQS, index=False)
    _bgzip(fa, tmp_path / "g2.fa")
    with pytest.raises(InputError, match=r"does not end in \.gz"):
        Genome(tmp_path / "g2.fa")


def test_duplicate_sequence_name_names_the_file(tmp_path):
    fa = tmp_path / "dup.fa"
    fa.write_text(">a\nACGT\n>b\nACGT\n>a\nTTTT\n")
    with pytest.raises(InputError, match=r"dup.fa holds two sequences named 'a'"):
        Genome(fa)


@pytest.mark.skipif(shutil.which("samtools") is None, reason="samtools not installed")
def test_index_agrees_with_samtools(tmp_path):  # pragma: no cover - optional tool
    fa = write_fasta(tmp_path / "g.fa", SEQS, index=False)
    Genome(fa)
    ours = (tmp_path / "g.fa.fai").read_text()
    subprocess.run(["samtools", "faidx", str(fa)], check=True)
    assert (tmp_path / "g.fa.fai").read_text() == ours
