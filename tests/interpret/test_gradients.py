"""Gradient x input and DeepLIFT/SHAP against closed forms and autograd."""

import numpy as np
import pytest
import torch
from torch import nn

from genodil.errors import InputError
from genodil.interpret.deeplift import deep_lift_shap, shuffled_references
from genodil.interpret.gradients import gradient_x_input, saliency
from genodil.interpret.objective import Objective, ScalarModel
from tests.interpret.models import one_hot_batch, small_resnet
from tests.predict.toy_models import KernelModel

pytest.importorskip("tangermeme")


class SoftplusConv(nn.Module):
    """signal[t, o] = softplus(sum_{c,k} w[t,c,k] x[c, o + k]) (crop = K - 1 on the left)."""

    def __init__(self, weight: np.ndarray) -> None:
        super().__init__()
        self.conv = nn.Conv1d(4, weight.shape[0], weight.shape[-1], bias=False)
        with torch.no_grad():
            self.conv.weight.copy_(torch.from_numpy(weight.astype(np.float32)))
        self.act = nn.Softplus()

    def forward(self, x):
        return {"signal": self.act(self.conv(x))}


def test_gradient_x_input_equals_closed_form_and_autograd():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(2, 4, 5))
    model = SoftplusConv(w)
    seq = one_hot_batch(3, 40, seed=1)
    objective = Objective(tracks=(1,), bins=(10, 20))
    grad, gxi = gradient_x_input(model, seq, objective, batch_size=2, device="cpu")
    # closed form: d/dx sum_o softplus(z_o) = sum_o sigmoid(z_o) w[1, :, l - o]
    x = seq.double().numpy()
    want = np.zeros_like(x)
    for n in range(3):
        for o in range(10, 20):
            z = sum(w[1, c, k] * x[n, c, o + k] for c in range(4) for k in range(5))
            want[n, :, o : o + 5] += w[1] / (1 + np.exp(-z))
    np.testing.assert_allclose(grad.numpy(), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gxi.numpy(), want * x, rtol=1e-5, atol=1e-6)
    # and plain autograd on the model agrees
    xt = seq.clone().requires_grad_(True)
    model(xt)["signal"][:, 1, 10:20].sum().backward()
    torch.testing.assert_close(grad, xt.grad)
    torch.testing.assert_close(saliency(model, seq, objective, device="cpu")[1], gxi)


def test_gradient_x_input_with_rc_average_on_a_resnet_matches_autograd():
    model = small_resnet(n_tracks=2)
    seq = one_hot_batch(2, 100, seed=2)
    objective = Objective(tracks=(0,), bins=(10, 30))
    grad, _ = gradient_x_input(model, seq, objective, device="cpu", rc_average=True)
    xt = seq.clone().requires_grad_(True)
    fwd = model(xt)["signal"][:, 0, 10:30].sum()
    rev = model(torch.flip(xt, (-2, -1)))["signal"].flip(-1)[:, 0, 10:30].sum()
    (0.5 * (fwd + rev)).backward()
    torch.testing.assert_close(grad, xt.grad)
    assert model.training is False


def test_deep_lift_shap_on_a_linear_model_equals_its_closed_form():
    rng = np.random.default_rng(5)
    w = rng.normal(size=(1, 4, 7)).astype(np.float32)
    model = KernelModel(w, crop=10)
    seq = one_hot_batch(2, 80, seed=3)
    objective = Objective(bins=(15, 40))
    refs = shuffled_references(seq, 6, seed=1)  # (2, 6, 4, 80)
    hyp = deep_lift_shap(model, seq, objective, references=refs, batch_size=5, device="cpu")
    # closed form: f(x) = sum_{c,l} G[c,l] x[c,l] with G the summed, shifted kernel; the
    # hypothetical contribution of base b at l is G[b,l] - mean_refs sum_c r[c,l] G[c,l].
    g = np.zeros((4, 80))
    for o in range(15, 40):
        g[:, 10 + o - 3 : 10 + o + 4] += w[0]
    r = refs.double().numpy()
    want = g[None] - (r * g[None, None]).sum(2).mean(1)[:, None, :]
    np.testing.assert_allclose(hyp.numpy(), want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "heads",
    [
        {"head": "softplus"},
        {"head": "exp"},
        {"head": "product"},
        {"track_heads": ["exp", "softplus"]},
        {"track_heads": ["product", "softplus"]},
    ],
)
def test_deep_lift_shap_sums_to_the_output_difference_on_a_resnet(heads):
    # Summation to delta holds only if every GELU/softplus/exp got its DeepLIFT rule (and the
    # per-track heads' selection and re-ordering pass multipliers through unchanged).
    model = small_resnet(n_tracks=2, **heads)
    seq = one_hot_batch(2, 120, seed=6)
    objective = Objective(tracks=(0, 1), bins=(20, 60))
    refs = shuffled_references(seq, 4, seed=0)
    hyp = deep_lift_shap(model, seq, objective, references=refs, device="cpu")
    scalar = ScalarModel(model, objective)
    with torch.no_grad():
        fx = scalar(seq)[:, 0]
        fr = torch.stack([scalar(refs[:, k])[:, 0] for k in range(4)], 1).mean(1)
    # hypothetical h[b,l] = mean_r sum_c (e_b - r)[c,l] m_r[c,l], so the projected sum is
    # mean_r sum (x - r) m_r = mean_r (f(x) - f(r)) when the rules are exact
    got = (hyp * seq).sum((1, 2))
    torch.testing.assert_close(got, fx - fr, rtol=1e-3, atol=1e-4)
    assert (fx - fr).abs().min() > 1e-3


def test_profile_and_counts_forms_on_a_profile_head():
    from genodil.interpret.ism import ism
    from tests.interpret.models import naive_ism

    model = small_resnet(n_tracks=2, head="profile_count")
    seq = one_hot_batch(2, 100, seed=7)
    # BPNet's profile-weighted form, by hand: sum softmax(z).detach() * (z - mean z)
    xt = seq.clone().requires_grad_(True)
    z = model(xt)["profile_logits"][:, 1, 10:40]
    w = torch.softmax(z, -1).detach()
    (w * (z - z.mean(-1, keepdim=True))).sum().backward()
    grad, _ = gradient_x_input(model, seq, Objective((1,), (10, 40), "profile"), device="cpu")
    torch.testing.assert_close(grad, xt.grad)
    # counts: ISM of the log counts equals the naive loop (no receptive-field shrinking)
    counts = Objective((0,), None, "counts")
    fast = ism(model, seq, range(20, 60), counts, device="cpu")
    slow = naive_ism(model, seq, range(20, 60), counts)
    torch.testing.assert_close(fast, slow, atol=1e-5, rtol=1e-4)
    with pytest.raises(InputError, match="profile_count"):
        gradient_x_input(small_resnet(), seq, Objective(form="profile"), device="cpu")
