"""Split metrics equal statistics on the concatenated split, not per-batch averages."""

import numpy as np
import pytest
import torch
from scipy.stats import pearsonr, spearmanr

from genodil.train.metrics import TrackMetrics, mean_over_tracks


def _batches(n=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        target = torch.poisson(torch.rand(3, 2, 512, generator=g) * (i + 1) * 3, generator=g)
        pred = target * 0.5 + torch.rand(3, 2, 512, generator=g) * (4 - i)
        out.append((pred, target))
    return out


def test_track_metrics_exact_over_split():
    batches = _batches()
    m = TrackMetrics(["a", "b"])
    for pred, target in batches:
        m.update(pred, target, loss=torch.ones(pred.shape[0], 2))
    got = m.compute()
    pred = torch.cat([p for p, _ in batches]).double().numpy()
    target = torch.cat([t for _, t in batches]).double().numpy()
    for j, name in enumerate(["a", "b"]):
        p, t = pred[:, j].ravel(), target[:, j].ravel()
        assert got[name]["pearson"] == pytest.approx(pearsonr(p, t)[0], abs=1e-9)
        pb = pred[:, j].reshape(-1, 4, 128).sum(-1).ravel()
        tb = target[:, j].reshape(-1, 4, 128).sum(-1).ravel()
        assert got[name]["pearson_bin128"] == pytest.approx(pearsonr(pb, tb)[0], abs=1e-9)
        assert got[name]["spearman_bin128"] == pytest.approx(spearmanr(pb, tb)[0], abs=1e-5)
        assert got[name]["loss"] == pytest.approx(1.0)
    # Averaging per-batch correlations would give another number: the test can tell them apart.
    per_batch = np.mean([pearsonr(p[:, 0].ravel(), t[:, 0].ravel())[0] for p, t in batches])
    assert abs(per_batch - got["a"]["pearson"]) > 1e-3
    assert mean_over_tracks(got)["pearson"] == pytest.approx(
        (got["a"]["pearson"] + got["b"]["pearson"]) / 2
    )


def test_track_metrics_reset_forgets():
    (pred, target), (pred2, target2) = _batches(2, seed=5)
    m = TrackMetrics(["a", "b"])
    m.update(pred, target)
    m.reset()
    m.update(pred2, target2)
    fresh = TrackMetrics(["a", "b"])
    fresh.update(pred2, target2)
    assert m.compute() == fresh.compute()
