"""Every catalogue case through the real CLI: exit code, no traceback, a message that names
the culprit, and no file created, removed or changed (docs/reliability.md)."""

from __future__ import annotations

import contextlib
from collections import Counter

import pytest

from tests.reliability.cases import CASES
from tests.reliability.conftest import snapshot


def _params():
    for c in CASES:
        marks = list(c.marks)
        if c.xfail:
            marks.append(pytest.mark.xfail(reason=c.xfail, strict=True))
        yield pytest.param(c, id=c.id, marks=marks)


def test_catalogue_covers_every_command_with_enough_cases():
    commands = Counter(c.command for c in CASES)
    assert len(CASES) >= 80
    assert set(commands) >= {
        "train",
        "evaluate",
        "predict",
        "score-variants",
        "receptive-field",
        "interpret",
        "check",
        "merge-bigwig",
        "simulate",
        "demo",
    }
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", list(_params()))
def test_bad_input(case, shared, cli, tmp_path, read_only_dir):
    ws = tmp_path / "ws"
    ws.mkdir()
    run = case.make(ws, shared)
    before = snapshot(ws, shared.root)
    guard = read_only_dir(run.read_only) if run.read_only else contextlib.nullcontext()
    with guard:
        res = cli(*run.args, cwd=ws, fsize=run.fsize)
    err = res.stderr
    shown = f"exit {res.returncode}\nstderr:\n{err[-3000:]}\nstdout:\n{res.stdout[-1000:]}"
    assert res.returncode == run.code, shown
    assert "Traceback" not in err, shown
    for text in run.expect:
        assert text in err, f"{text!r} not in the message\n{shown}"
    after = snapshot(ws, shared.root)
    if run.may_write is not None:
        new = {p for p in after.keys() - before.keys() if p.startswith(str(run.may_write))}
        assert not [p for p in new if ".tmp" in p or p.endswith(".ckpt")], sorted(new)
        after = {p: b for p, b in after.items() if p not in new}
    assert sorted(after.keys() - before.keys()) == [], "files left behind"
    assert sorted(before.keys() - after.keys()) == [], "files removed"
    changed = [p for p in before if before[p] != after[p]]
    assert changed == [], "files changed"
