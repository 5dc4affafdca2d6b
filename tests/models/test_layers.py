from __future__ import annotations

import pytest
import torch

from genodil.models import ASPP, center_crop, crop_sides, logsumexp_bins, pool_bins


def test_pool_bins_matches_loop_and_drops_partial_bin():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 23)
    got_sum, got_mean = pool_bins(x, 5, "sum"), pool_bins(x, 5, "mean")
    assert got_sum.shape == (2, 3, 4)
    for b in range(2):
        for t in range(3):
            for j in range(4):
                window = [float(x[b, t, 5 * j + i]) for i in range(5)]
                assert got_sum[b, t, j].item() == pytest.approx(sum(window), rel=1e-6)
                assert got_mean[b, t, j].item() == pytest.approx(sum(window) / 5, rel=1e-6)
    assert pool_bins(x, 1) is x


def test_logsumexp_bins_softmax_is_binned_softmax():
    torch.manual_seed(0)
    z = torch.randn(2, 2, 24, dtype=torch.float64)
    got = torch.softmax(logsumexp_bins(z, 4), -1)
    per_base = torch.softmax(z, -1)
    expect = torch.stack([per_base[..., 4 * j : 4 * j + 4].sum(-1) for j in range(6)], -1)
    torch.testing.assert_close(got, expect)


def test_center_crop_and_crop_sides():
    x = torch.arange(10.0).reshape(1, 1, 10)
    assert center_crop(x, 6).flatten().tolist() == [2, 3, 4, 5, 6, 7]
    assert crop_sides(x, 3).flatten().tolist() == [3, 4, 5, 6]
    assert crop_sides(x, 0) is x
    with pytest.raises(ValueError, match="cannot crop length 10 to 5"):
        center_crop(x, 5)
    with pytest.raises(ValueError, match="cannot crop 5 from each side"):
        crop_sides(x, 5)


@pytest.mark.parametrize("merge", ["sum", "concat"])
def test_aspp_reads_only_its_branch_taps(merge):
    # One-position impulse in; the residual branch responds only at offsets {0, ±r}.
    torch.manual_seed(0)
    block = ASPP(4, 3, kernel=3, rates=[2, 7], merge=merge, init_scale=1.0).double().eval()
    x = torch.zeros(1, 4, 41, dtype=torch.float64)
    x[0, :, 20] = 1.0
    base = block.branch(torch.zeros_like(x))
    changed = (block.branch(x) - base).abs().sum(1)[0] > 0
    assert sorted((torch.nonzero(changed).flatten() - 20).tolist()) == [-7, -2, 0, 2, 7]
