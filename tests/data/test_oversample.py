"""data.oversample: positive windows against a base-by-base reference, the drawn fraction,
determinism, resume and DDP shares, the unchanged default, and bad settings."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pyBigWig
import pytest
import torch

from genodil.config import load_config
from genodil.data.datamodule import GenomeDataModule
from genodil.data.dataset import WindowSampler
from genodil.data.oversample import (
    check_oversample,
    oversample_order,
    positive_slots,
    window_signal,
)
from genodil.errors import InputError
from tests.data.conftest import SIZES
from tests.helpers import write_bigwig

SPLITS = {"valid": ["c2"], "test": ["c3:0-1500"]}


def _sparse_values(seed: int = 0) -> dict[str, np.ndarray]:
    """A track that is 0 on most bases: a few single bases and short runs, some negative,
    some exactly 1.0 (a min_signal boundary), and an uncovered stretch (reads as 0)."""
    rng = np.random.default_rng(seed)
    out = {}
    for c, n in SIZES.items():
        v = np.zeros(n)
        for pos in rng.choice(n, size=n // 2500, replace=False):
            v[pos : pos + rng.integers(1, 12)] = rng.choice([-1.5, 0.25, 1.0, 2.0, 7.0])
        out[c] = v
    out["c1"][1400:1500] = np.nan  # uncovered
    out["c1"][[0, 5999]] = [3.0, 0.5]  # chromosome ends
    out["c1"][3000] = np.nan
    out["c1"][2000:2800] = 0.0
    out["c1"][2400] = -1.5  # only a negative value around here
    out["c1"][4000:4800] = 0.0
    out["c1"][[4400, 4420]] = [0.25, -7.0]  # the positive value is the smaller one
    return out


@pytest.fixture
def sparse(small) -> Path:
    # with zoom levels: approximate summaries would see bases outside the windows
    return write_bigwig(small.root / "sparse.bw", _sparse_values(), max_zooms=10)


def _dm(small, sparse, **kw) -> GenomeDataModule:
    args = {**_plain_args(small, sparse), "oversample": {"track": "sparse", "fraction": 0.5}}
    args.update(kw)
    return GenomeDataModule(**args)


def _coords(loader) -> list[tuple[str, int]]:
    """(chrom, start) of every window a loader yields, in order."""
    return [(c, s) for b in loader for c, s in zip(b["chrom"], b["start"].tolist(), strict=True)]


def _slow_positive(path, windows, crop: int, reach: int, min_signal: float) -> np.ndarray:
    """Reference: read the bigWig one base at a time over each window's reachable output."""
    bw = pyBigWig.open(str(path))
    out = []
    for chrom, start, end in windows.itertuples(index=False):
        size = bw.chroms(chrom)
        best = 0.0
        for i in range(max(start + crop - reach, 0), min(end - crop + reach, size)):
            v = bw.values(chrom, i, i + 1)[0]
            if not np.isnan(v):
                best = max(best, abs(v))
        out.append(best > min_signal)
    bw.close()
    return np.array(out)


@pytest.mark.parametrize(
    "min_signal, augment",
    [
        (0.0, None),
        (1.0, None),
        (0.0, {"jitter": 20, "max_shift": 3}),
        (1.9, {"jitter": 50, "reverse_complement": True}),
    ],
)
def test_positive_windows_match_a_base_by_base_reference(small, sparse, min_signal, augment):
    dm = _dm(small, sparse, augment=augment)
    dm.oversample["min_signal"] = min_signal
    dm.setup("fit")
    reach = sum((augment or {}).get(k, 0) for k in ("jitter", "max_shift"))
    expected = _slow_positive(sparse, dm.windows("train"), 64, reach, min_signal)
    assert 0 < expected.sum() < len(expected) - 10  # both kinds, and a mix that matters
    np.testing.assert_array_equal(dm.positive_windows(), expected)


def test_window_signal_maps_chromosome_names(small, tmp_path):
    values = _sparse_values(seed=3)
    plain = write_bigwig(tmp_path / "plain.bw", values)
    prefixed = write_bigwig(tmp_path / "chr.bw", {f"chr{c}": v for c, v in values.items()})
    dm = GenomeDataModule(
        fasta=str(small.fasta), tracks=small.tracks(), window=512, crop=64, splits=SPLITS
    )
    windows = dm.windows("train")
    a = window_signal(str(plain), windows, 64, 64)
    b = window_signal(str(prefixed), windows, 64, 64, chrom_alias="add_chr")
    np.testing.assert_array_equal(a, b)
    assert a.max() > 0


