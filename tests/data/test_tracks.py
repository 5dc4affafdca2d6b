"""bigWig reading and track transforms against base-by-base and loop references."""

from __future__ import annotations

import math
import multiprocessing as mp
import pickle

import numpy as np
import pyBigWig
import pytest
import torch

from genodil.data.tracks import (
    Tracks,
    TrackSpec,
    describe_units,
    pool_bins_np,
    strand_pair_index,
    to_track_specs,
    transform_tracks,
    untransform_tracks,
)
from genodil.errors import InputError
from genodil.models.layers import pool_bins
from tests.helpers import write_bigwig

SIZES = {"c1": 500, "c2": 120}


@pytest.fixture
def bigwigs(tmp_path):
    """``index.bw``: value at base i is i; ``holes.bw``: 2 * i with NaN (uncovered) gaps."""
    idx = write_bigwig(
        tmp_path / "index.bw", {c: np.arange(n, dtype=float) for c, n in SIZES.items()}
    )
    holes = {c: 2.0 * np.arange(n) for c, n in SIZES.items()}
    holes["c1"][50:80] = np.nan
    holes["c2"][:10] = np.nan
    return idx, write_bigwig(tmp_path / "holes.bw", holes)


def _reference_values(path, chrom: str, start: int, end: int) -> np.ndarray:
    """pyBigWig read one base at a time; NaN and outside the chromosome -> 0."""
    bw = pyBigWig.open(str(path))
    size = bw.chroms()[chrom]
    out = []
    for i in range(start, end):
        v = bw.values(chrom, i, i + 1)[0] if 0 <= i < size else 0.0
        out.append(0.0 if math.isnan(v) else v)
    bw.close()
    return np.array(out, dtype=np.float32)


def test_values_match_base_by_base_reference(bigwigs):
    tracks = Tracks([TrackSpec("idx", str(bigwigs[0])), TrackSpec("holes", str(bigwigs[1]))])
    for chrom, start, end in [
        ("c1", 0, 500),
        ("c1", 40, 90),
        ("c1", -20, 30),
        ("c1", 480, 530),
        ("c2", -3, 125),
        ("c2", 200, 210),
    ]:
        got = tracks.values(chrom, start, end)
        assert got.shape == (2, end - start) and got.dtype == np.float32
        for t, path in enumerate(bigwigs):
            np.testing.assert_array_equal(got[t], _reference_values(path, chrom, start, end))
    # value i at base i: coordinates are 0-based half-open
    np.testing.assert_array_equal(tracks.values("c1", 10, 15)[0], [10, 11, 12, 13, 14])


def test_values_with_chr_alias(tmp_path):
    bw = write_bigwig(tmp_path / "chr.bw", {"chr1": np.arange(100, dtype=float)})
    tracks = Tracks([TrackSpec("t", str(bw))], chrom_alias="add_chr")
    np.testing.assert_array_equal(tracks.values("1", 5, 8)[0], [5, 6, 7])


def _child_values(tracks: Tracks, queue) -> None:
    queue.put(tracks.values("c1", 100, 110)[0].tolist())


def test_tracks_open_lazily_and_survive_fork_and_pickle(bigwigs):
    tracks = Tracks([TrackSpec("idx", str(bigwigs[0]))])
    assert tracks._handles is None  # nothing opened by __init__
    tracks.values("c1", 0, 5)
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    p = ctx.Process(target=_child_values, args=(tracks, queue))
    p.start()
    got = queue.get(timeout=30)
    p.join(timeout=30)
    assert got == list(range(100, 110))
    t2 = pickle.loads(pickle.dumps(tracks))
    assert t2._handles is None
    assert t2.values("c1", 100, 110)[0].tolist() == got


def test_missing_bigwig_raises(tmp_path):
    with pytest.raises(InputError, match=r"bigWig of track 'x' file .*missing\.bw does not"):
        Tracks([{"name": "x", "path": str(tmp_path / "missing.bw")}])


def _transform_reference(v: np.ndarray, spec: TrackSpec, bin_size: int) -> np.ndarray:
    out = []
    for x in v.tolist():
        x *= spec.scale
        if spec.clip_soft is not None and x > spec.clip_soft:
            x = spec.clip_soft + math.sqrt(x - spec.clip_soft)
        if spec.clip is not None and x > spec.clip:
            x = spec.clip
        if spec.log1p:
            x = math.log1p(x)
        out.append(x)
    binned = []
    for b in range(0, len(out), bin_size):
        s = sum(out[b : b + bin_size])
        binned.append(s if spec.pool == "sum" else s / bin_size)
    return np.array(binned)


