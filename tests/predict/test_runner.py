"""predict(): the public in-memory runner, and as_tensor_model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genodil.genome.encode import encode, one_hot, reverse_complement_codes
from genodil.models import DilatedResNet, as_tensor_model
from genodil.predict import predict
from tests.helpers import random_seq
from tests.predict.toy_models import KernelModel, SmoothNet, integer_weight, reference_track


def _seqs(n: int, length: int, seed: int = 0) -> tuple[np.ndarray, torch.Tensor]:
    codes = np.stack([encode(random_seq(length, seed=seed + i)) for i in range(n)])
    return codes, torch.from_numpy(one_hot(codes))  # (N, L) uint8, (N, 4, L)


def _small_resnet(**kw) -> DilatedResNet:
    torch.manual_seed(0)
    model = DilatedResNet(n_tracks=3, channels=8, dilations=[1, 2, 4], crop=10, dropout=0.2, **kw)
    # Move BatchNorm statistics off their defaults so eval mode differs from train mode.
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm1d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    return model


def test_predict_matches_slow_reference():
    weight = integer_weight(2, 5, seed=1)
    model = KernelModel(weight, crop=4)
    codes, x = _seqs(5, 40)
    got = predict(model, x, batch_size=2, device="cpu")
    assert got.shape == (5, 2, 32) and got.dtype == torch.float32 and got.device.type == "cpu"
    for i in range(5):
        seq = "".join("ACGTN"[c] for c in codes[i])
        np.testing.assert_array_equal(got[i].numpy(), reference_track(seq, weight)[:, 4:-4])


def test_predict_matches_direct_eval_call_and_accepts_numpy():
    model = _small_resnet()
    _, x = _seqs(6, 64)
    model.eval()
    with torch.no_grad():
        direct = model(x)["signal"]
    model.train()
    got = predict(model, x.numpy(), batch_size=6, device="cpu")
    torch.testing.assert_close(got, direct, rtol=1e-5, atol=1e-6)
    got.add_(1.0)  # an ordinary tensor, not an inference tensor


@pytest.mark.parametrize("batch_size", [1, 2, 3, 7, 100])
def test_predict_is_batch_size_invariant(batch_size):
    model = _small_resnet()
    _, x = _seqs(7, 48, seed=3)
    ref = predict(model, x, batch_size=7, device="cpu")
    got = predict(model, x, batch_size=batch_size, device="cpu")
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-6)


def test_predict_restores_training_flags_and_device():
    model = _small_resnet()
    model.train()
    model.blocks[1].eval()  # a mixed state must come back as it was
    before = {name: m.training for name, m in model.named_modules()}
    _, x = _seqs(2, 48)
    predict(model, x, device="cpu")
    assert {name: m.training for name, m in model.named_modules()} == before
    assert all(p.device.type == "cpu" for p in model.parameters())


def test_predict_restores_mode_after_a_failure():
    model = _small_resnet().train()
    with pytest.raises(ValueError, match=r"\(N, 4, L\)"):
        predict(model, torch.zeros(2, 5, 48))
    bad = torch.zeros(1, 4, 10)  # shorter than 2 * crop
    with pytest.raises(Exception, match="crop"):
        predict(model, bad, device="cpu")
    assert model.training


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_predict_on_cuda_returns_to_cpu_and_matches():
    model = SmoothNet()
    _, x = _seqs(4, 60)
    cpu = predict(model, x, device="cpu")
    gpu = predict(model, x, device="cuda", precision="32")
    assert gpu.device.type == "cpu"
    assert next(model.parameters()).device.type == "cpu"
    torch.testing.assert_close(gpu, cpu, rtol=1e-4, atol=1e-5)


def test_rc_average_matches_hand_computed_flip_average_with_strand_pairs():
    weight = integer_weight(3, 5, seed=4)
    model = KernelModel(weight, crop=4, strand_pairs=[2, 1, 0])
    codes, x = _seqs(3, 30, seed=8)
    got = predict(model, x, batch_size=2, device="cpu", rc_average=True).numpy()
    for i in range(3):
        seq = "".join("ACGTN"[c] for c in codes[i])
        rc = "".join("ACGTN"[c] for c in reverse_complement_codes(codes[i]))
        fwd = reference_track(seq, weight)[:, 4:-4]  # (T, L_out)
        rev = reference_track(rc, weight)[:, 4:-4]
        # Track t on the forward strand is track pairs[t] of the RC prediction, reversed.
        mapped = np.stack([rev[2][::-1], rev[1][::-1], rev[0][::-1]])
        np.testing.assert_array_equal(got[i], 0.5 * (fwd + mapped))


def test_rc_average_strand_pairs_argument_overrides_and_is_checked():
    weight = integer_weight(2, 3, seed=2)
    model = KernelModel(weight, crop=2)  # no strand pairs: every track its own partner
    _, x = _seqs(2, 20)
    same = predict(model, x, rc_average=True, device="cpu")
    swapped = predict(model, x, rc_average=True, strand_pairs=[1, 0], device="cpu")
    assert not torch.equal(same, swapped)
    with pytest.raises(ValueError, match="mutual"):
        predict(model, x, rc_average=True, strand_pairs=[0, 0])
    with pytest.raises(ValueError, match="tracks"):
        predict(model, x, rc_average=True, strand_pairs=[2, 1, 0])


def test_rc_average_needs_whole_bins():
    model = KernelModel(integer_weight(1, 3, seed=0), crop=2, bin_size=4)
    _, x = _seqs(1, 18)  # 14 bases after cropping: not a multiple of 4
    with pytest.raises(ValueError, match="multiple of bin_size"):
        predict(model, x, rc_average=True, device="cpu")


def test_as_tensor_model_returns_the_keyed_output():
    model = _small_resnet(head="profile_count").eval()
    _, x = _seqs(2, 48)
    with torch.no_grad():
        out = model(x)
        torch.testing.assert_close(as_tensor_model(model)(x), out["signal"])
        torch.testing.assert_close(as_tensor_model(model, "log_counts")(x), out["log_counts"])
    wrapped = as_tensor_model(model)
    assert wrapped.crop == model.crop and wrapped.bin_size == model.bin_size
    assert set(wrapped.parameters()) == set(model.parameters())
    with pytest.raises(KeyError, match="nope"):
        as_tensor_model(model, "nope")(x)


def test_as_tensor_model_works_with_tangermeme_predict():
    tangermeme_predict = pytest.importorskip("tangermeme.predict")
    model = _small_resnet().eval()
    _, x = _seqs(5, 48)
    theirs = tangermeme_predict.predict(as_tensor_model(model), x, batch_size=2, device="cpu")
    torch.testing.assert_close(theirs, predict(model, x, device="cpu"), rtol=1e-5, atol=1e-6)


def test_auto_batch_size_bounds_activation_memory():
    """Wider, deeper or longer inputs get smaller batches; the cap and the floor hold."""
    from genodil.predict.runner import auto_batch_size

    small = DilatedResNet(n_tracks=1, channels=8, dilations=[1, 2])
    big = DilatedResNet(n_tracks=1, channels=48, dilations=[2**i for i in range(11)])
    units = sum(m.out_channels for m in big.modules() if isinstance(m, torch.nn.Conv1d))
    assert auto_batch_size(small, 1000) == 64  # the cap
    b = auto_batch_size(big, 8192)
    assert b == (2 << 30) // (units * 8192 * 48) and 1 <= b < 64
    assert auto_batch_size(big, 16384) == max(1, (2 << 30) // (units * 16384 * 48))
    assert auto_batch_size(big, 10**7) == 1  # the floor
