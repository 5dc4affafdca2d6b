"""ISM against a naive one-substitution-at-a-time loop."""

import copy

import numpy as np
import pytest
import torch

from genodil.interpret.ism import _plan, ism, ism_hypothetical
from genodil.interpret.objective import Objective
from tests.interpret.models import naive_ism, one_hot_batch, small_resnet
from tests.predict.toy_models import KernelModel


def _integer_model(bin_size: int = 1) -> KernelModel:
    rng = np.random.default_rng(3)
    model = KernelModel(rng.integers(-3, 4, size=(2, 4, 7)), crop=12, bin_size=bin_size)
    model.receptive_field = 7  # centred kernel: output base o reads o-3 .. o+3
    return model


@pytest.mark.parametrize("bin_size", [1, 4])
def test_ism_equals_naive_loop_exactly_with_shrinking(bin_size):
    # Integer weights make every float sum exact, so equality must hold bit for bit.
    model = _integer_model(bin_size)
    seq = one_hot_batch(2, 200, seed=1, n_at=(1, 90))
    objective = Objective(tracks=(1,), bins=(60 // bin_size, 100 // bin_size))
    positions = range(20, 180)
    plan = _plan(model, objective, 200, len(positions))
    assert plan.local and plan.width < 200  # the receptive field shrinks the windows
    fast = ism(model, seq, positions, objective, batch_size=13, device="cpu")
    slow = naive_ism(model, seq, positions, objective)
    assert torch.equal(fast, slow)
    assert (slow != 0).any()
    # substitutions out of reach of the explained outputs change nothing
    assert (fast[:, :, : 60 - 3 - 20] == 0).all()
    assert (fast[1, :, 90 - 20] != 0).sum() > 0  # an N position gets all four bases


def test_ism_full_window_path_equals_naive_loop_exactly():
    model = _integer_model()
    del model.receptive_field  # unknown reach: every pass uses the whole window
    seq = one_hot_batch(1, 120, seed=2)
    objective = Objective(bins=(10, 50))
    assert not _plan(model, objective, 120, 100).local
    fast = ism(model, seq, range(10, 110), objective, batch_size=32, device="cpu")
    assert torch.equal(fast, naive_ism(model, seq, range(10, 110), objective))


@pytest.mark.parametrize("rc_average", [False, True])
def test_ism_matches_naive_loop_on_a_resnet(rc_average):
    model = small_resnet(n_tracks=2)
    model._strand_pairs = [1, 0]
    model._rc_perm = torch.tensor([1, 0])
    seq = one_hot_batch(2, 160, seed=4)
    objective = Objective(tracks=(0,), bins=(40, 70))
    fast = ism(
        model, seq, range(30, 130), objective, batch_size=50, device="cpu", rc_average=rc_average
    )
    # The reference runs in float64; ISM in float32 may differ by the rounding of the
    # outputs it subtracts: a few float32 epsilons of the summed output magnitude.
    slow = naive_ism(
        copy.deepcopy(model).double(),
        seq.double(),
        range(30, 130),
        objective,
        rc_average=rc_average,
    )
    assert slow.abs().max() > 1e-3
    with torch.no_grad():
        magnitude = float(model(seq)["signal"][:, 0, 40:70].abs().sum(-1).max())
    tol = 8 * torch.finfo(torch.float32).eps * magnitude
    torch.testing.assert_close(fast.double(), slow, atol=tol, rtol=0)


def test_ism_hypothetical_centres_each_position():
    d = torch.tensor([[[0.0, 1.0], [2.0, 0.0], [-2.0, 3.0], [4.0, 0.0]]])
    h = ism_hypothetical(d)
    assert torch.allclose(h.sum(1), torch.zeros(1, 2))
    assert torch.allclose(h[0, :, 0], torch.tensor([-1.0, 1.0, -3.0, 3.0]))
