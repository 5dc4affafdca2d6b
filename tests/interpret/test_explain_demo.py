"""benchmarks/explain_demo.py end to end in its --quick mode, on simulated data."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.interpret.models import small_resnet, write_checkpoint

pytest.importorskip("modiscolite")
pytest.importorskip("pyjaspar")

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "explain_demo.py"


@pytest.mark.slow
def test_explain_demo_quick_run_reports_every_section(tmp_path):
    """A random two-track model on the tiny simulation: every section runs and reports.

    The figures' values mean nothing for an untrained model; the trained-model agreement is
    tests/interpret/test_agreement.py's.
    """
    from genodil.simulate import simulate

    data = tmp_path / "sim"
    written = simulate(data, preset="tiny", seed=0)
    tracks = [{"name": t, "path": str(data / f"{t}.bw")} for t in ("local", "distal")]
    splits = {"valid": ["chr3"], "test": ["chr4"]}
    ckpt = write_checkpoint(
        tmp_path / "m.ckpt",
        small_resnet(n_tracks=2, crop=20),
        ["local", "distal"],
        600,  # output 560 bp: holds the 400-bp peak regions
        written["fasta"],
        data={"tracks": tracks, "splits": splits},
    )
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(ckpt), str(data), "--out", str(out), "--quick"],
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == json.loads((out / "explain_demo.json").read_text())
    assert result["held_out"] == ["chr3", "chr4"]
    agreement = result["agreement"]
    assert agreement["n_sites"] == 6  # one site of each planted motif
    assert agreement["per_track"]["distal"]["n"] == 1  # sp1 is explained on distal too
    assert -1 <= agreement["pearson"] <= 1
    motifs = result["motifs_local_predicted"]
    assert motifs["n_regions"] == 40 and set(motifs["best_planted_q"]) == {
        "ap1", "ets", "sp1", "tata", "gata", "nfy"
    }  # fmt: skip
    marg = result["marginalize"]["ap1"]
    assert marg["motif"]["true"]["local"] > 100 > abs(marg["control"]["true"]["local"])
    assert result["spacing"]["spacing"] == [100]  # 1500 bp does not fit a 600-bp window
    assert len(result["variants"]["variants"]) == 2
    for name in ("agreement.png", "marginalize.png"):
        assert (out / "figures" / name).stat().st_size > 1000
    assert (out / "explain" / "variant_001.png").exists()
