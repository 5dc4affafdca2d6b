from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from jsonargparse import ArgumentParser

from genodil.errors import InputError
from genodil.genome.encode import reverse_complement
from genodil.models import DilatedResidualBlock, DilatedResNet
from genodil.models.layers import PlainDilatedBlock
from genodil.models.schedules import TowerGeometry


def random_one_hot(batch: int, length: int, seed: int = 0, dtype=torch.float32) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    codes = torch.randint(0, 5, (batch, length), generator=gen)  # 4 = N: all-zero column
    return F.one_hot(codes, 5)[..., :4].transpose(1, 2).to(dtype)  # (B, 4, L)


@pytest.mark.parametrize(
    ("kwargs", "seq_len"),
    [
        ({"dilations": [1, 2, 4, 8]}, 200),
        ({"dilations": {"schedule": "hybrid", "cycle": [1, 2, 5], "repeats": 2}, "crop": 10}, 101),
        ({"dilations": {"schedule": "multiplier", "blocks": 5}, "bin_size": 4, "crop": 3}, 130),
        ({"dilations": [1, 4], "kernel": 5, "stem_kernel": 1, "head": "identity"}, 64),
        ({"dilations": [2, 3], "aspp": [1, 6, 12], "aspp_merge": "concat"}, 97),
        ({"dilations": [1, 2], "head": "profile_count", "bin_size": 8, "crop": 4}, 100),
    ],
)
def test_dilated_resnet_output_shapes(kwargs, seq_len):
    torch.manual_seed(0)
    model = DilatedResNet(n_tracks=3, channels=8, **kwargs)
    out = model(random_one_hot(2, seq_len))
    n_out = (seq_len - 2 * model.crop) // model.bin_size
    assert model.output_length(seq_len) == n_out
    assert out["signal"].shape == (2, 3, n_out)
    if model.head_kind == "profile_count":
        assert out["profile_logits"].shape == (2, 3, n_out)
        assert out["log_counts"].shape == (2, 3)
    else:
        assert set(out) == {"signal"}


def test_dilated_resnet_receptive_field_matches_hand_count():
    model = DilatedResNet(channels=8, stem_kernel=15, kernel=3, dilations=[1, 2, 4, 8])
    assert model.receptive_field == 1 + 14 + 2 * (1 + 2 + 4 + 8)
    assert model.dilations == [1, 2, 4, 8]
    assert model(random_one_hot(2, 256))["signal"].shape == (2, 1, 256)


def test_dilated_resnet_geometry_without_weights_matches_model():
    cfg = {"channels": 8, "dilations": {"schedule": "exponential", "blocks": 6}, "crop": 40}
    geo = DilatedResNet.geometry_from_config(**cfg)
    model = DilatedResNet(**cfg)
    assert geo == model.geometry == TowerGeometry.from_config(**cfg)
    assert (geo.receptive_field, geo.crop) == (model.receptive_field, model.crop) == (141, 40)


def test_dilated_resnet_softplus_head_is_nonnegative_and_identity_is_not():
    torch.manual_seed(0)
    x = random_one_hot(2, 80)
    assert (DilatedResNet(channels=8, dilations=[1, 2])(x)["signal"] >= 0).all()
    torch.manual_seed(0)
    assert (DilatedResNet(channels=8, dilations=[1, 2], head="identity")(x)["signal"] < 0).any()


def test_dilated_resnet_exp_head_is_the_log_link_of_the_identity_head():
    from genodil.models.heads import EXP_MAX

    x = random_one_hot(2, 80)
    torch.manual_seed(0)
    linear = DilatedResNet(n_tracks=2, channels=8, dilations=[1, 2], head="identity").eval()
    torch.manual_seed(0)
    logged = DilatedResNet(n_tracks=2, channels=8, dilations=[1, 2], head="exp").eval()
    z = linear(x)["signal"]
    torch.testing.assert_close(logged(x)["signal"], torch.exp(z))
    with torch.no_grad():  # a huge log rate is capped, not inf
        logged.head.conv.bias.fill_(1e4)
    assert torch.equal(logged(x)["signal"], torch.full_like(z, math.exp(EXP_MAX)))


