"""SeqModule's loss: per-track weights (a track's ``loss_weight``)."""

from __future__ import annotations

import math

import torch

from genodil.models import DilatedResNet
from genodil.train.module import SeqModule


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
