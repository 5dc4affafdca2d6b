"""merge_bigwigs: disjoint per-chromosome bigWigs become one, values intact."""

import numpy as np
import pyBigWig
import pytest

from genodil.errors import InputError
from genodil.predict.merge import merge_bigwigs
from tests.helpers import write_bigwig

SIZES = {"c1": 3000, "c2": 1500}


def test_merge_bigwigs_keeps_every_value(tmp_path):
    v1 = np.arange(3000, dtype=float)
    v2 = np.full(1500, np.nan)
    v2[100:700] = np.arange(600) * 0.5
    a = write_bigwig(tmp_path / "a.bw", {"c1": v1}, SIZES)
    b = write_bigwig(tmp_path / "b.bw", {"c2": v2}, SIZES)
    out = merge_bigwigs([a, b], tmp_path / "m.bw")
    bw = pyBigWig.open(str(out))
    assert bw.chroms() == SIZES
    np.testing.assert_array_equal(bw.values("c1", 0, 3000, numpy=True), v1)
    np.testing.assert_array_equal(bw.values("c2", 0, 1500, numpy=True), v2)
    bw.close()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_merge_bigwigs_overlap_raises(tmp_path):
    a = write_bigwig(tmp_path / "a.bw", {"c1": np.ones(3000)}, SIZES)
    b = write_bigwig(tmp_path / "b.bw", {"c1": np.ones(3000)}, SIZES)
    with pytest.raises(InputError, match="overlap on c1"):
        merge_bigwigs([a, b], tmp_path / "m.bw")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bw", "b.bw"]


def test_merge_bigwigs_other_genome_raises(tmp_path):
    a = write_bigwig(tmp_path / "a.bw", {"c1": np.ones(3000)}, SIZES)
    b = write_bigwig(tmp_path / "b.bw", {"c1": np.ones(10)}, {"c1": 10})
    with pytest.raises(InputError, match="same FASTA"):
        merge_bigwigs([a, b], tmp_path / "m.bw")
