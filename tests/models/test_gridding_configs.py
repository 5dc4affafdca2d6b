"""The shipped configs/gridding/*.yaml and the numbers docs/receptive-field.md gives for them."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from genodil.models.receptive import analytic_reach, empirical_reach
from genodil.report.receptive import receptive_field_report

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted((ROOT / "configs" / "gridding").glob("*.yaml"))
DOC = ROOT / "docs" / "receptive-field.md"


def model_args(path: Path) -> dict:
    raw = yaml.safe_load(path.read_text())
    assert set(raw) == {"data", "model", "train"}
    data = raw["data"]
    assert data["window"] == 16384 and len(data["tracks"]) == 1
    return {**raw["model"], "crop": data["crop"], "bin_size": data["bin_size"]}


def doc_rows() -> dict[str, list[str]]:
    rows = {}
    for line in DOC.read_text().splitlines():
        m = re.match(r"\| (\S+\.yaml) \|(.*)\|$", line)
        if m:
            rows[m.group(1)] = [c.strip() for c in m.group(2).split("|")]
    return rows


def test_gridding_configs_exist_in_pairs():
    names = {p.stem for p in CONFIGS}
    assert {"rate4_gridded", "exp2_fix", "hdc_fix", "repeat8_gridded", "repeat8_aspp_fix"} <= names
    assert set(doc_rows()) == {p.name for p in CONFIGS}


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_gridding_config_numbers_match_docs(path):
    args = model_args(path)
    report = receptive_field_report(args)
    stem, _, _, r_bp, reached, blind, runs, *_ = doc_rows()[path.name]
    assert int(stem) == args["stem_kernel"]
    assert int(r_bp.replace(",", "")) == report["receptive_field_bp"]
    n, span = (int(x.replace(",", "")) for x in reached.split("/"))
    assert (n, span) == (report["reach"]["n_reached"], report["reach"]["n_span"])
    assert float(blind) == pytest.approx(report["blind_fraction"], abs=5e-5)
    assert int(runs) == report["reach"]["n_blind_runs"]
    if "gridded" in path.stem:
        assert report["blind_fraction"] > 0 and report["warning"]
    else:
        assert report["blind_fraction"] == 0 and report["warning"] is None
    # a data crop of about half the receptive field: full context for every output base
    assert 2 * args["crop"] >= report["receptive_field_bp"] - 1
    assert 16384 - 2 * args["crop"] > 0


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_gridding_config_gradient_reach_matches(path):
    args = model_args(path)
    np.testing.assert_array_equal(empirical_reach(args), analytic_reach(args))
