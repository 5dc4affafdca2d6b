"""Evaluation figures: values in the track's own units, plain genomic x axis, BED lane."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genodil.data.tracks import TrackSpec
from genodil.errors import InputError
from genodil.train.evaluate import examples_figure, examples_in_units, plot_examples

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _example(bin_size: int = 1) -> dict:
    return {
        "total": 1.0,
        "chrom": "chrII",
        "out_start": 1_234_000,
        "bin_size": bin_size,
        "target": np.array([[1.0, 2.0, 3.0, 4.0]], dtype=np.float32),
        "pred": np.array([[0.5, 1.0, 1.5, 2.0]], dtype=np.float32),
    }


def test_examples_in_track_units_undo_scale_and_sum_bins():
    specs = [TrackSpec("dnase", "dnase.bw", scale=0.1)]
    (ex,) = examples_in_units([_example(bin_size=2)], specs, "track")
    # scale 0.1 undone (x10), then a 2-bp sum bin is a per-base mean (/2)
    np.testing.assert_allclose(ex["target"], [[5.0, 10.0, 15.0, 20.0]])
    np.testing.assert_allclose(ex["pred"], [[2.5, 5.0, 7.5, 10.0]])
    same = examples_in_units([_example()], specs, "model")
    np.testing.assert_array_equal(same[0]["target"], _example()["target"])
    with pytest.raises(InputError, match="'track' or 'model'"):
        examples_in_units([_example()], specs, "bigwig")


def test_examples_figure_plain_coordinates_units_and_bed_lane(tmp_path):
    bed = pd.DataFrame(
        {
            "chrom": ["chrII", "chrI"],
            "start": [1_234_001, 5],
            "end": [1_234_003, 9],
            "name": ["TSS1", "elsewhere"],
        }
    )
    fig = examples_figure([_example()], ["dnase"], "track units", bed)
    fig.canvas.draw()
    track_ax, lane = fig.axes
    assert "track units" in track_ax.get_ylabel()
    assert lane.get_xlabel() == "chrII position (bp, 0-based)"
    labels = [t.get_text() for t in lane.get_xticklabels() if t.get_text()]
    assert labels and all("1,234,00" in t for t in labels)  # plain, thousands-separated
    assert not track_ax.xaxis.get_offset_text().get_text()  # no "+1.234e6" offset
    assert [t.get_text() for t in lane.texts] == ["TSS1"]  # only the overlapping interval
    out = plot_examples([_example()], ["dnase"], tmp_path / "t.png", "track units", None)
    assert out.read_bytes().startswith(PNG_MAGIC)
