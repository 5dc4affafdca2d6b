"""Small models for attribution tests, and slow one-at-a-time references."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from genodil.interpret.objective import Objective
from genodil.models import DilatedResNet


def one_hot_batch(n: int, length: int, seed: int = 0, n_at: tuple[int, int] | None = None):
    """Random one-hot sequences (n, 4, length); ``n_at=(i, p)`` makes base p of row i an N."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, size=(n, length))
    seq = torch.from_numpy(np.eye(4, dtype=np.float32)[codes].transpose(0, 2, 1).copy())
    if n_at is not None:
        seq[n_at[0], :, n_at[1]] = 0
    return seq


def small_resnet(n_tracks: int = 2, crop: int = 20, **kw) -> DilatedResNet:
    """A random DilatedResNet (receptive field 19) with non-trivial BatchNorm statistics."""
    torch.manual_seed(0)
    args = {"channels": 8, "stem_kernel": 5, "kernel": 3, "dilations": [1, 2, 4], "dropout": 0.0}
    args.update(kw)
    model = DilatedResNet(n_tracks=n_tracks, crop=crop, **args)
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, nn.BatchNorm1d):
                mod.running_mean.uniform_(-0.5, 0.5)
                mod.running_var.uniform_(0.5, 2.0)
                mod.weight.uniform_(0.5, 1.5)
    return model.eval()


def naive_ism(model, seq, positions, objective: Objective, rc_average=False) -> torch.Tensor:
    """One full-window forward pass per substitution: scalar(alt) - scalar(ref)."""

    def scalar(x):
        out = model(x)
        s = objective.scalar(out)
        if rc_average:
            rev = model(torch.flip(x, (-2, -1)))
            pairs = getattr(model, "strand_pairs", None)
            mapped = {}
            for k, v in rev.items():
                v = v[:, pairs] if pairs is not None else v
                mapped[k] = v.flip(-1) if v.ndim == 3 else v
            s = 0.5 * (s + objective.scalar(mapped))
        return s[0]

    out = torch.zeros(seq.shape[0], 4, len(positions), dtype=seq.dtype)
    with torch.no_grad():
        for n in range(seq.shape[0]):
            ref = scalar(seq[n : n + 1])
            for j, p in enumerate(positions):
                for b in range(4):
                    if seq[n, b, p] == 1:
                        continue
                    x = seq[n : n + 1].clone()
                    x[0, :, p] = 0
                    x[0, b, p] = 1
                    out[n, b, j] = scalar(x) - ref
    return out


RESNET_ARGS = {"channels": 8, "stem_kernel": 5, "kernel": 3, "dilations": [1, 2, 4], "dropout": 0.0}


def write_checkpoint(path, model: DilatedResNet, track_names, window: int, fasta=None):
    """Save ``model`` as a genodil checkpoint that ``load_model`` reads."""
    spec = {
        "model": dict(model.config),
        "data": {"window": int(window), "fasta": None if fasta is None else str(fasta)},
        "track_names": list(track_names),
    }
    state = {f"model.{k}": v for k, v in model.state_dict().items()}
    torch.save({"genodil": spec, "state_dict": state}, path)
    return path
