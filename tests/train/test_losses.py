"""Losses against direct formulas written out with loops / scipy."""

import math

import numpy as np
import pytest
import torch
from scipy.stats import multinomial, poisson

from genodil.train.losses import (
    binned_poisson_loss,
    compute_loss,
    loss_options,
    mse_loss,
    multinomial_loss,
    poisson_loss,
)


def _data(seed=0):
    g = torch.Generator().manual_seed(seed)
    signal = torch.rand(2, 3, 20, generator=g, dtype=torch.float64) * 4 + 0.1
    target = torch.poisson(torch.full((2, 3, 20), 2.0, dtype=torch.float64), generator=g)
    return signal, target


def test_poisson_loss_matches_scipy_up_to_constant():
    signal, target = _data()
    got = poisson_loss(signal, target)
    for b in range(2):
        for t in range(3):
            # -log pmf = rate - y log rate + log(y!); the loss drops the log(y!) constant.
            nll = -poisson.logpmf(target[b, t].numpy(), signal[b, t].numpy())
            const = np.array([math.lgamma(y + 1) for y in target[b, t].numpy()])
            assert got[b, t].item() == pytest.approx((nll - const).mean(), rel=1e-6)


def test_mse_loss_matches_loop():
    signal, target = _data(1)
    got = mse_loss(signal, target)
    for b in range(2):
        for t in range(3):
            want = sum(
                (float(s) - float(y)) ** 2 for s, y in zip(signal[b, t], target[b, t], strict=True)
            )
            assert got[b, t].item() == pytest.approx(want / 20, rel=1e-9)


def test_multinomial_loss_matches_scipy_plus_count_term():
    signal, target = _data(2)
    logits = torch.log(signal)
    log_counts = torch.tensor([[1.0, 2.0, 3.0], [0.5, 1.5, 2.5]], dtype=torch.float64)
    got = multinomial_loss(logits, log_counts, target, count_weight=0.7)
    for b in range(2):
        for t in range(3):
            y = target[b, t].numpy()
            p = signal[b, t].numpy() / signal[b, t].numpy().sum()
            nll = -multinomial.logpmf(y, n=int(y.sum()), p=p) / len(y)
            count = (math.log1p(y.sum()) - float(log_counts[b, t])) ** 2
            assert got[b, t].item() == pytest.approx(nll + 0.7 * count, rel=1e-5)


def test_multinomial_from_signal_only_head_uses_log_signal():
    signal, target = _data(3)
    via_signal = compute_loss({"signal": signal}, target, "multinomial")
    direct = multinomial_loss(torch.log(signal), torch.log1p(signal.sum(-1)), target)
    torch.testing.assert_close(via_signal.double(), direct.double(), rtol=1e-5, atol=1e-6)


def test_compute_loss_unknown_name_raises():
    signal, target = _data()
    with pytest.raises(ValueError, match="poisson, multinomial, mse"):
        compute_loss({"signal": signal}, target, "huber")


def test_binned_poisson_loss_matches_loop():
    signal, target = _data(4)  # (2, 3, 20)
    got = binned_poisson_loss(signal, target, 5)
    for b in range(2):
        for t in range(3):
            terms = []
            for start in range(0, 20, 5):
                s = sum(float(v) for v in signal[b, t, start : start + 5])
                y = sum(float(v) for v in target[b, t, start : start + 5])
                terms.append(s - y * math.log(s))  # Poisson NLL of the bin sum, less log(y!)
            want = sum(terms) / len(terms) / 5
            assert got[b, t].item() == pytest.approx(want, rel=1e-9)


@pytest.mark.parametrize("loss", ["poisson", "multinomial"])
def test_compute_loss_adds_the_weighted_binned_term(loss):
    signal, target = _data(5)
    out = {"signal": signal}
    base = compute_loss(out, target, loss)
    with_bins = compute_loss(out, target, loss, bin_loss_weight=0.3, bin_positions=4)
    want = base + 0.3 * binned_poisson_loss(signal.float(), target.float(), 4)
    torch.testing.assert_close(with_bins, want)
    # Weight 0 is the named loss bit for bit, whatever the bin width.
    assert torch.equal(compute_loss(out, target, loss, bin_loss_weight=0.0, bin_positions=4), base)


def test_loss_options_from_settings_and_old_checkpoints():
    new = {"loss": "poisson", "count_weight": 2.0, "bin_loss_weight": 1.0, "bin_loss_size": 128}
    assert loss_options(new, bin_size=4) == {
        "loss": "poisson",
        "count_weight": 2.0,
        "bin_loss_weight": 1.0,
        "bin_positions": 32,
    }
    old = {"loss": "multinomial"}  # a checkpoint written before the binned term existed
    assert loss_options(old, bin_size=1)["bin_loss_weight"] == 0.0