def test_dilated_resnet_track_heads_give_each_track_its_own_link():
    x = random_one_hot(2, 80)
    torch.manual_seed(0)
    linear = DilatedResNet(n_tracks=4, channels=8, dilations=[1, 2], head="identity").eval()
    torch.manual_seed(0)
    heads = ["exp", "softplus", "identity", "exp"]
    mixed = DilatedResNet(
        n_tracks=4, channels=8, dilations=[1, 2], head="softplus", track_heads=heads
    ).eval()
    z = linear(x)["signal"]
    got = mixed(x)["signal"]
    torch.testing.assert_close(got[:, 0], torch.exp(z[:, 0]))
    torch.testing.assert_close(got[:, 1], F.softplus(z[:, 1]))
    torch.testing.assert_close(got[:, 2], z[:, 2])
    torch.testing.assert_close(got[:, 3], torch.exp(z[:, 3]))
    assert mixed.state_dict().keys() == linear.state_dict().keys()  # checkpoints unchanged


def test_dilated_resnet_product_head_is_a_gain_times_an_additive_input():
    # Reference computed directly from the head's two 1x1 convolutions, with torch's own exp
    # and softplus (not the head's LogSoftplus): signal = exp(g) * softplus(s).
    x = random_one_hot(2, 80)
    torch.manual_seed(0)
    heads = ["product", "softplus", "product"]
    model = DilatedResNet(
        n_tracks=3, channels=8, dilations=[1, 2], head="exp", track_heads=heads
    ).eval()
    captured = {}
    model.head.register_forward_pre_hook(lambda _m, args: captured.update(h=args[0]))
    got = model(x)["signal"]
    h = captured["h"]
    with torch.no_grad():
        g, s = model.head.conv(h), model.head.additive(h)
    torch.testing.assert_close(got[:, 0], torch.exp(g[:, 0]) * F.softplus(s[:, 0]))
    torch.testing.assert_close(got[:, 1], F.softplus(g[:, 1]))
    torch.testing.assert_close(got[:, 2], torch.exp(g[:, 2]) * F.softplus(s[:, 1]))
    assert model.head.additive.out_channels == 2  # one additive input per product track
    # a model without product tracks keeps the old checkpoint keys
    assert not any("additive" in k for k in DilatedResNet(channels=8).state_dict())


def test_log_softplus_is_stable_far_below_zero():
    from genodil.models.heads import LogSoftplus

    x = torch.tensor([-300.0, -40.0, -15.5, -3.0, 0.0, 2.0, 50.0], requires_grad=True)
    y = LogSoftplus()(x)
    want = torch.log(F.softplus(x.detach().double()))  # float64: no underflow down to -300
    torch.testing.assert_close(y.double(), want, rtol=1e-5, atol=1e-6)
    y.sum().backward()
    assert torch.isfinite(x.grad).all()
    # d/dx log softplus(x) = sigmoid(x) / softplus(x): 1 far below zero, 1/x far above
    torch.testing.assert_close(x.grad[0], torch.tensor(1.0))
    torch.testing.assert_close(x.grad[-1], torch.tensor(1 / 50.0), rtol=1e-4, atol=0)


def test_dilated_resnet_profile_count_signal_is_softmax_times_counts():
    torch.manual_seed(0)
    model = DilatedResNet(n_tracks=2, channels=8, dilations=[1, 2], head="profile_count").eval()
    out = model(random_one_hot(3, 64))
    expect = torch.softmax(out["profile_logits"], -1) * out["log_counts"].exp()[..., None]
    torch.testing.assert_close(out["signal"], expect)
    torch.testing.assert_close(out["signal"].sum(-1), out["log_counts"].exp())


