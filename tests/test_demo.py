"""`genodil demo` wires every step; a few training steps keep the test short."""

import json

import pandas as pd
import pyBigWig
import pytest
import yaml

from genodil.demo import demo_config_path, run_demo


def test_demo_config_is_the_shipped_one_and_uses_simulated_names():
    cfg = yaml.safe_load(demo_config_path().read_text())
    names = [t["name"] for t in cfg["data"]["tracks"]]
    assert names == ["local", "distal", "cage_plus", "cage_minus"]
    assert cfg["data"]["splits"] == {"valid": ["chr3"], "test": ["chr4"]}


@pytest.mark.slow
def test_run_demo_writes_every_output(tmp_path):
    out = tmp_path / "demo"
    summary = run_demo(
        out,
        max_minutes=5,
        progress=False,
        overrides=[
            "--train.max_epochs",
            "1",
            "--train.limit_train_batches",
            "3",
            "--train.limit_val_batches",
            "2",
        ],
    )
    for name in (
        "metrics.json",
        "variants.tsv",
        "variants.skipped.tsv",
        "summary.png",
        "summary.json",
        "run/config.yaml",
        "run/checkpoints/best.ckpt",
    ):
        assert (out / name).exists(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["tracks"]) == {"local", "distal", "cage_plus", "cage_minus"}
    for track in metrics["tracks"]:
        bw = pyBigWig.open(str(out / "predictions" / f"{track}.bw"))
        assert "chr4" in bw.chroms()
        bw.close()
    scores = pd.read_csv(out / "variants.tsv", sep="\t")
    assert len(scores) == summary["variants_scored"] > 50
    assert {"SAD_local", "logFC_distal", "maxabs_cage_plus", "JSD_cage_minus"} <= set(scores)
