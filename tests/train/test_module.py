"""SeqModule's loss: per-track weights (a track's ``loss_weight``) and their ramp."""

from __future__ import annotations

import math

import pytest
import torch

from genodil.errors import InputError
from genodil.models import DilatedResNet
from genodil.train.module import SeqModule, ramped_weights
from genodil.train.settings import TrainSettings


def _model(seed: int = 0) -> DilatedResNet:
    torch.manual_seed(seed)
    return DilatedResNet(n_tracks=2, channels=8, dilations=[1, 2], dropout=0.0, head="exp")


def _batch(seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    seq = torch.nn.functional.one_hot(torch.randint(0, 4, (3, 60), generator=g), 4)
    target = torch.poisson(torch.full((3, 2, 60), 2.0), generator=g)
    return {"seq": seq.permute(0, 2, 1).float(), "target": target}


def _grads(module: SeqModule, batch: dict) -> list[torch.Tensor]:
    module.zero_grad()
    _, per_track = module._loss(batch)
    module._weighted_mean(per_track).backward()
    return [p.grad.clone() for p in module.parameters()]


def test_a_track_with_weight_zero_does_not_train_the_model():
    module = SeqModule(_model(), ["a", "b"], track_weights=[1.0, 0.0])
    batch = _batch()
    other = {"seq": batch["seq"], "target": batch["target"].clone()}
    other["target"][:, 1] = torch.poisson(torch.full((3, 60), 9.0))
    for g1, g2 in zip(_grads(module, batch), _grads(module, other), strict=True):
        torch.testing.assert_close(g1, g2)
    # and with the usual weights it does
    plain = SeqModule(_model(), ["a", "b"])
    pairs = zip(_grads(plain, batch), _grads(plain, other), strict=True)
    assert max((g1 - g2).abs().max() for g1, g2 in pairs) > 1e-4


def test_poisson_loss_weight_w_trains_like_scale_w():
    # docs/data.md: for the Poisson loss, loss_weight w equals scale w. Reference: targets of
    # track b times 4 and its prediction times 4 (the exp head's bias + log 4), no weights.
    batch = _batch(1)
    weighted = SeqModule(_model(), ["a", "b"], track_weights=[1.0, 4.0]).train()
    scaled = SeqModule(_model(), ["a", "b"]).train()
    with torch.no_grad():
        scaled.model.head.conv.bias[1] += math.log(4.0)
    target = batch["target"].clone()
    target[:, 1] *= 4
    g_weighted = _grads(weighted, batch)
    g_scaled = _grads(scaled, {"seq": batch["seq"], "target": target})
    for g1, g2 in zip(g_weighted, g_scaled, strict=True):
        torch.testing.assert_close(g1, g2, rtol=1e-4, atol=1e-6)


def test_ramped_weights_match_the_hand_computed_ramp():
    # train.loss_weight_ramp [10, 20]: 1 before step 10, linear to the weight at step 20.
    assert ramped_weights([1.0, 4.0], [10, 20], 0) == [1.0, 1.0]
    assert ramped_weights([1.0, 4.0], [10, 20], 10) == [1.0, 1.0]
    assert ramped_weights([1.0, 4.0], [10, 20], 15) == [1.0, 2.5]
    assert ramped_weights([0.0, 4.0], [10, 20], 12) == [0.8, 1.6]
    assert ramped_weights([1.0, 4.0], [10, 20], 20) == [1.0, 4.0]
    assert ramped_weights([1.0, 4.0], [10, 20], 999) == [1.0, 4.0]
    assert ramped_weights([1.0, 4.0], [7, 7], 6) == [1.0, 1.0]  # a step change
    assert ramped_weights([1.0, 4.0], [7, 7], 7) == [1.0, 4.0]
    assert ramped_weights([1.0, 4.0], None, 0) == [1.0, 4.0]


def test_the_training_loss_follows_the_ramp_and_validation_keeps_full_weights():
    batch = _batch(2)
    module = SeqModule(_model(), ["a", "b"], track_weights=[1.0, 4.0], weight_ramp=[10, 20])
    _, per_track = module._loss(batch)
    a, b = per_track.mean(0)
    # before the ramp: the plain mean; half-way: weight 2.5; after it and for validation: 4
    torch.testing.assert_close(module._weighted_mean(per_track, 3), (a + b) / 2)
    torch.testing.assert_close(module._weighted_mean(per_track, 15), (a + 2.5 * b) / 2)
    torch.testing.assert_close(module._weighted_mean(per_track, 25), (a + 4 * b) / 2)
    torch.testing.assert_close(module._weighted_mean(per_track), (a + 4 * b) / 2)


def test_the_ramp_setting_is_checked():
    assert TrainSettings(loss_weight_ramp=[5, 9]).loss_weight_ramp == [5, 9]
    for bad in ([9, 5], [5], [-1, 3], [True, 3], "1000"):
        with pytest.raises(InputError, match=r"train\.loss_weight_ramp"):
            TrainSettings(loss_weight_ramp=bad)
