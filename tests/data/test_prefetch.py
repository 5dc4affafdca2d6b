"""Prefetcher: same items in the same order, errors raised in the consumer, early exit."""

from __future__ import annotations

import pickle
import threading
import time

import pytest
import torch

from genodil.data.datamodule import GenomeDataModule
from genodil.data.prefetch import Prefetcher
from tests.data.test_datamodule import _args


def test_items_arrive_in_order_and_the_thread_is_not_the_consumer():
    seen_threads = []

    def produce():
        for i in range(50):
            seen_threads.append(threading.current_thread().name)
            yield i

    assert list(Prefetcher(produce(), depth=3)) == list(range(50))
    assert set(seen_threads) == {"genodil-prefetch"}
    assert list(Prefetcher(range(7), depth=1)) == list(range(7))  # re-iterable source


def test_an_error_in_the_producer_is_raised_in_the_consumer_after_the_items_before_it():
    def produce():
        yield 1
        yield 2
        raise KeyError("bad window")

    got = []
    with pytest.raises(KeyError, match="bad window"):
        for item in Prefetcher(produce(), depth=4):
            got.append(item)  # noqa: PERF402 (the items before the error)
    assert got == [1, 2]


def test_leaving_the_loop_early_stops_the_thread():
    it = iter(Prefetcher(iter(range(10**9)), depth=2))
    assert next(it) == 0
    it.close()
    deadline = time.monotonic() + 5
    while it._thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not it._thread.is_alive()
    with pytest.raises(StopIteration):
        next(it)


def test_bad_depth_raises():
    with pytest.raises(ValueError, match="depth"):
        Prefetcher([], depth=0)


def test_prefetched_training_batches_equal_the_plain_ones(small):
    """Same batches (sequence, targets, coordinates) in the same order, two epochs."""
    args = _args(small, augment={"reverse_complement": True, "max_shift": 3, "jitter": 20})
    plain = GenomeDataModule(**args, prefetch=0)
    ahead = GenomeDataModule(**args, prefetch=3)
    for epoch in (0, 1):
        batches = []
        for dm in (plain, ahead):
            dm.set_epoch(epoch)
            batches.append(list(dm.train_dataloader()))
        assert len(batches[0]) == len(batches[1]) > 2
        for a, b in zip(*batches, strict=True):
            assert a["chrom"] == b["chrom"]
            for key in ("seq", "target", "start", "end"):
                torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)
    assert ahead.train_dataloader().prefetch == 3
    assert ahead.val_dataloader().prefetch == 0  # evaluation reads in the main thread
    pickle.loads(pickle.dumps(ahead))  # the lock is not part of the pickled state
