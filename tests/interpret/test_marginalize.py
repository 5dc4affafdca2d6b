"""Marginalization: a planted motif's effect is positive, a shuffled control's near zero."""

import numpy as np
import pytest

from genodil.interpret.marginalize import (
    background_windows,
    insert,
    marginalize,
    spacing_effects,
)
from tests.helpers import random_seq, write_fasta
from tests.interpret.models import MotifOccupancyModel

pytest.importorskip("tangermeme")


@pytest.fixture
def backgrounds(tmp_path):
    from genodil.genome.io import Genome

    fasta = write_fasta(tmp_path / "g.fa", {"c1": random_seq(20000, 3), "c2": random_seq(9000, 4)})
    return background_windows(Genome(fasta), 40, 200, kind="shuffled", seed=1)


def test_planted_motif_raises_the_prediction_and_a_shuffled_control_does_not(backgrounds):
    model = MotifOccupancyModel(crop=20).eval()
    ap1 = "GATGACTCATC"  # the simulator's AP-1 consensus
    control = "ATCGCTAGTCA"  # the same letters, shuffled
    assert sorted(control) == sorted(ap1)
    hit = marginalize(model, backgrounds, ap1, device="cpu")
    ctrl = marginalize(model, backgrounds, control, device="cpu")
    assert hit.mean.shape == (1, 160)
    assert hit.total.mean() > 20  # occupancy ~1 times AP-1's height 40, spread by the footprint
    assert abs(ctrl.total.mean()) < 0.05 * hit.total.mean()
    # the effect is centred on the insertion
    peak = int(np.argmax(hit.mean[0])) + 20
    assert abs(peak - (hit.start + len(ap1) // 2)) <= 3


def test_backgrounds_keep_composition_and_insert_writes_the_motif(backgrounds):
    assert backgrounds.shape == (40, 200) and (backgrounds < 4).all()
    out = insert(backgrounds, "ACGT", 10)
    assert (out[:, 10:14] == [0, 1, 2, 3]).all()
    assert (out[:, :10] == backgrounds[:, :10]).all()


def test_spacing_interaction_of_independent_motifs_is_additive(backgrounds):
    # The occupancy network adds motif effects, so the interaction is ~0 at every spacing.
    model = MotifOccupancyModel(crop=20).eval()
    res = spacing_effects(model, backgrounds, "GATGACTCATC", "CTATAAAAGGC", [20, 40], device="cpu")
    assert res["pair"].shape == (2, 1)
    assert np.all(np.abs(res["interaction"]) < 0.05 * np.abs(res["pair"]))
