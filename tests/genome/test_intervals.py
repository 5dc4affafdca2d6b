"""Interval tables: merge, subtract, overlap, containment and tiling against loop references."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genodil.genome.intervals import (
    intervals_contain,
    intervals_overlap,
    merge_intervals,
    subtract_intervals,
    tile_intervals,
)
from tests.helpers import interval_rows, interval_table


def _random_table(rng: np.random.Generator, n: int, chroms=("a", "b")) -> pd.DataFrame:
    starts = rng.integers(0, 200, n)
    return pd.DataFrame(
        {
            "chrom": rng.choice(list(chroms), n).astype(object),
            "start": starts.astype(np.int64),
            "end": (starts + rng.integers(1, 30, n)).astype(np.int64),
        }
    )


def _covered(df: pd.DataFrame, chrom: str, size: int = 300) -> np.ndarray:
    mask = np.zeros(size, bool)
    for c, s, e in interval_rows(df):
        if c == chrom:
            mask[s:e] = True
    return mask


def test_subtract_intervals_known_answer():
    a = interval_table("chrom start end\n a 0 100\n b 0 50")
    b = interval_table("chrom start end\n a 10 20\n a 15 30\n a 90 120\n c 0 5")
    assert interval_rows(subtract_intervals(a, b)) == [("a", 0, 10), ("a", 30, 90), ("b", 0, 50)]


def test_merge_intervals_matches_base_mask_and_joins_touching():
    rng = np.random.default_rng(1)
    for trial in range(30):
        df = _random_table(rng, int(rng.integers(0, 12)))
        got = merge_intervals(df, chrom_order=["b", "a"])
        assert list(dict.fromkeys(got["chrom"])) == [c for c in ("b", "a") if c in set(df.chrom)]
        for chrom in ("a", "b"):
            part = got[got["chrom"] == chrom]
            np.testing.assert_array_equal(_covered(part, chrom), _covered(df, chrom), str(trial))
            # disjoint and not touching: merged
            assert (part["start"].to_numpy()[1:] > part["end"].to_numpy()[:-1]).all()
    touching = interval_table("chrom start end\n a 0 5\n a 5 9")
    assert interval_rows(merge_intervals(touching)) == [("a", 0, 9)]


def test_subtract_overlap_and_contain_match_loops():
    rng = np.random.default_rng(2)
    for trial in range(30):
        a, b = _random_table(rng, 8), _random_table(rng, 5)
        for chrom in ("a", "b"):
            want = _covered(a, chrom) & ~_covered(b, chrom)
            np.testing.assert_array_equal(_covered(subtract_intervals(a, b), chrom), want)
        pad = int(rng.integers(0, 3))
        mask = {c: _covered(b, c) for c in ("a", "b")}
        overlap = [mask[c][max(s - pad, 0) : e + pad].any() for c, s, e in interval_rows(a)]
        inside = [
            any(c == c2 and s2 <= s and e <= e2 for c2, s2, e2 in interval_rows(merge_intervals(b)))
            for c, s, e in interval_rows(a)
        ]
        assert intervals_overlap(a, b, pad=pad).tolist() == overlap, trial
        assert intervals_contain(a, b).tolist() == inside, trial


def test_intervals_overlap_is_half_open():
    w = interval_table("chrom start end\n a 0 10\n a 10 20\n a 25 30\n b 0 10")
    iv = interval_table("chrom start end\n a 10 11")
    assert intervals_overlap(w, iv).tolist() == [False, True, False, False]
    assert intervals_overlap(w, iv, pad=1).tolist() == [True, True, False, False]


def _tile_loop(df: pd.DataFrame, size: int, stride: int, last: str) -> list[tuple]:
    out = []
    for i, (c, s, e) in enumerate(interval_rows(df)):
        pos = s
        while pos < e:
            if last == "partial":
                out.append((c, pos, min(pos + size, e), i))
            elif pos + size <= e:
                out.append((c, pos, pos + size, i))
            pos += stride
        if last == "flush" and e - s >= size and (not out or out[-1][2] != e or out[-1][3] != i):
            out.append((c, e - size, e, i))
    return out


@pytest.mark.parametrize("last", ["flush", "partial"])
def test_tile_intervals_matches_loop(last):
    rng = np.random.default_rng(3)
    for trial in range(40):
        df = _random_table(rng, int(rng.integers(0, 6)))
        size, stride = int(rng.integers(1, 12)), int(rng.integers(1, 12))
        got = tile_intervals(df, size, stride, last=last)
        rows = [(*r, int(i)) for r, i in zip(interval_rows(got), got["interval"], strict=True)]
        assert rows == _tile_loop(df, size, stride, last), (trial, size, stride)


def test_tile_intervals_partial_covers_every_base_once():
    df = interval_table("chrom start end\n a 3 20\n b 0 4")
    got = tile_intervals(df, 6, 6, last="partial")
    assert interval_rows(got) == [("a", 3, 9), ("a", 9, 15), ("a", 15, 20), ("b", 0, 4)]
    with pytest.raises(ValueError, match=">= 1"):
        tile_intervals(df, 0, 6)
