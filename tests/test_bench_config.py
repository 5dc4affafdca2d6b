"""benchmarks/bench_variant_accuracy.py's run config: the simulator's tracks, the config's keys."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _bench():
    path = ROOT / "benchmarks" / "bench_variant_accuracy.py"
    spec = importlib.util.spec_from_file_location("bench_variant_accuracy", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_write_config_keeps_per_track_keys_and_takes_the_simulators_files(tmp_path):
    config = tmp_path / "in.yaml"
    raw = yaml.safe_load((ROOT / "configs" / "longrange.yaml").read_text())
    raw["data"]["tracks"][0].update(head="softplus", path="elsewhere.bw")
    config.write_text(yaml.safe_dump(raw))
    manifest = {
        "files": {"fasta": "genome.fa"},
        "tracks": [
            {"name": "local", "path": "local.bw"},
            {"name": "cage_plus", "path": "cp.bw", "strand_pair": "cage_minus"},
            {"name": "cage_minus", "path": "cm.bw", "strand_pair": "cage_plus"},
        ],
        "splits": {"valid": ["chr2"], "test": ["chr4"]},
    }
    args = argparse.Namespace(config=str(config), minutes=1.5)
    out = yaml.safe_load(_bench().write_config(args, manifest, tmp_path, tmp_path).read_text())
    tracks = out["data"]["tracks"]
    assert [t["name"] for t in tracks] == ["local", "cage_plus", "cage_minus"]
    assert tracks[0] == {"name": "local", "path": "local.bw", "head": "softplus"}
    assert tracks[1]["path"] == "cp.bw" and tracks[1]["strand_pair"] == "cage_minus"
    assert out["train"]["max_time"] == "00:00:01:30"
    assert out["data"]["splits"] == {"valid": ["chr2"], "test": ["chr4"]}
    assert out["data_root"] == str(tmp_path)
