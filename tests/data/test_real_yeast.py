"""Checks on the real yeast data (chromosomes II, IV, XVI); skipped when it is absent."""

from __future__ import annotations

import math

import numpy as np
import pyBigWig
import pytest
import torch

from tests.helpers import YEAST

pytestmark = [
    pytest.mark.real,
    pytest.mark.skipif(not YEAST.exists(), reason="real yeast data not present"),
]


def _dm(**kw):
    from genodil.data.datamodule import GenomeDataModule

    tracks = [
        {"name": "MNase", "path": str(YEAST / "tracks/MNase.bw")},
        {"name": "RNA.fwd", "path": str(YEAST / "tracks/RNA.fwd.bw"), "strand_pair": "RNA.rev"},
        {"name": "RNA.rev", "path": str(YEAST / "tracks/RNA.rev.bw"), "strand_pair": "RNA.fwd"},
    ]
    args = {
        "fasta": str(YEAST / "genome/R64-1-1.II_IV_XVI.fa"),
        "tracks": tracks,
        "window": 8192,
        "crop": 512,
        "splits": {"valid": ["IV:0-500000"], "test": ["XVI"]},
        "in_memory": False,
    }
    args.update(kw)
    return GenomeDataModule(**args)


def test_yeast_windows_respect_region_split():
    dm = _dm(augment={"jitter": 1000, "max_shift": 3})
    train = dm.windows("train")
    assert set(train.chrom) == {"II", "IV"}
    iv = train[train.chrom == "IV"]
    assert iv.start.min() >= 500_000 + 1003  # held-out region plus the jitter/shift margin
    assert set(dm.windows("test").chrom) == {"XVI"}
    assert dm.windows("valid").end.max() <= 500_000


def test_yeast_targets_match_bigwig_and_rc_swaps_rna_strands():
    dm = _dm(augment={"reverse_complement": True})
    ds = dm.dataset("train")
    plain = _dm().dataset("train")
    _, flips = ds.augmentation(0)
    i = int(np.flatnonzero(flips)[3])
    a, b = ds[(i, 0)], plain[i]
    chrom, start, end = b["chrom"], b["start"], b["end"]
    bw = pyBigWig.open(str(YEAST / "tracks/RNA.fwd.bw"))
    ref = [0.0 if math.isnan(v) else v for v in bw.values(chrom, start + 512, end - 512)]
    np.testing.assert_allclose(b["target"][1].numpy(), ref, rtol=1e-6)
    assert b["target"][1].sum() != b["target"][2].sum()  # the strands differ here
    assert torch.equal(a["target"][1], b["target"][2].flip(0))  # fwd <- reversed rev
    assert torch.equal(a["target"][2], b["target"][1].flip(0))
    assert torch.equal(a["target"][0], b["target"][0].flip(0))  # MNase is unstranded
    assert torch.equal(a["seq"], b["seq"].flip(0).flip(1))


def test_yeast_alias_mismatch_is_reported():
    from genodil.errors import InputError

    with pytest.raises(InputError, match=r"lacks II \(as chrII\)"):
        _dm(chrom_alias="add_chr")