def test_dilated_resnet_binned_signal_is_sum_of_per_base_signal():
    torch.manual_seed(0)
    base = DilatedResNet(n_tracks=2, channels=8, dilations=[1, 2], crop=5).eval()
    cfg = {**base.config, "bin_size": 4}
    binned = DilatedResNet(**cfg).eval()
    binned.load_state_dict(base.state_dict())
    x = random_one_hot(2, 90)
    per_base = base(x)["signal"]  # (2, 2, 80)
    got = binned(x)["signal"]  # (2, 2, 20)
    for j in range(20):
        torch.testing.assert_close(got[..., j], per_base[..., 4 * j : 4 * j + 4].sum(-1))


def test_dilated_resnet_eval_is_batch_invariant_and_deterministic():
    torch.manual_seed(0)
    model = DilatedResNet(n_tracks=2, channels=8, dilations=[1, 2, 4], dropout=0.5).eval()
    x = random_one_hot(3, 100)
    together = model(x)["signal"]
    alone = torch.cat([model(x[i : i + 1])["signal"] for i in range(3)])
    torch.testing.assert_close(together, alone)
    assert torch.equal(model(x)["signal"], together)


def test_dilated_residual_block_starts_near_identity():
    torch.manual_seed(0)
    x = torch.randn(4, 16, 200)
    block = DilatedResidualBlock(16, 8, kernel=3, dilation=4, init_scale=0.1)
    rel = (block(x) - x).norm() / x.norm()
    assert 0 < rel < 0.1
    exact = DilatedResidualBlock(16, 8, kernel=3, dilation=4, init_scale=0.0)
    assert torch.equal(exact(x), x)


def test_dilated_resnet_blocks_start_near_identity():
    model = DilatedResNet(channels=16, dilations=[1, 2, 4])
    for block in model.blocks:
        torch.testing.assert_close(block.norm2.weight, torch.full((8,), 0.1))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_tracks": 3, "strand_pairs": [1, 0, 2]},
        {"n_tracks": 2, "strand_pairs": [1, 0], "bin_size": 4, "crop": 6, "head": "identity"},
        {"n_tracks": 1, "aspp": [2, 5], "crop": 1},
    ],
)
def test_dilated_resnet_rc_equivariant_output_is_exact_mirror(kwargs, dtype):
    torch.manual_seed(0)
    model = DilatedResNet(channels=8, dilations=[1, 3, 9], rc_equivariant=True, **kwargs)
    model = model.to(dtype).eval()
    x = random_one_hot(2, 92, dtype=dtype)
    fwd = model(x)["signal"]
    rev = model(reverse_complement(x))["signal"]
    perm = kwargs.get("strand_pairs", list(range(kwargs["n_tracks"])))
    assert torch.equal(rev, fwd[:, perm].flip(-1))
    assert torch.equal(model.rc_map(fwd), rev)


def test_dilated_resnet_rc_equivariant_profile_head_mirrors():
    torch.manual_seed(0)
    model = DilatedResNet(
        n_tracks=2,
        channels=8,
        dilations=[1, 3],
        head="profile_count",
        rc_equivariant=True,
        strand_pairs=[1, 0],
        bin_size=2,
    ).eval()
    x = random_one_hot(2, 64)
    fwd, rev = model(x), model(reverse_complement(x))
    torch.testing.assert_close(rev["profile_logits"], fwd["profile_logits"][:, [1, 0]].flip(-1))
    torch.testing.assert_close(rev["log_counts"], fwd["log_counts"][:, [1, 0]])
    torch.testing.assert_close(rev["signal"], fwd["signal"][:, [1, 0]].flip(-1))


def test_dilated_resnet_without_rc_mode_is_not_equivariant():
    torch.manual_seed(0)
    model = DilatedResNet(channels=8, dilations=[1, 3]).eval()
    x = random_one_hot(1, 64)
    assert not torch.allclose(model(reverse_complement(x))["signal"], model(x)["signal"].flip(-1))


