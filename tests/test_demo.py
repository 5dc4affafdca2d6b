"""`genodil demo` wires every step; a few training steps keep the test short."""

import json

import numpy as np
import pandas as pd
import pyBigWig
import pytest
import yaml

from genodil.demo import demo_config_path, recovery_stats, run_demo


def test_demo_config_is_the_shipped_one_and_uses_simulated_names():
    cfg = yaml.safe_load(demo_config_path().read_text())
    names = [t["name"] for t in cfg["data"]["tracks"]]
    assert names == ["local", "distal", "cage_plus", "cage_minus"]
    assert cfg["data"]["splits"] == {"valid": ["chr3"], "test": ["chr4"]}


@pytest.mark.slow
def test_run_demo_writes_every_output(tmp_path, capsys):
    out = tmp_path / "demo"
    summary = run_demo(
        out,
        steps=3,
        progress=True,
        overrides=["--train.limit_train_batches", "3", "--train.limit_val_batches", "2"],
    )
    printed = capsys.readouterr()
    screen = printed.out + printed.err
    assert "litlogger" not in screen and "weights_only" not in screen
    assert "Total params" not in screen  # the model summary goes to the run folder
    assert "Total params" in (out / "run" / "model_summary.txt").read_text()
    assert "ETA" in screen and "AUROC breaking vs neutral" in screen
    assert f"plots        {out / 'plots'}" in screen
    assert summary["train_steps"] == 3
    for name in (
        "metrics.json",
        "variants.tsv",
        "variants.skipped.tsv",
        "summary.png",
        "summary.json",
        "variant_recovery.tsv",
        "plots/tracks.png",
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
    assert (out / "summary.png").read_bytes() != (out / "plots" / "tracks.png").read_bytes()
    stats = summary["variant_recovery"]
    assert set(stats["spearman_by_class"]) == {"snv_break", "snv_create", "indel", "enhancer_break"}
    assert stats["spearman_by_class"]["enhancer_break"]["n"] == 0  # longrange is not predicted
    assert 0 <= stats["auroc_break_vs_neutral"] <= 1
    top = summary["strongest_variants"]
    assert len(top) == 5 and {"track", "sad", "true"} <= set(top[0])


def test_recovery_stats_against_slow_formulas():
    rng = np.random.default_rng(0)
    n = 40
    true = rng.normal(size=n) * 100
    table = pd.DataFrame(
        {
            "class": ["snv_break"] * 20 + ["neutral"] * 20,
            "effect": ["break"] * 20 + ["neutral"] * 20,
            "predicted_track": True,
            "sad": true + rng.normal(size=n) * 50,
            "true": true,
            "max_abs_sad": np.r_[rng.uniform(1, 10, 20), rng.uniform(0, 5, 20)],
        }
    )
    stats = recovery_stats(table)

    def ranks(x):
        return np.argsort(np.argsort(x))  # no ties here

    part = table[table["class"] == "snv_break"]
    a, b = ranks(part["sad"].to_numpy()), ranks(part["true"].to_numpy())
    rho = np.corrcoef(a, b)[0, 1]
    assert stats["spearman_by_class"]["snv_break"]["spearman"] == pytest.approx(rho)
    assert "neutral" not in stats["spearman_by_class"]
    brk, neu = table["max_abs_sad"][:20].to_numpy(), table["max_abs_sad"][20:].to_numpy()
    pairs = [(x > y) + 0.5 * (x == y) for x in brk for y in neu]
    assert stats["auroc_break_vs_neutral"] == pytest.approx(np.mean(pairs))
