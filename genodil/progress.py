"""Progress of long work: a bar with ETA on a terminal, plain periodic lines in a log.

Every long-running command (predict, score-variants, evaluate, interpret, simulate) reports
through :func:`progress_bar`. On a terminal it is a tqdm bar with rate and ETA; when stderr is
not a terminal (a log file, a Snakemake job, a pipe) a bar's carriage returns would make an
unreadable log, so a line such as ``predict: 4.10 Mbp of 12.0 Mbp (34%), 1m12s elapsed, ETA
2m19s`` is written every ``interval`` seconds and once at the end. ``--quiet`` passes
``enabled=False`` and nothing is written.
"""

from __future__ import annotations

import sys
import time
from typing import IO, Any

__all__ = ["format_amount", "format_duration", "progress_bar"]

#: Seconds between two plain progress lines when stderr is not a terminal.
LOG_INTERVAL = 30.0


def format_duration(seconds: float) -> str:
    """``75`` -> ``"1m15s"``, ``3725`` -> ``"1h02m"``, ``9`` -> ``"9s"``."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def format_amount(n: float, unit: str, scale: bool) -> str:
    """``4_100_000, "bp", True`` -> ``"4.10 Mbp"``; without ``scale``, ``"1,234 windows"``."""
    if not scale:
        return f"{int(n):,} {unit}"
    for factor, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= factor:
            return f"{n / factor:.3g} {prefix}{unit}"
    return f"{n:.0f} {unit}"


class _LineProgress:
    """Plain-text progress lines at most every ``interval`` seconds, and one at the end."""

    def __init__(self, total, desc, unit, unit_scale, stream, interval) -> None:
        self.total, self.desc, self.unit, self.scale = total, desc, unit, unit_scale
        self.stream, self.interval = stream, interval
        self.n = 0.0
        self.start = self.last = time.monotonic()
        self.closed = False

    def _line(self, now: float, final: bool) -> str:
        elapsed = now - self.start
        done = format_amount(self.n, self.unit, self.scale)
        if final:
            return f"{self.desc}: done, {done} in {format_duration(elapsed)}"
        if not self.total:
            return f"{self.desc}: {done}, {format_duration(elapsed)} elapsed"
        frac = min(self.n / self.total, 1.0)
        eta = elapsed * (1 - frac) / frac if frac > 0 else None
        total = format_amount(self.total, self.unit, self.scale)
        tail = f", ETA {format_duration(eta)}" if eta is not None else ""
        return (
            f"{self.desc}: {done} of {total} ({frac:.0%}), {format_duration(elapsed)} elapsed{tail}"
        )

    def update(self, n: float = 1) -> None:
        self.n += n
        now = time.monotonic()
        if now - self.last >= self.interval:
            self.last = now
            print(self._line(now, final=False), file=self.stream, flush=True)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            print(self._line(time.monotonic(), final=True), file=self.stream, flush=True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is None:
            self.close()
        else:
            self.closed = True  # an error is reported by whoever catches it, not as "done"


class _NoProgress:
    n = 0

    def update(self, n: float = 1) -> None:
        self.n += n

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass


def progress_bar(
    total: float | None,
    desc: str,
    unit: str = "it",
    *,
    enabled: bool = True,
    unit_scale: bool = False,
    stream: IO[str] | None = None,
    interval: float | None = None,
) -> Any:
    """A progress reporter with ``update(n)``, ``close()`` and context-manager use.

    Parameters
    ----------
    total : float or None
        Amount of work (None when unknown: no percentage or ETA).
    desc : str
        What is being done (the command's name).
    unit : str
        Unit of ``total`` and ``update`` (``"bp"``, ``"variants"``, ``"windows"``).
    enabled : bool
        False (``--quiet``) reports nothing.
    unit_scale : bool
        Show amounts with k/M/G prefixes.
    stream : file, optional
        Where to write; default ``sys.stderr``.
    interval : float, optional
        Seconds between plain lines when ``stream`` is not a terminal (default
        :data:`LOG_INTERVAL`).

    Returns
    -------
    A tqdm bar (terminal), a plain-line reporter (not a terminal) or a silent one.
    """
    stream = sys.stderr if stream is None else stream
    if not enabled:
        return _NoProgress()
    if getattr(stream, "isatty", lambda: False)():
        from tqdm.auto import tqdm

        return tqdm(
            total=total,
            desc=desc,
            unit=unit,
            unit_scale=unit_scale,
            dynamic_ncols=True,
            leave=False,
            file=stream,
        )
    return _LineProgress(
        total, desc, unit, unit_scale, stream, LOG_INTERVAL if interval is None else interval
    )