def _grads_and_stats(model: DilatedResNet, x: torch.Tensor) -> tuple[dict, dict, torch.Tensor]:
    torch.manual_seed(123)  # same dropout masks in both runs
    out = model(x)
    loss = (out["signal"] * torch.linspace(0, 1, out["signal"].shape[-1], dtype=x.dtype)).sum()
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    return grads, {n: b.clone() for n, b in model.named_buffers()}, x.grad.clone()


@pytest.mark.parametrize("aspp", [None, [1, 4]])
def test_dilated_resnet_checkpointing_gives_same_gradients_and_bn_stats(aspp):
    torch.manual_seed(0)
    kw = {"n_tracks": 2, "channels": 8, "dilations": [1, 2, 4], "dropout": 0.2, "aspp": aspp}
    plain = DilatedResNet(**kw).double().train()
    ckpt = DilatedResNet(**kw, checkpoint_blocks=True).double().train()
    ckpt.load_state_dict(plain.state_dict())
    x = random_one_hot(2, 120, dtype=torch.float64)
    g1, s1, x1 = _grads_and_stats(plain, x.clone().requires_grad_(True))
    g2, s2, x2 = _grads_and_stats(ckpt, x.clone().requires_grad_(True))
    assert g1.keys() == g2.keys()
    for name in g1:
        torch.testing.assert_close(g1[name], g2[name], rtol=1e-12, atol=1e-14, msg=name)
    torch.testing.assert_close(x1, x2, rtol=1e-12, atol=1e-14)
    # BatchNorm running statistics are updated once per forward, not again on recomputation.
    for name in s1:
        torch.testing.assert_close(s1[name], s2[name], rtol=1e-12, atol=1e-14, msg=name)
    assert int(s2["blocks.0.norm1.num_batches_tracked"]) == 1


def test_dilated_resnet_checkpointing_is_inactive_without_grad():
    model = DilatedResNet(channels=8, dilations=[1, 2], checkpoint_blocks=True).eval()
    with torch.no_grad():
        out = model(random_one_hot(1, 50))["signal"]
    assert out.shape == (1, 1, 50)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"dilations": [1, 0, 4]}, "dilations[1] (a dilation) must be an integer >= 1, got 0"),
        ({"dilations": {"schedule": "fancy", "blocks": 3}}, "allowed schedules: exponential"),
        ({"head": "poisson"}, "model.head is 'poisson'; allowed values: softplus, exp, identity"),
        ({"pool": "max"}, "model.pool is 'max'; allowed values: sum, mean"),
        ({"aspp": [1, 6], "aspp_merge": "mul"}, "allowed values: sum, concat"),
        ({"kernel": 2}, "model.kernel is 2; it must be odd"),
        ({"channels": 0}, "model.channels must be an integer >= 1"),
        ({"dropout": 1.0}, "model.dropout must be in [0, 1)"),
        ({"n_tracks": 2, "strand_pairs": [1, 1]}, "must be mutual"),
        ({"n_tracks": 2, "strand_pairs": [0]}, "for each of the 2 tracks"),
        ({"head": "profile_count", "bin_size": 4, "pool": "mean"}, "pool must be 'sum'"),
        ({"head": "profile_count", "track_heads": ["exp"]}, "remove the tracks' head keys"),
        ({"n_tracks": 2, "track_heads": ["exp"]}, "one head per track (2)"),
        ({"track_heads": ["log"]}, "model.track_heads entry is 'log'; allowed values"),
    ],
)
def test_dilated_resnet_bad_config_raises(kwargs, needle):
    with pytest.raises(InputError) as err:
        DilatedResNet(**kwargs)
    assert needle in str(err.value)


def test_dilated_resnet_crop_larger_than_half_window_raises():
    model = DilatedResNet(channels=8, dilations=[1, 2], crop=600)
    assert model.output_length(1000) <= 0
    with pytest.raises(InputError, match="crop = 600 bp on each side leaves -200 bp"):
        model.check_input_length(1000)
    with pytest.raises(InputError, match="make crop smaller than 500"):
        model(random_one_hot(1, 1000))
    model.check_input_length(1201)


