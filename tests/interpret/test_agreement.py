"""DeepLIFT/SHAP and ISM agree at motif sites (issue: Pearson r >= 0.8)."""

import numpy as np
import pytest
import torch

from genodil.interpret.deeplift import deep_lift_shap
from genodil.interpret.ism import ism, ism_hypothetical
from genodil.interpret.objective import Objective
from tests.interpret.models import MotifOccupancyModel, planted_sequences

pytest.importorskip("tangermeme")


def site_agreement(model, seq, sites, half: int = 15, crop: int = 20) -> float:
    """Pearson r of ISM and DeepLIFT/SHAP projected contributions over site +- half bp."""
    ism_p, dls_p = [], []
    for i, (_, start, end) in enumerate(sites):
        x = seq[i : i + 1]
        lo, hi = start - half, end + half
        objective = Objective(bins=(lo - crop, hi - crop))  # explain the site's outputs
        d = ism(model, x, range(lo, hi), objective, device="cpu")
        ism_p.append((ism_hypothetical(d) * x[:, :, lo:hi]).sum(1).ravel())
        h = deep_lift_shap(model, x, objective, n_shuffles=10, device="cpu", seed=i)
        dls_p.append((h * x)[:, :, lo:hi].sum(1).ravel())
    a, b = torch.cat(ism_p).numpy(), torch.cat(dls_p).numpy()
    return float(np.corrcoef(a, b)[0, 1])


def test_deepliftshap_agrees_with_ism_at_planted_sites():
    model = MotifOccupancyModel(crop=20).eval()
    seq, sites = planted_sequences(8, 200, seed=0)
    r = site_agreement(model, seq, sites)
    assert r >= 0.8, r
