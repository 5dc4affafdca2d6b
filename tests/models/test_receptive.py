from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch

from genodil.models import DilatedResNet
from genodil.models.receptive import (
    analytic_reach,
    blind_fraction,
    blind_runs,
    empirical_reach,
    gridding_layers,
    layer_growth,
    sensitivity_profile,
    single_layer_blind_fraction,
)
from genodil.report.receptive import format_report, receptive_field_report

SCHEDULES = {
    "exp2": [1, 2, 4, 8],
    "repeat8": [8, 8, 8, 8],
    "rate4": [1, 4, 16],
    "hdc125": [1, 2, 5],
}


def brute_force_reach(
    stem_kernel: int,
    kernel: int,
    dilations: list[int],
    aspp: list[int] | None = None,
    bin_size: int = 1,
) -> set[int]:
    """Every sum of one tap per layer, enumerated (residual identity = the 0 tap)."""
    half_k = (kernel - 1) // 2
    layers = [range(-(stem_kernel // 2), stem_kernel // 2 + 1)]
    layers += [[j * d for j in range(-half_k, half_k + 1)] for d in dilations]
    if aspp:
        layers.append(sorted({j * r for r in aspp for j in range(-half_k, half_k + 1)}))
    layers.append(range(bin_size))
    return {sum(combo) for combo in itertools.product(*layers)}


@pytest.mark.parametrize("stem_kernel", [1, 15])
@pytest.mark.parametrize("name", list(SCHEDULES))
def test_analytic_reach_equals_gradient_reach(name, stem_kernel):
    cfg = {"stem_kernel": stem_kernel, "kernel": 3, "dilations": SCHEDULES[name]}
    analytic = analytic_reach(cfg)
    assert set(analytic.tolist()) == brute_force_reach(stem_kernel, 3, SCHEDULES[name])
    np.testing.assert_array_equal(empirical_reach(cfg), analytic)


@pytest.mark.parametrize(
    ("name", "stem1_blind", "reach_stem1"),
    [
        ("exp2", 0, 31),
        ("repeat8", 56, 9),  # multiples of 8 in [-32, 32]
        ("rate4", 16, 27),  # residue 2 mod 4 and the gaps between the copies of [-5, 5]
        ("hdc125", 0, 17),
    ],
)
def test_stem_closes_gaps_narrower_than_itself(name, stem1_blind, reach_stem1):
    stem1 = analytic_reach({"stem_kernel": 1, "dilations": SCHEDULES[name]})
    assert len(stem1) == reach_stem1
    assert int(stem1[-1] - stem1[0] + 1) - len(stem1) == stem1_blind
    # a 15-bp stem fills every gap up to 15 bp wide: all these schedules become gap-free
    stem15 = analytic_reach({"stem_kernel": 15, "dilations": SCHEDULES[name]})
    assert blind_fraction(stem15) == 0.0
    if stem1_blind == 0:
        assert len(stem15) == len(stem1) + 14  # the span grows by the stem's 14 bp
    else:
        assert len(stem15) > len(stem1) + 14


def test_stem_does_not_close_gaps_wider_than_itself():
    cfg = {"stem_kernel": 15, "dilations": [32, 32, 32]}
    reach = analytic_reach(cfg)
    # copies of [-7, 7] every 32 bp leave 17-bp holes
    assert blind_runs(reach) == [(-88, -72), (-56, -40), (-24, -8), (8, 24), (40, 56), (72, 88)]
    np.testing.assert_array_equal(empirical_reach(cfg), reach)


@pytest.mark.parametrize("kernel", [3, 5, 7])
@pytest.mark.parametrize("dilation", [1, 2, 3, 8, 13])
def test_single_layer_blind_fraction_closed_form(kernel, dilation):
    reach = analytic_reach({"stem_kernel": 1, "kernel": kernel, "dilations": [dilation]})
    expect = (kernel - 1) * (dilation - 1) / (dilation * (kernel - 1) + 1)
    assert blind_fraction(reach) == pytest.approx(expect, abs=1e-15)
    assert single_layer_blind_fraction(kernel, dilation) == pytest.approx(expect, abs=1e-15)


def test_single_layer_blind_fraction_empirical():
    cfg = {"stem_kernel": 1, "kernel": 5, "dilations": [6]}
    reach = empirical_reach(cfg)
    assert reach.tolist() == [-12, -6, 0, 6, 12]
    assert blind_fraction(reach) == pytest.approx(single_layer_blind_fraction(5, 6))


@pytest.mark.parametrize(
    "cfg",
    [
        {"stem_kernel": 1, "kernel": 3, "dilations": [8, 8], "aspp": [1, 2, 3]},
        {"stem_kernel": 3, "kernel": 5, "dilations": [1, 7], "aspp": [4, 11]},
        {"stem_kernel": 1, "kernel": 3, "dilations": [1, 4, 16], "bin_size": 4},
        {"stem_kernel": 1, "kernel": 3, "dilations": [3, 9], "bin_size": 3, "crop": 5},
    ],
)
def test_analytic_reach_with_aspp_and_bins_equals_brute_force_and_gradient(cfg):
    analytic = analytic_reach(cfg)
    expect = brute_force_reach(
        cfg["stem_kernel"], cfg["kernel"], cfg["dilations"], cfg.get("aspp"), cfg.get("bin_size", 1)
    )
    assert set(analytic.tolist()) == expect
    np.testing.assert_array_equal(empirical_reach(cfg), analytic)


def test_analytic_reach_rc_mode_adds_mirror_image_for_bins():
    # bin offsets are relative to the bin's first base: forward {0..b-1} + S, reverse its mirror
    cfg = {"stem_kernel": 1, "kernel": 3, "dilations": [5], "bin_size": 2}
    assert analytic_reach(cfg).tolist() == [-5, -4, 0, 1, 5, 6]
    rc = {**cfg, "rc_equivariant": True, "n_tracks": 2, "strand_pairs": [1, 0]}
    assert analytic_reach(rc).tolist() == [-5, -4, 0, 1, 5, 6]
    np.testing.assert_array_equal(empirical_reach(rc), analytic_reach(rc))


def test_random_signed_weights_never_reach_outside_analytic_set():
    torch.manual_seed(0)
    model = DilatedResNet(channels=8, stem_kernel=3, dilations=[1, 4, 16], crop=2)
    offsets, sens = sensitivity_profile(model)
    reached = set(offsets[sens > 0].tolist())
    analytic = set(analytic_reach(model).tolist())
    assert reached <= analytic
    assert len(reached) > 0.9 * len(analytic)  # random weights hide few, if any
    assert set(offsets.tolist()) >= analytic


def test_layer_growth_table_hand_values():
    rows = layer_growth({"stem_kernel": 1, "kernel": 3, "dilations": [1, 4, 16]})
    assert [r["name"] for r in rows] == ["stem", "block0", "block1", "block2"]
    assert [r["span_bp"] for r in rows] == [1, 3, 11, 43]
    assert [r["n_reached"] for r in rows] == [1, 3, 9, 27]
    assert rows[2]["n_blind"] == 2  # ±2
    assert rows[3]["blind_fraction"] == pytest.approx(16 / 43)


def test_gridding_layers_names_the_culprits():
    assert gridding_layers({"stem_kernel": 1, "dilations": [1, 2, 4, 8]}) == []
    names = [r["name"] for r in gridding_layers({"stem_kernel": 1, "dilations": [1, 4, 16]})]
    assert names == ["block1", "block2"]
    rate4 = {"stem_kernel": 15, "dilations": {"schedule": "exponential", "rate": 4, "blocks": 7}}
    culprits = gridding_layers(rate4)
    assert [r["dilation"] for r in culprits] == [64, 256, 1024, 4096]
    assert culprits[0]["contiguous_bp"] == 57  # stem ±7, then ±1, ±4, ±16: [-28, 28]
    # order does not matter for a Minkowski sum: a big dilation first is blamed the same way
    assert [r["name"] for r in gridding_layers({"stem_kernel": 1, "dilations": [4, 1]})] == [
        "block0"
    ]


def test_report_for_gridded_config_warns_and_suggests_gap_free_schedule(tmp_path):
    cfg = {"stem_kernel": 1, "kernel": 3, "dilations": [8, 8, 8, 8], "channels": 16}
    report = receptive_field_report(cfg, empirical=True, plot=tmp_path / "rf.png")
    json.dumps(report)  # JSON-able
    assert report["receptive_field_bp"] == 65
    assert report["blind_fraction"] == pytest.approx(56 / 65)
    assert report["empirical_match"] is True
    assert [r["name"] for r in report["blind_layers"]] == ["block0", "block1", "block2", "block3"]
    assert "block0 (dilation 8" in report["warning"] and "hybrid" in report["warning"]
    sugg = report["suggestion"]
    assert sugg["receptive_field_bp"] >= 65
    gap_free = analytic_reach({"stem_kernel": 1, "dilations": sugg["dilations"]})
    assert blind_fraction(gap_free) == 0.0
    text = format_report(report)
    assert "receptive field: 65 bp" in text and "WARNING: gridding" in text
    assert "matches the analytic set" in text
    assert (tmp_path / "rf.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["rf.png"]  # no temp file left behind


def test_report_for_gap_free_model_has_no_warning():
    torch.manual_seed(0)
    model = DilatedResNet(channels=8, dilations={"schedule": "exponential", "blocks": 6})
    report = receptive_field_report(model, empirical=True)
    assert report["blind_fraction"] == 0.0
    assert report["warning"] is None and report["blind_layers"] == []
    assert report["reach"] == {
        "min_offset": -70,
        "max_offset": 70,
        "n_reached": 141,
        "n_span": 141,
        "n_blind": 0,
        "n_blind_runs": 0,
        "blind_runs": [],
    }
    assert report["empirical_match"] is True
    assert "WARNING" not in format_report(report)


def test_report_accepts_model_geometry_or_config_alike():
    cfg = {"channels": 8, "stem_kernel": 5, "dilations": [1, 3, 9], "aspp": [2, 4]}
    model = DilatedResNet(**cfg)
    a = receptive_field_report(model)
    b = receptive_field_report(model.geometry)
    c = receptive_field_report(cfg)
    assert a == b == c
