"""Window tables: tiling, centring, splits, N-fraction and blacklist filters."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genodil.data.windows import (
    drop_blacklisted,
    filter_n_fraction,
    find_n_runs,
    n_fraction,
    region_windows,
    split_intervals,
    split_windows,
    tile_windows,
)
from genodil.errors import InputError
from genodil.genome.intervals import intervals_overlap
from genodil.genome.io import Genome
from tests.helpers import interval_rows, interval_table, random_seq, write_fasta


def test_tile_windows_known_answer():
    intervals = interval_table(
        """chrom start end
           a     0     25
           b     5     15
           c     0     9"""
    )
    got = tile_windows(intervals, window=10, stride=8)
    # a: 0, 8, then one flush with the end (15); b: exactly one; c: too short
    assert interval_rows(got) == [("a", 0, 10), ("a", 8, 18), ("a", 15, 25), ("b", 5, 15)]


def test_split_intervals_by_chromosome_and_region_with_margin():
    sizes = {"II": 1000, "IV": 2000, "XVI": 500}
    iv = split_intervals(sizes, {"valid": ["IV:0-600"], "test": ["XVI"]}, margin=7)
    assert interval_rows(iv["valid"]) == [("IV", 0, 600)]
    assert interval_rows(iv["test"]) == [("XVI", 0, 500)]
    assert interval_rows(iv["train"]) == [("II", 0, 1000), ("IV", 607, 2000)]


def test_split_intervals_explicit_train():
    sizes = {"a": 100, "b": 100, "c": 100}
    iv = split_intervals(sizes, {"train": ["a", "b:0-50"], "val": ["c"]})
    assert interval_rows(iv["train"]) == [("a", 0, 100), ("b", 0, 50)]
    assert interval_rows(iv["valid"]) == [("c", 0, 100)]


@pytest.mark.parametrize(
    ("splits", "match"),
    [
        ({"vaild": ["a"]}, r"unknown split 'vaild' \(did you mean 'valid'"),
        ({"valid": ["chra"]}, r"'chra' is not among .* \(did you mean 'a'"),
        ({"valid": ["zz"]}, "'zz' is not among"),
        ({"valid": ["a:0-200"]}, "runs past the end of a"),
        ({"valid": ["a:0-50"], "test": ["a:40-60"]}, "valid and test overlap"),
        ({"valid": ["a:x-50"]}, "write it as chrom:start-end"),
    ],
)
def test_split_intervals_bad_input_raises(splits, match):
    with pytest.raises(InputError, match=match):
        split_intervals({"a": 100, "b": 100}, splits)


def test_random_tiles_never_overlap_held_out_regions():
    rng = np.random.default_rng(0)
    sizes = {"a": 50_000, "b": 20_000, "c": 9_000}
    for trial in range(20):
        starts = rng.integers(0, 40_000, 2)
        splits = {
            "valid": [f"a:{starts[0]}-{starts[0] + rng.integers(1, 5000)}"],
            "test": ["c", f"b:{starts[1] % 15000}-{starts[1] % 15000 + 3000}"],
        }
        margin = int(rng.integers(0, 300))
        iv = split_intervals(sizes, splits, margin=margin)
        window, stride = int(rng.integers(100, 3000)), int(rng.integers(50, 3000))
        train = tile_windows(iv["train"], window, stride)
        held = pd.concat([iv["valid"], iv["test"]])
        assert len(train), trial
        # widened by the margin, a training window still misses every held-out base
        assert not intervals_overlap(train, held, pad=margin).any(), trial


def test_region_windows_centred_and_moved_inside():
    bed = interval_table("chrom start end\n a 100 110\n a 0 4\n a 995 1000\n b 10 20")
    bed["name"] = ["p1", "p2", "p3", "p4"]
    got = region_windows(bed, window=50, chrom_sizes={"a": 1000, "b": 30})
    assert interval_rows(got) == [("a", 80, 130), ("a", 0, 50), ("a", 950, 1000)]  # b is too short
    assert got["name"].tolist() == ["p1", "p2", "p3"]


def test_split_windows_assigns_whole_windows():
    w = interval_table("chrom start end\n a 0 10\n a 45 55\n a 60 70\n b 0 10")
    iv = {
        "train": interval_table("chrom start end\n a 0 50\n b 0 100"),
        "valid": interval_table("chrom start end\n a 50 100"),
    }
    got = split_windows(w, iv)
    assert interval_rows(got["train"]) == [("a", 0, 10), ("b", 0, 10)]
    assert interval_rows(got["valid"]) == [("a", 60, 70)]


def test_n_fraction_matches_sequence_count(tmp_path):
    seq = list(random_seq(3000, seed=3))
    for s, e in [(0, 40), (500, 520), (521, 600), (1990, 2010), (2999, 3000)]:
        seq[s:e] = "N" * (e - s)
    seq[700] = "R"  # IUPAC counts as N
    seq = "".join(seq)
    g = Genome(write_fasta(tmp_path / "g.fa", {"a": seq}), in_memory=False)
    runs = find_n_runs(g, chunk=256)  # runs cross chunk borders
    rng = np.random.default_rng(0)
    starts = rng.integers(-50, 3000, 200)
    w = pd.DataFrame({"chrom": ["a"] * 200, "start": starts, "end": starts + 120})
    got = n_fraction(w, runs, {"a": 3000})
    padded = "N" * 200 + seq + "N" * 200  # bases past the ends count as N
    ref = [sum(ch not in "ACGT" for ch in padded[s + 200 : s + 320]) / 120 for s in starts]
    np.testing.assert_allclose(got, ref)
    kept = filter_n_fraction(w, runs, {"a": 3000}, 0.1)
    assert len(kept) == sum(f <= 0.1 for f in got)


def test_drop_blacklisted_uses_output_region():
    w = interval_table("chrom start end\n a 0 100\n a 100 200\n a 200 300")
    black = interval_table("chrom start end\n a 195 205")
    # crop 10: output regions [10,90) [110,190) [210,290): none hit
    assert len(drop_blacklisted(w, black, crop=10)) == 3
    assert interval_rows(drop_blacklisted(w, black, crop=0)) == [("a", 0, 100)]
