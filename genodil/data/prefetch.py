"""Prefetch: prepare the next batches in a background thread while the model computes.

With ``num_workers: 0`` the main process reads and decodes every batch (FASTA, bigWig values,
one-hot encoding, augmentation) between training steps, so on a 2-core machine one core idles
while the other decodes. :class:`Prefetcher` runs the loader's iterator in one daemon thread
and hands its batches over through a bounded queue; PyTorch's kernels release the GIL, so the
decoding overlaps the step. Batches arrive in exactly the order the wrapped iterator yields
them, and an exception in the thread is raised in the consumer at the same place.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any

__all__ = ["Prefetcher"]

_DONE = object()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class Prefetcher:
    """Iterate ``iterable`` in a background thread, ``depth`` items ahead of the consumer.

    Parameters
    ----------
    iterable : iterable
        Iterated once per ``iter(prefetcher)``, each time in a new thread.
    depth : int
        Items held ready at most (>= 1).

    Notes
    -----
    Leaving a loop early (``break``) or dropping the iterator stops the thread at its next
    hand-over; the thread is a daemon, so it never keeps the interpreter alive.
    """

    def __init__(self, iterable: Iterable[Any], depth: int = 2) -> None:
        if depth < 1:
            raise ValueError(f"prefetch depth must be >= 1, got {depth}")
        self.iterable = iterable
        self.depth = int(depth)

    def __len__(self) -> int:
        return len(self.iterable)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[Any]:
        items: queue.Queue = queue.Queue(maxsize=self.depth)
        stop = threading.Event()

        def put(item: Any) -> bool:
            while not stop.is_set():
                try:
                    items.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        def produce() -> None:
            try:
                for item in self.iterable:
                    if not put(item):
                        return
            except BaseException as err:  # noqa: BLE001 (handed to the consumer, raised there)
                put(_Failure(err))
                return
            put(_DONE)

        thread = threading.Thread(target=produce, name="genodil-prefetch", daemon=True)
        thread.start()
        return _Consumer(items, stop, thread)


class _Consumer(Iterator[Any]):
    def __init__(self, items: queue.Queue, stop: threading.Event, thread: threading.Thread):
        self._items, self._stop, self._thread = items, stop, thread

    def __next__(self) -> Any:
        if self._stop.is_set():
            raise StopIteration
        item = self._items.get()
        if item is _DONE:
            self.close()
            raise StopIteration
        if isinstance(item, _Failure):
            self.close()
            raise item.error
        return item

    def close(self) -> None:
        """Stop the producer thread (it exits at its next hand-over)."""
        self._stop.set()

    def __del__(self) -> None:
        self._stop.set()
