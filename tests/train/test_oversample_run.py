"""Training with data.oversample: bad settings exit 2 before anything is written.

A run stopped mid-epoch and resumed with oversampling: tests/train/test_resume.py
(the ``oversample`` case of the SIGINT resume test)."""

from __future__ import annotations

import pytest

from genodil.cli import main


@pytest.mark.parametrize(
    "options, message",
    [
        (["--data.oversample.track", "peek"], "did you mean 'peak'"),
        (["--data.oversample.track=peak", "--data.oversample.fraction=1.5"], "between 0 and 1"),
        (["--data.oversample", "{track: peak, min_signal: 1e9}"], "lower data.oversample"),
    ],
)
def test_bad_oversample_exits_2_before_anything_is_written(
    tiny_config, tmp_path, capsys, options, message
):
    out = tmp_path / "run"
    assert main(["train", "--config", str(tiny_config), "--out", str(out), *options]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists() or not any(out.iterdir())
