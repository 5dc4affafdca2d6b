"""Exponential moving average of the weights (``train.ema_decay``; genodil/train/ema.py).

The average is checked against a float64 reference written out step by step from the weights
the optimiser produced; checkpoints must carry the average where every loader looks
(``state_dict``) and the trained weights for resume.
"""

from __future__ import annotations

import lightning as L
import pytest
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel

from genodil.config import load_config
from genodil.errors import InputError
from genodil.train.ema import EMAWeights, ema_decay_at, ema_multi_avg_fn
from genodil.train.io import load_model
from genodil.train.run import _callbacks, train

ONE_EPOCH = [
    "--train.max_epochs",
    "1",
    "--train.limit_train_batches",
    "5",
    "--train.limit_val_batches",
    "1",
    "--train.checkpoint_every_n_steps",
    "2",
]


def _reference(states: list[dict[str, torch.Tensor]], decay: float) -> dict[str, torch.Tensor]:
    """EMA by hand: the first state is copied, then avg = d avg + (1 - d) w, d = min(decay, ..)."""
    avg = {k: v.double().clone() for k, v in states[0].items()}
    for n, state in enumerate(states[1:], start=1):
        d = min(decay, (1 + n) / (10 + n))
        for k, v in state.items():
            if v.is_floating_point():
                avg[k] = d * avg[k] + (1 - d) * v.double()
            else:
                avg[k] = v.double().clone()  # num_batches_tracked: the current count
    return avg


def test_decay_warms_up_to_the_configured_value():
    assert ema_decay_at(0.999, 0) == pytest.approx(0.1)
    assert ema_decay_at(0.999, 1) == pytest.approx(2 / 11)
    assert ema_decay_at(0.999, 90) == pytest.approx(91 / 100)
    assert ema_decay_at(0.9, 1000) == 0.9


def test_averaged_model_update_matches_hand_reference():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv1d(4, 3, 5), nn.BatchNorm1d(3), nn.Conv1d(3, 2, 1))
    avg = AveragedModel(net, use_buffers=True, multi_avg_fn=ema_multi_avg_fn(0.6))
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    states = []
    for _ in range(6):
        opt.zero_grad()
        net(torch.randn(2, 4, 20)).pow(2).mean().backward()
        opt.step()
        avg.update_parameters(net)
        states.append({k: v.detach().clone() for k, v in net.state_dict().items()})
    want = _reference(states, 0.6)
    got = avg.module.state_dict()
    assert got.keys() == want.keys()
    for k in want:
        torch.testing.assert_close(got[k].double(), want[k], rtol=1e-6, atol=1e-7, msg=k)
    # The decay is reached (n=5: min(0.6, 6/15) = 0.4 < 0.6 is still warming up; checked above)
    # and the average is not simply the last weights.
    assert not torch.equal(got["0.weight"], states[-1]["0.weight"])
    assert int(got["1.num_batches_tracked"]) == 6


class _RecordSteps(L.Callback):
    """The network's state (weights and BatchNorm buffers) after every optimiser step."""

    def __init__(self) -> None:
        self.states: list[dict[str, torch.Tensor]] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        state = pl_module.model.state_dict()
        self.states.append({k: v.detach().clone() for k, v in state.items()})


def _model_state(ckpt: dict, key: str = "state_dict") -> dict[str, torch.Tensor]:
    return {k.removeprefix("model."): v for k, v in ckpt[key].items() if k.startswith("model.")}


def test_checkpoints_hold_the_average_and_resume_state(tiny_config, tmp_path):
    cfg = load_config(tiny_config, [*ONE_EPOCH, "--train.ema_decay", "0.8"])
    record = _RecordSteps()
    run = train(cfg, tmp_path / "run", progress=False, callbacks=[record])
    assert len(record.states) == 5
    want = _reference(record.states, 0.8)
    for name in ("last.ckpt", "best.ckpt"):  # best: the one validation, after step 5
        ckpt = torch.load(run / "checkpoints" / name, weights_only=True)
        got = _model_state(ckpt)
        assert got.keys() == want.keys()
        for k in want:
            torch.testing.assert_close(got[k].double(), want[k], rtol=1e-5, atol=1e-6, msg=k)
        # The weights being trained, for resume, exactly; and the number of updates.
        trained = _model_state(ckpt, "current_model_state")
        for k, v in record.states[-1].items():
            assert torch.equal(trained[k], v), k
        assert int(ckpt["averaging_state"]["n_averaged"]) == 5
    # Every command that loads a checkpoint gets the average.
    loaded = load_model(run)
    for k, v in loaded.model.state_dict().items():
        torch.testing.assert_close(v.double(), want[k], rtol=1e-5, atol=1e-6, msg=k)
    assert not torch.equal(
        loaded.model.state_dict()["stem.weight"], record.states[-1]["stem.weight"]
    )


def test_ema_off_adds_nothing(tiny_config, tmp_path):
    cfg = load_config(tiny_config, ONE_EPOCH)
    assert cfg.train.ema_decay is None
    names = [type(c).__name__ for c in _callbacks(cfg.train, tmp_path, None, None)]
    assert "EMAWeights" not in names
    with_ema = load_config(tiny_config, [*ONE_EPOCH, "--train.ema_decay", "0.99"])
    assert isinstance(_callbacks(with_ema.train, tmp_path, None, None)[0], EMAWeights)
    run = train(cfg, tmp_path / "run", progress=False)
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert "current_model_state" not in ckpt and "averaging_state" not in ckpt
    assert not any("EMA" in k for k in ckpt["callbacks"])


@pytest.mark.parametrize("value", ["0", "1", "1.5", "-0.1"])
def test_ema_decay_outside_0_1_is_refused(tiny_config, value):
    with pytest.raises(InputError, match=r"train\.ema_decay is .*between 0 and 1"):
        load_config(tiny_config, ["--train.ema_decay", value])
