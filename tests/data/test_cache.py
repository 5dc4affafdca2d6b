"""The memory-mapped cache: same items as streaming, reuse, invalidation, float16."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch

from genodil.data.cache import build_cache
from genodil.data.datamodule import GenomeDataModule
from genodil.data.tracks import to_track_specs
from genodil.errors import InputError
from genodil.genome.io import Genome
from tests.helpers import write_bigwig


def _args(small, **kw) -> dict:
    args = {
        "fasta": str(small.fasta),
        "tracks": small.tracks(scale=0.01, log1p=True),
        "window": 512,
        "crop": 64,
        "bin_size": 2,
        "splits": {"valid": ["c2"], "test": ["c3:0-1500"]},
        "max_n_fraction": 0.2,
        "augment": {"reverse_complement": True, "max_shift": 3, "jitter": 30},
        "in_memory": False,
    }
    args.update(kw)
    return args


def test_cached_items_equal_streaming_items(small, tmp_path):
    stream = GenomeDataModule(**_args(small))
    cached = GenomeDataModule(**_args(small, cache_dir=str(tmp_path / "cache")))
    for split in ("train", "valid", "test"):
        assert stream.windows(split).equals(cached.windows(split))
        a, b = stream.dataset(split), cached.dataset(split)
        for i in range(len(a)):
            x, y = a[(i, 2)], b[(i, 2)]
            assert torch.equal(x["seq"], y["seq"]) and torch.equal(x["target"], y["target"])
            assert (x["chrom"], x["start"]) == (y["chrom"], y["start"])
    # reads past chromosome ends pad with N / zeros in both
    g, t = cached._seq_source, cached._track_source
    np.testing.assert_array_equal(g.fetch("c3", 2990, 3010), stream.genome.fetch("c3", 2990, 3010))
    np.testing.assert_array_equal(t.values("c3", -5, 10), stream.tracks.values("c3", -5, 10))


def test_cache_is_reused_and_rebuilt_when_a_source_changes(small, tmp_path):
    cache = tmp_path / "cache"
    genome = Genome(small.fasta)
    specs = to_track_specs(small.tracks())
    build_cache(genome, specs, cache)
    files = sorted(cache.glob("*/values.f32")) + sorted(cache.glob("*/codes.u8"))
    assert len(files) == 4
    stamps = {p: p.stat().st_mtime_ns for p in files}
    build_cache(genome, specs, cache)
    assert {p: p.stat().st_mtime_ns for p in files} == stamps  # reused, not rewritten
    # rewrite the plus track with other values: size or mtime changes, its entry is rebuilt
    new = {c: np.full(n, 7.0) for c, n in genome.chrom_sizes.items()}
    write_bigwig(small.plus, new)
    st = os.stat(small.plus)
    os.utime(small.plus, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))
    _, t2 = build_cache(genome, specs, cache)
    changed = [p for p in files if p.stat().st_mtime_ns != stamps[p]]
    assert len(changed) == 1 and changed[0].parent == t2.entries[1]
    np.testing.assert_array_equal(t2.values("c1", 0, 4)[1], [7, 7, 7, 7])
    # an interrupted build (no meta.json) is not trusted
    (t2.entries[0] / "meta.json").unlink()
    _, t3 = build_cache(genome, specs, cache)
    np.testing.assert_array_equal(t3.values("c2", 10, 12)[0], [100_010, 100_011])


def test_cache_readers_pickle_without_their_maps(small, tmp_path):
    g, t = build_cache(Genome(small.fasta), to_track_specs(small.tracks()), tmp_path / "c")
    t.values("c1", 0, 10)
    g.read_raw("c1", 0, 10)
    g2, t2 = pickle.loads(pickle.dumps(g)), pickle.loads(pickle.dumps(t))
    assert g2._mm is None and t2._mm is None
    np.testing.assert_array_equal(t2.values("c1", 0, 10), t.values("c1", 0, 10))


def test_float16_cache(small, tmp_path):
    strands = to_track_specs(small.tracks()[1:])
    _, t = build_cache(Genome(small.fasta), strands, tmp_path / "c", dtype="float16")
    assert t.dtypes[0] == np.float16
    np.testing.assert_allclose(
        t.values("c1", 0, 100)[0], small.plus_values["c1"][:100], rtol=1e-3, atol=1e-3
    )
    # the index track reaches 200,000 on c3, above the float16 range
    index = to_track_specs(small.tracks()[:1])
    with pytest.raises(InputError, match="too large for a float16 cache"):
        build_cache(Genome(small.fasta), index, tmp_path / "d", dtype="float16")