@pytest.mark.parametrize("bin_size", [1, 4])
def test_transforms_match_loop_reference_in_documented_order(bin_size):
    rng = np.random.default_rng(0)
    v = rng.gamma(0.7, 20.0, size=(5, 64)).astype(np.float32)
    specs = [
        TrackSpec("a", "a.bw"),
        TrackSpec("b", "b.bw", scale=0.5, log1p=True, pool="mean"),
        TrackSpec("c", "c.bw", clip_soft=10.0),
        TrackSpec("d", "d.bw", scale=2.0, clip_soft=8.0, clip=12.0, log1p=True),
        TrackSpec("e", "e.bw", clip=5.0, pool="mean"),
    ]
    got = transform_tracks(v, specs, bin_size)
    assert got.shape == (5, 64 // bin_size) and got.dtype == np.float32
    for t, spec in enumerate(specs):
        np.testing.assert_allclose(got[t], _transform_reference(v[t], spec, bin_size), rtol=1e-5)
    # the input was not changed (inplace=False)
    assert not np.shares_memory(got, v)


def test_soft_clip_is_basenji_formula():
    v = np.array([[0.0, 4.0, 5.0, 6.0, 14.0]], dtype=np.float32)
    got = transform_tracks(v, [TrackSpec("a", "a.bw", clip_soft=5.0)])
    np.testing.assert_allclose(got[0], [0.0, 4.0, 5.0, 6.0, 8.0])  # 5 + sqrt(14 - 5) = 8


@pytest.mark.parametrize(("length", "bin_size"), [(8, 4), (8, 2), (23, 5), (4, 5), (7, 1)])
def test_pool_bins_np_matches_loop_and_drops_partial_bin(length, bin_size):
    x = np.random.default_rng(length).normal(size=(2, length)).astype(np.float32)
    n = length // bin_size
    for how in ("sum", "mean"):
        got = pool_bins_np(x, bin_size, how)
        assert got.shape == (2, n)
        for t in range(2):
            for j in range(n):
                window = [float(x[t, bin_size * j + i]) for i in range(bin_size)]
                want = sum(window) / (bin_size if how == "mean" else 1)
                assert got[t, j] == pytest.approx(want, rel=1e-5, abs=1e-6)
    with pytest.raises(ValueError, match="'sum' or 'mean'"):
        pool_bins_np(x, 2, "max")


def test_numpy_and_torch_binning_agree():
    x = np.random.default_rng(0).normal(size=(3, 2, 70)).astype(np.float32)
    for how in ("sum", "mean"):
        np.testing.assert_allclose(
            pool_bins_np(x, 32, how), pool_bins(torch.from_numpy(x), 32, how).numpy(), rtol=1e-6
        )


def test_strand_pair_index():
    specs = to_track_specs(
        [
            {"name": "dnase", "path": "d.bw"},
            {"name": "plus", "path": "p.bw", "strand_pair": "minus"},
            {"name": "minus", "path": "m.bw", "strand_pair": "plus"},
        ]
    )
    assert strand_pair_index(specs) == [0, 2, 1]
    assert strand_pair_index(specs[:1]) is None


@pytest.mark.parametrize(
    ("tracks", "match"),
    [
        (
            [{"name": "a", "path": "a.bw", "log1P": True}],
            r"unknown key 'log1P' \(did you mean 'log1p'",
        ),
        ([{"name": "a"}], "missing path"),
        ([{"name": "a", "path": "a"}, {"name": "a", "path": "b"}], "repeated: a"),
        ([{"name": "a", "path": "a", "strand_pair": "b"}], "'b' is not a track"),
        (
            [
                {"name": "a", "path": "a", "strand_pair": "b"},
                {"name": "b", "path": "b"},
            ],
            "'a' pairs with 'b', but 'b' names no partner; pairs must be mutual",
        ),
        ([{"name": "a", "path": "a", "pool": "max"}], "pool must be"),
        ([{"name": "a", "path": "a", "head": "log"}], "track 'a': head must be one of softplus"),
        ([{"name": "a", "path": "a", "clip_soft": 10, "clip": 5}], "below clip_soft"),
        ([{"name": "a", "path": "a", "loss_weight": -1}], "track 'a': loss_weight must be"),
        ([{"name": "a", "path": "a", "loss_weight": "inf"}], "loss_weight must be a finite"),
        ([{"name": "a", "path": "a", "loss_weight": True}], "not True"),
        ([{"name": "a", "path": "a", "scale": "abc"}], "track 'a': scale must be a number"),
        ([{"name": "a", "path": "a", "scale": 0}], "scale must be a finite number > 0"),
        ([{"name": "a", "path": "a", "scale": -0.5}], "scale must be a finite number > 0"),
        ([{"name": "a", "path": "a", "clip": float("inf")}], "clip must be a finite number"),
        ([{"name": "a", "path": "a", "clip_soft": [3]}], "track 'a': clip_soft must be"),
        ([{"name": "a", "path": "a", "log1p": "yes"}], "log1p must be true or false"),
        ([], "empty"),
    ],
)
def test_track_specs_bad_input_raises(tracks, match):
    with pytest.raises(InputError, match=match):
        to_track_specs(tracks)


def test_track_head_list_fills_in_model_head_and_is_none_when_no_track_sets_one():
    from genodil.data.tracks import track_head_list

    plain = to_track_specs([{"name": "a", "path": "a"}, {"name": "b", "path": "b"}])
    assert track_head_list(plain, "exp") is None
    mixed = to_track_specs(
        [{"name": "a", "path": "a", "head": "softplus"}, {"name": "b", "path": "b"}]
    )
    assert track_head_list(mixed, "exp") == ["softplus", "exp"]


def test_track_loss_weights_read_yaml_numbers_and_are_none_when_all_one():
    from genodil.data.tracks import track_loss_weights

    plain = to_track_specs([{"name": "a", "path": "a"}, {"name": "b", "path": "b"}])
    assert track_loss_weights(plain) is None
    weighted = to_track_specs(
        [{"name": "a", "path": "a", "loss_weight": "1e1"}, {"name": "b", "path": "b"}]
    )
    assert track_loss_weights(weighted) == [10.0, 1.0]


def test_transform_keys_read_yaml_number_text_as_numbers():
    (spec,) = to_track_specs([{"name": "a", "path": "a", "scale": "1e-3", "clip": "5"}])
    assert spec.scale == 0.001 and spec.clip == 5.0
    assert spec.clip_soft is None and spec.log1p is False


ROUND_TRIP_SPECS = [
    TrackSpec("identity", "a.bw"),
    TrackSpec("scale", "b.bw", scale=0.1),
    TrackSpec("log1p", "c.bw", log1p=True),
    TrackSpec("clip_soft", "d.bw", clip_soft=32.0),
    TrackSpec("all", "e.bw", scale=0.5, clip_soft=8.0, log1p=True),
]


@pytest.mark.parametrize("spec", ROUND_TRIP_SPECS, ids=lambda s: s.name)
def test_untransform_round_trips_each_invertible_transform(spec):
    v = np.random.default_rng(1).gamma(0.7, 40.0, size=(1, 256)).astype(np.float32)
    model_units = transform_tracks(v, [spec])
    back = untransform_tracks(model_units, [spec])
    np.testing.assert_allclose(back, v, rtol=2e-4, atol=1e-3)
    assert not np.shares_memory(back, model_units)


def test_untransform_known_answers_and_clip_floor():
    # scale 0.1 then soft clip at 32: raw 1000 -> 100 -> 32 + sqrt(68)
    spec = TrackSpec("x", "x.bw", scale=0.1, clip_soft=32.0)
    y = np.array([[32 + math.sqrt(68.0), 3.0]], dtype=np.float32)
    np.testing.assert_allclose(untransform_tracks(y, [spec]), [[1000.0, 30.0]], rtol=1e-5)
    # a hard clip is not undone: the clipped value is reported as it is (a floor)
    clipped = TrackSpec("c", "c.bw", clip=5.0)
    np.testing.assert_allclose(untransform_tracks(np.array([[5.0, 2.0]]), [clipped]), [[5, 2]])


def test_untransform_bins_give_per_base_means_and_batches_work():
    specs = [TrackSpec("s", "s.bw", pool="sum"), TrackSpec("m", "m.bw", pool="mean", scale=2.0)]
    v = np.arange(16, dtype=np.float32).reshape(2, 8)
    binned = transform_tracks(v, specs, bin_size=4)
    back = untransform_tracks(np.stack([binned, binned]), specs, bin_size=4)  # (B, T, L)
    expected = v.reshape(2, 2, 4).mean(-1)
    np.testing.assert_allclose(back[0], expected)
    np.testing.assert_allclose(back[1], expected)
    with pytest.raises(ValueError, match="3 track specs"):
        untransform_tracks(binned, [*specs, specs[0]])


def test_describe_units_says_which_units_and_what_was_undone():
    spec = TrackSpec("dnase", "dnase.bw", scale=0.1, clip_soft=32.0, clip=100.0)
    track = describe_units([spec], "track")["dnase"]
    assert track.startswith("track units") and "dnase.bw" in track and "floors" in track
    model = describe_units([spec], "model", bin_size=32)["dnase"]
    assert "scale=0.1, clip_soft=32, clip=100" in model and "32-bp bins" in model