def test_epoch_draws_the_asked_fraction_of_positive_windows(small, sparse):
    dm = _dm(small, sparse)
    positive = _slow_positive(sparse, dm.windows("train"), 64, 0, 0.0)
    natural = positive.mean()
    assert natural < 0.35  # far from the asked 0.5: plain shuffling would fail below
    index = {(c, s): i for i, (c, s, _) in enumerate(dm.windows("train").itertuples(index=False))}
    loader = dm.train_dataloader()
    drawn = []
    for epoch in range(3):
        loader.sampler.set_epoch(epoch)
        coords = _coords(loader)
        assert len(coords) == len(positive)  # the epoch keeps its length
        drawn.append(positive[[index[x] for x in coords]])
    n = len(positive)
    for d in drawn:
        assert d.sum() == positive_slots(n, 0.5)  # exactly round(0.5 * n) per epoch
    assert abs(np.concatenate(drawn).mean() - 0.5) < 0.01


def test_positive_windows_repeat_evenly_and_negatives_do_not_repeat():
    rng = np.random.default_rng(1)
    positive = np.zeros(1000, bool)
    positive[rng.choice(1000, 30, replace=False)] = True
    order = oversample_order(positive, 0.5, seed=4, epoch=2)
    assert len(order) == 1000
    counts = np.bincount(order, minlength=1000)
    assert counts[positive].sum() == 500
    assert set(counts[positive]) <= {500 // 30, 500 // 30 + 1}
    assert set(counts[~positive]) <= {0, 1} and counts[~positive].sum() == 500
    # fewer positives asked than there are: each drawn at most once, negatives repeat
    many = rng.random(1000) < 0.7
    order = oversample_order(many, 0.2, seed=0, epoch=0)
    counts = np.bincount(order, minlength=1000)
    assert counts[many].sum() == 200 and counts[many].max() == 1
    assert counts[~many].sum() == 800 and counts[~many].min() >= 2


def test_draw_depends_on_seed_and_epoch_only():
    positive = np.arange(200) % 9 == 0
    a = oversample_order(positive, 0.3, seed=1, epoch=0)
    np.testing.assert_array_equal(a, oversample_order(positive.copy(), 0.3, seed=1, epoch=0))
    assert not np.array_equal(a, oversample_order(positive, 0.3, seed=2, epoch=0))
    assert not np.array_equal(a, oversample_order(positive, 0.3, seed=1, epoch=1))
    with pytest.raises(ValueError):
        oversample_order(np.ones(5, bool), 0.5, 0, 0)


def test_loader_order_is_reproducible_by_seed(small, sparse):
    def order(seed, epoch=0):
        dm = _dm(small, sparse, seed=seed)
        dm.set_epoch(epoch)
        return _coords(dm.train_dataloader())

    first = order(1)
    assert first == order(1)
    assert first != order(2) and first != order(1, epoch=1)


def test_sampler_resume_and_ddp_shares_follow_one_order():
    ds = list(range(101))
    positive = np.arange(101) % 10 == 0
    full = oversample_order(positive, 0.5, seed=3, epoch=5).tolist()
    one = WindowSampler(ds, shuffle=True, seed=3, drop_last=True, positive=positive)
    one.set_epoch(5)
    assert list(one) == full and len(one) == 101
    one.skip_next(5, 40)  # resume after 40 windows of epoch 5
    assert list(one) == full[40:]
    shares = []
    for rank in range(2):
        s = WindowSampler(ds, 2, rank, shuffle=True, seed=3, drop_last=True, positive=positive)
        s.set_epoch(5)
        shares.append(list(s))
        assert len(shares[-1]) == len(s) == 50
    assert [i for pair in zip(*shares, strict=True) for i in pair] == full[:100]


def test_off_keeps_the_plain_shuffle(small, sparse):
    """oversample null: the same order as before the option existed (randperm by seed+epoch)."""
    dm = _dm(small, sparse, oversample=None, seed=7)
    dm.set_epoch(2)
    loader = dm.train_dataloader()
    g = torch.Generator()
    g.manual_seed(7 + 2)
    expected = torch.randperm(len(dm.windows("train")), generator=g).tolist()
    assert [i for i, _ in loader.sampler] == expected
    plain = GenomeDataModule(**_plain_args(small, sparse), seed=7)
    plain.set_epoch(2)
    for x, y in zip(loader, plain.train_dataloader(), strict=True):
        assert torch.equal(x["seq"], y["seq"]) and torch.equal(x["target"], y["target"])
        assert x["chrom"] == y["chrom"] and torch.equal(x["start"], y["start"])


def _plain_args(small, sparse) -> dict:
    """The data module's arguments without the oversample key (and without a seed)."""
    return {
        "fasta": str(small.fasta),
        "tracks": [*small.tracks(), {"name": "sparse", "path": str(sparse)}],
        "window": 512,
        "crop": 64,
        "stride": 97,
        "splits": SPLITS,
        "max_n_fraction": 1.0,
        "batch_size": 4,
    }


def test_workers_draw_the_same_batches_as_the_main_process(small, sparse):
    aug = {"reverse_complement": True, "jitter": 10}
    b0 = list(_dm(small, sparse, augment=aug, num_workers=0).train_dataloader())
    b2 = list(_dm(small, sparse, augment=aug, num_workers=2).train_dataloader())
    assert len(b0) == len(b2)
    for x, y in zip(b0, b2, strict=True):
        assert torch.equal(x["seq"], y["seq"]) and torch.equal(x["target"], y["target"])
        assert torch.equal(x["start"], y["start"])


def test_setup_logs_the_counts_and_eval_loaders_are_unchanged(small, sparse, caplog):
    dm = _dm(small, sparse)
    with caplog.at_level(logging.INFO, logger="genodil.data.datamodule"):
        dm.setup("fit")
    n, n_pos = len(dm.windows("train")), int(dm.positive_windows().sum())
    line = (
        f"oversample: {n_pos} of {n} training windows have signal on sparse; drawing 50% "
        f"({positive_slots(n, 0.5)}) of each epoch from them"
    )
    assert line in caplog.messages
    assert _coords(dm.val_dataloader()) == [
        (c, s) for c, s, _ in dm.windows("valid").itertuples(index=False)
    ]


def test_no_positive_window_raises_at_fit_setup_only(small, sparse):
    dm = _dm(small, sparse, oversample={"track": "sparse", "min_signal": 100})
    dm.setup("test")  # evaluation never needs the positive windows
    with pytest.raises(InputError, match=r"lower data\.oversample\.min_signal"):
        dm.setup("fit")


def test_every_window_positive_warns_and_shuffles_plainly(small, sparse, caplog):
    dm = _dm(small, sparse, oversample={"track": "index", "fraction": 0.3}, seed=2)
    with caplog.at_level(logging.WARNING):
        assert dm.positive_windows() is None
    assert "changes nothing" in caplog.text
    g = torch.Generator()
    g.manual_seed(2)
    n = len(dm.windows("train"))
    assert [i for i, _ in dm.train_dataloader().sampler] == torch.randperm(n, generator=g).tolist()


@pytest.mark.parametrize(
    "oversample, match",
    [
        ({"track": "spares"}, "'spares' is not a track \\(did you mean 'sparse'"),
        ({"fraction": 0.5}, "must name the track"),
        ({"track": "sparse", "fraction": 0}, "between 0 and 1"),
        ({"track": "sparse", "fraction": 1.0}, "between 0 and 1"),
        ({"track": "sparse", "fraction": "half"}, "between 0 and 1"),
        ({"track": "sparse", "fraction": True}, "between 0 and 1"),
        ({"track": "sparse", "min_signal": -1}, "min_signal must be a number >= 0"),
        ({"track": "sparse", "fractoin": 0.3}, "unknown key 'fractoin' \\(did you mean"),
        (["sparse"], "must be a mapping"),
    ],
)
def test_bad_settings_raise(small, sparse, oversample, match):
    with pytest.raises(InputError, match=match):
        _dm(small, sparse, oversample=oversample)


def test_defaults_are_filled_in():
    assert check_oversample(None) is None
    assert check_oversample({"track": "a", "min_signal": None}, ["a"]) == {
        "track": "a",
        "fraction": 0.5,
        "min_signal": 0.0,
    }


def test_config_override_sets_the_mapping(tiny_config):
    cfg = load_config(tiny_config, ["--data.oversample.track", "peak"])
    assert cfg.data["oversample"] == {"track": "peak", "fraction": 0.5, "min_signal": 0.0}
    cfg = load_config(
        tiny_config, ["--data.oversample.track=plus", "--data.oversample.fraction=0.25"]
    )
    assert cfg.data["oversample"]["fraction"] == 0.25
    assert load_config(tiny_config).data["oversample"] is None
    with pytest.raises(
        InputError, match=r"run\.yaml .*data\.oversample\.track 'nope' is not a track"
    ):
        load_config(tiny_config, ["--data.oversample.track", "nope"])