def test_dilated_resnet_wrong_input_shape_raises():
    model = DilatedResNet(channels=8, dilations=[1])
    with pytest.raises(InputError, match=r"shape \(B, 4, L\)"):
        model(torch.zeros(1, 5, 30))


def test_dilated_resnet_builds_from_yaml_model_section():
    parser = ArgumentParser(exit_on_error=False)
    parser.add_class_arguments(DilatedResNet, "model")
    yaml_text = """
model:
  n_tracks: 2
  channels: 16
  dilations: {schedule: hybrid, cycle: [1, 2, 5], repeats: 2}
  aspp: [1, 6]
  head: profile_count
  strand_pairs: [1, 0]
"""
    cfg = parser.parse_string(yaml_text)
    init = parser.instantiate(cfg)
    model = init.model
    assert isinstance(model, DilatedResNet)
    assert model.dilations == [1, 2, 5, 1, 2, 5]
    assert model.receptive_field == 1 + 14 + 2 * (16 + 6)
    assert model.strand_pairs == [1, 0]
    parsed = parser.parse_string("model: {dilations: [8, 8, 8, 8]}")
    assert parsed.model.dilations == [8, 8, 8, 8]


def test_dilated_resnet_checkpoint_blocks_setter_reaches_every_block():
    model = DilatedResNet(channels=8, dilations=[1, 2], aspp=[1, 3])
    assert not model.checkpoint_blocks
    model.checkpoint_blocks = True
    assert all(b.checkpoint for b in model.blocks) and model.aspp.checkpoint


def test_dilated_resnet_checkpointing_under_bf16_autocast_matches():
    torch.manual_seed(0)
    plain = DilatedResNet(channels=8, dilations=[1, 2], dropout=0.0).train()
    ckpt = DilatedResNet(channels=8, dilations=[1, 2], dropout=0.0, checkpoint_blocks=True)
    ckpt.load_state_dict(plain.state_dict())
    x = random_one_hot(2, 64)
    grads = []
    for model in (plain, ckpt.train()):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = model(x)["signal"].float().mean()
        loss.backward()
        grads.append(model.stem.weight.grad)
    torch.testing.assert_close(grads[0], grads[1])


def test_plain_block_equals_hand_written_branch_and_starts_near_identity():
    torch.manual_seed(0)
    x = torch.randn(3, 8, 90, dtype=torch.float64)
    block = PlainDilatedBlock(8, kernel=3, dilation=5, activation="relu").double().train()
    norm, conv = block.norm1, block.conv
    mean, var = x.mean(dim=(0, 2), keepdim=True), x.var(dim=(0, 2), unbiased=False, keepdim=True)
    h = torch.relu((x - mean) / torch.sqrt(var + norm.eps))  # BN weight 1, bias 0 at init
    expected = x + F.conv1d(h, conv.weight, conv.bias, padding=5, dilation=5)
    torch.testing.assert_close(block(x), expected)
    assert 0 < (block(x) - x).norm() / x.norm() < 0.1
    exact = PlainDilatedBlock(8, kernel=3, dilation=5, init_scale=0.0)
    assert torch.equal(exact(x.float()), x.float())


