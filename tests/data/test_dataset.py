"""WindowDataset items against slow references; augmentation; the sampler's rank shares."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from genodil.data.datamodule import GenomeDataModule
from genodil.data.dataset import WindowSampler
from tests.data.conftest import OFFSET, SIZES


def _one_hot_reference(seq: str) -> np.ndarray:
    out = np.zeros((4, len(seq)), dtype=np.float32)
    for j, ch in enumerate(seq.upper()):
        if ch in "ACGT":
            out["ACGT".index(ch), j] = 1.0
    return out


def _window_seq(seqs: dict[str, str], chrom: str, start: int, end: int) -> str:
    s = seqs[chrom]
    return "".join(s[i] if 0 <= i < len(s) else "N" for i in range(start, end))


def _index_reference(chrom: str, start: int, end: int) -> np.ndarray:
    k = list(SIZES).index(chrom)
    return np.array([k * OFFSET + i if 0 <= i < SIZES[chrom] else 0.0 for i in range(start, end)])


def _dm(small, **kw) -> GenomeDataModule:
    args = {
        "fasta": str(small.fasta),
        "tracks": small.tracks(),
        "window": 512,
        "crop": 64,
        "bin_size": 1,
        "splits": {"valid": ["c2"], "test": ["c3:0-1500"]},
        "max_n_fraction": 1.0,
        "batch_size": 4,
    }
    args.update(kw)
    dm = GenomeDataModule(**args)
    dm.setup("fit")
    return dm


@pytest.mark.parametrize("in_memory", [False, True])
def test_items_match_slow_references(small, in_memory):
    dm = _dm(
        small,
        bin_size=8,
        in_memory=in_memory,
        tracks=small.tracks(scale=0.001, log1p=True, pool="mean"),
    )
    ds = dm.dataset("valid")
    assert len(ds) == len(dm.windows("valid")) > 0
    for i in range(len(ds)):
        item = ds[i]
        chrom, start, end = item["chrom"], item["start"], item["end"]
        assert (end - start) == 512 and item["seq"].dtype == torch.float32
        np.testing.assert_array_equal(
            item["seq"].numpy(), _one_hot_reference(_window_seq(small.seqs, chrom, start, end))
        )
        assert item["target"].shape == (3, dm.output_length) == (3, (512 - 128) // 8)
        idx = _index_reference(chrom, start + 64, end - 64)
        ref_index = [
            sum(math.log1p(0.001 * x) for x in idx[b : b + 8]) / 8 for b in range(0, 384, 8)
        ]
        np.testing.assert_allclose(item["target"][0].numpy(), ref_index, rtol=1e-5)
        plus = small.plus_values[chrom][start + 64 : end - 64]
        ref_plus = [sum(plus[b : b + 8]) for b in range(0, 384, 8)]
        np.testing.assert_allclose(item["target"][1].numpy(), ref_plus, rtol=1e-5)


def test_reverse_complement_flips_seq_reverses_targets_and_swaps_pairs(small):
    dm = _dm(small, augment={"reverse_complement": True})
    train = dm.dataset("train")
    plain = _dm(small).dataset("train")  # the same windows, no augmentation
    _, flips = train.augmentation(0)
    assert 0.2 < flips.mean() < 0.8
    for i in range(len(train)):
        a, b = train[(i, 0)], plain[i]
        assert (a["chrom"], a["start"], a["end"]) == (b["chrom"], b["start"], b["end"])
        if flips[i]:
            rc = b["seq"].flip(0).flip(1)  # complement = row reversal in A, C, G, T order
            assert torch.equal(a["seq"], rc)
            assert torch.equal(a["target"][0], b["target"][0].flip(0))
            assert torch.equal(a["target"][1], b["target"][2].flip(0))  # plus <- reversed minus
            assert torch.equal(a["target"][2], b["target"][1].flip(0))
        else:
            assert torch.equal(a["seq"], b["seq"]) and torch.equal(a["target"], b["target"])


def test_shift_and_jitter_keep_targets_aligned_and_are_reproducible(small):
    aug = {"max_shift": 3, "jitter": 40}
    dm = _dm(small, augment=aug, seed=7)
    ds, base = dm.dataset("train"), dm.windows("train")
    moved = 0
    for epoch in (0, 1):
        for i in range(len(ds)):
            item = ds[(i, epoch)]
            off = item["start"] - int(base.start[i])
            assert abs(off) <= 43 and item["end"] - item["start"] == 512
            moved += off != 0
            chrom, start, end = item["chrom"], item["start"], item["end"]
            np.testing.assert_array_equal(
                item["target"][0].numpy(), _index_reference(chrom, start + 64, end - 64)
            )
            np.testing.assert_array_equal(
                item["seq"].numpy(), _one_hot_reference(_window_seq(small.seqs, chrom, start, end))
            )
    assert moved > len(ds)
    again = _dm(small, augment=aug, seed=7).dataset("train")
    other = _dm(small, augment=aug, seed=8).dataset("train")
    starts = [ds[(i, 1)]["start"] for i in range(len(ds))]
    assert starts == [again[(i, 1)]["start"] for i in range(len(ds))]
    assert starts != [ds[(i, 0)]["start"] for i in range(len(ds))]
    assert starts != [other[(i, 1)]["start"] for i in range(len(ds))]


@pytest.mark.parametrize("replicas", [2, 3])
@pytest.mark.parametrize("n", [10, 11])
def test_sampler_shares_are_disjoint(replicas, n):
    data = list(range(n))
    for drop_last in (True, False):
        shares = [
            list(WindowSampler(data, replicas, r, shuffle=True, seed=3, drop_last=drop_last))
            for r in range(replicas)
        ]
        flat = [i for s in shares for i in s]
        assert len(flat) == len(set(flat))
        if drop_last:
            assert {len(s) for s in shares} == {n // replicas}
        else:
            assert sorted(flat) == data
        assert [len(s) for s in shares] == [
            len(WindowSampler(data, replicas, r, drop_last=drop_last)) for r in range(replicas)
        ]


def test_sampler_yields_epoch_and_reshuffles():
    s = WindowSampler(list(range(20)), shuffle=True, seed=0, with_epoch=True)
    e0 = list(s)
    s.set_epoch(1)
    e1 = list(s)
    assert {e for _, e in e0} == {0} and {e for _, e in e1} == {1}
    assert sorted(i for i, _ in e0) == sorted(i for i, _ in e1) == list(range(20))
    assert [i for i, _ in e0] != [i for i, _ in e1]


def test_held_batches_are_never_overwritten(small):
    """The main-process loader reuses batch buffers only once nothing references them."""
    dm = _dm(small, batch_size=2, augment={"reverse_complement": True})
    loader = dm.train_dataloader()
    first = next(iter(loader))
    view = first["seq"][:, :, :10]  # a view alone must keep the buffer
    seq0, target0 = first["seq"].clone(), first["target"].clone()
    del first
    for _ in range(3):
        for _batch in loader:
            pass
    assert torch.equal(view, seq0[:, :, :10])
    batches = list(loader)
    again = list(loader)
    for a, b in zip(batches, again, strict=True):
        assert torch.equal(a["seq"], b["seq"]) and torch.equal(a["target"], b["target"])
    assert not torch.equal(target0, torch.zeros_like(target0))
