"""Progress reporting: plain periodic lines off a terminal, silence when disabled."""

from __future__ import annotations

import io

import pytest

from genodil.progress import format_amount, format_duration, progress_bar


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0s"), (9.4, "9s"), (75, "1m15s"), (3725, "1h02m")]
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_format_amount():
    assert format_amount(4_100_000, "bp", True) == "4.1 Mbp"
    assert format_amount(999, "bp", True) == "999 bp"
    assert format_amount(1234, "variants", False) == "1,234 variants"


def test_plain_lines_off_a_terminal_with_percent_and_eta():
    out = io.StringIO()
    with progress_bar(200, "predict", "bp", stream=out, interval=0) as bar:
        bar.update(50)
        bar.update(50)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("predict: 50 bp of 200 bp (25%)") and "ETA" in lines[0]
    assert lines[1].startswith("predict: 100 bp of 200 bp (50%)")
    assert lines[-1].startswith("predict: done, 100 bp in ")
    assert "\r" not in out.getvalue()  # no bar redraws in a log file


def test_plain_lines_are_rate_limited_and_errors_are_not_reported_as_done():
    out = io.StringIO()
    with pytest.raises(RuntimeError), progress_bar(10, "score", stream=out, interval=3600) as bar:
        for _ in range(10):
            bar.update()
        raise RuntimeError("boom")
    assert out.getvalue() == ""  # within the interval, and no "done" after an error


def test_disabled_writes_nothing_and_terminal_gets_a_bar():
    out = io.StringIO()
    with progress_bar(10, "quiet", stream=out, enabled=False) as bar:
        bar.update(10)
    assert out.getvalue() == ""
    tty = _Tty()
    with progress_bar(10, "bar", "bp", stream=tty) as bar:
        bar.update(10)
    assert "\r" in tty.getvalue() and "bar" in tty.getvalue()  # tqdm redraws in place