@pytest.mark.parametrize("block", ["plain", "bottleneck"])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_block_and_activation_options_keep_geometry_and_checkpointing(block, activation):
    kw = {"n_tracks": 2, "channels": 8, "dilations": [1, 3, 9], "dropout": 0.1}
    kw.update(block=block, activation=activation)
    model = DilatedResNet(**kw).double().train()
    ckpt = DilatedResNet(**kw, checkpoint_blocks=True).double().train()
    ckpt.load_state_dict(model.state_dict())
    assert model.receptive_field == 1 + 14 + 2 * (1 + 3 + 9)
    x = random_one_hot(2, 80, dtype=torch.float64)
    g1, _, _ = _grads_and_stats(model, x.clone().requires_grad_(True))
    g2, _, _ = _grads_and_stats(ckpt, x.clone().requires_grad_(True))
    for name in g1:
        torch.testing.assert_close(g1[name], g2[name], rtol=1e-12, atol=1e-14, msg=name)
    # Only bases within the receptive field move the output at the centre.
    x = random_one_hot(1, 81, dtype=torch.float64).requires_grad_(True)
    model.eval()(x)["signal"][0, :, 40].sum().backward()
    reach = (x.grad.abs().sum(1)[0] > 0).nonzero().squeeze(1)
    half = model.receptive_field // 2
    assert reach.min() >= 40 - half and reach.max() <= 40 + half
    expected_type = PlainDilatedBlock if block == "plain" else DilatedResidualBlock
    assert all(type(b) is expected_type for b in model.blocks)


def test_unknown_block_or_activation_raises():
    with pytest.raises(InputError, match=r"model\.block"):
        DilatedResNet(block="wide")
    with pytest.raises(InputError, match=r"model\.activation"):
        DilatedResNet(activation="swish")


def _centre_gradient(model: DilatedResNet, length: int) -> torch.Tensor:
    """|d trunk features at the centre / d input| per input base, shape (length,)."""
    x = torch.zeros(1, 4, length)
    x[0, 0] = 1.0
    x.requires_grad_(True)
    model.trunk(x)[0, :, length // 2].abs().sum().backward()
    return x.grad[0].abs().sum(0)


def test_spread_channels_start_as_boxes_of_their_own_input():
    torch.manual_seed(0)
    kw = {"channels": 8, "block": "plain", "activation": "relu", "dilations": [1, 4, 16]}
    model = DilatedResNet(spread_channels=3, **kw)
    for blk in model.blocks:
        w = blk.conv.weight  # (C_out, C_in, k)
        for j in range(3):
            expect = torch.zeros(8, 3)
            expect[j] = 1 / 3
            torch.testing.assert_close(w[j], expect)
        assert w[3:].abs().sum() > 0  # the other channels keep the random init
    assert DilatedResNet(**kw).blocks[0].conv.weight[:3].abs().sum() > 0


def test_spread_channels_carry_distant_bases_to_the_centre_at_init():
    """The point of spreading: at init, bases kilobases away reach the centre's features with a
    gradient ~1e3-1e4x larger than through the random init (hand-picked seed, one forward)."""
    kw = {
        "channels": 16,
        "block": "plain",
        "activation": "relu",
        "dropout": 0.0,
        "dilations": {"schedule": "exponential", "rate": 2, "blocks": 11},
    }
    length = 6000
    torch.manual_seed(1)
    plain = _centre_gradient(DilatedResNet(**kw).eval(), length)
    torch.manual_seed(1)
    spread = _centre_gradient(DilatedResNet(spread_channels=4, **kw).eval(), length)
    c = length // 2
    for d in (300, 600, 1000, 1500, 2000):
        for pos in (c - d, c + d):
            assert spread[pos] > 100 * plain[pos], (d, spread[pos], plain[pos])
    # nothing beyond the receptive field (+-2,047 bp from the tower, +7 from the stem)
    assert spread[: c - 2047 - 8].abs().sum() == 0 and spread[c + 2047 + 8 :].abs().sum() == 0
    assert spread[c - 2047 - 7] > 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"channels": 8, "block": "plain", "spread_channels": 9}, "from 0 to model.channels"),
        ({"channels": 8, "block": "plain", "spread_channels": -1}, "from 0 to model.channels"),
        ({"channels": 8, "block": "bottleneck", "spread_channels": 2}, "needs model.block: plain"),
    ],
)
def test_spread_channels_bad_values_are_refused(kwargs, match):
    with pytest.raises(InputError, match=match):
        DilatedResNet(**kwargs)
