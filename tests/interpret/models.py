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


def write_checkpoint(
    path, model: DilatedResNet, track_names, window: int, fasta=None, data: dict | None = None
):
    """Save ``model`` as a genodil checkpoint that ``load_model`` reads.

    ``data`` adds keys to the checkpoint's data section (``tracks``, ``splits``).
    """
    spec = {
        "model": dict(model.config),
        "data": {"window": int(window), "fasta": None if fasta is None else str(fasta)}
        | (data or {}),
        "track_names": list(track_names),
    }
    state = {f"model.{k}": v for k, v in model.state_dict().items()}
    torch.save({"genodil": spec, "state_dict": state}, path)
    return path


class MotifOccupancyModel(nn.Module):
    """The simulator's ``local`` track as a network: PWM scan, occupancy, footprint.

    Each motif of :data:`genodil.simulate.MOTIFS` is scanned on both strands with its log-odds
    matrix (a centred Conv1d, kernel 11); a sigmoid turns the score into the simulator's
    occupancy; occupancies weighted by ``local_height`` are spread by a Gaussian footprint
    (Conv1d, kernel 21). A trained demo model approximates this function, so it stands in
    for one where training is too slow for a test.
    """

    def __init__(self, crop: int = 20) -> None:
        super().__init__()
        from genodil import simulate

        motifs = list(simulate.MOTIFS.values())
        k = 11
        weight = np.zeros((2 * len(motifs), 4, k), dtype=np.float32)
        bias = np.zeros(2 * len(motifs), dtype=np.float32)
        for i, m in enumerate(motifs):
            # occupancy = sigmoid(slope * (score - thr)): read slope and thr off the simulator
            logit0, logit1 = (float(np.log(o / (1 - o))) for o in m.occupancy(np.array([0, 1])))
            slope, thr = logit1 - logit0, -logit0 / (logit1 - logit0)
            lo = m.log_odds[:, :4].T  # (4, m)
            weight[2 * i, :, : len(m)] = slope * lo
            weight[2 * i + 1, :, k - len(m) :] = slope * lo[::-1, ::-1]  # reverse complement
            bias[2 * i : 2 * i + 2] = -slope * thr
        self.scan = nn.Conv1d(4, len(bias), k, padding=k // 2)
        self.occupancy = nn.Sigmoid()
        heights = np.repeat([m.local_height for m in motifs], 2).astype(np.float32)
        foot = np.exp(-0.5 * (np.arange(21) - 10) ** 2 / 4.0**2).astype(np.float32)
        self.spread = nn.Conv1d(len(bias), 1, 21, padding=10, bias=False)
        with torch.no_grad():
            self.scan.weight.copy_(torch.from_numpy(weight))
            self.scan.bias.copy_(torch.from_numpy(bias))
            self.spread.weight.copy_(torch.from_numpy(heights[None, :, None] * foot[None, None]))
        self.crop = crop
        self.bin_size = 1
        self.receptive_field = k + 21 - 1

    def forward(self, x):
        y = self.spread(self.occupancy(self.scan(x)))  # (B, 1, L)
        return {"signal": y[..., self.crop : x.shape[-1] - self.crop]}


def planted_sequences(n: int, length: int, seed: int = 0):
    """Random sequences with one planted motif instance (flank bases mutated) at the centre.

    Returns (one-hot (n, 4, length), list of (motif name, start, end)).
    """
    from genodil import simulate
    from genodil.genome.encode import encode

    rng = np.random.default_rng(seed)
    names = list(simulate.MOTIFS)
    codes = rng.integers(0, 4, size=(n, length))
    sites = []
    for i in range(n):
        m = simulate.MOTIFS[names[i % len(names)]]
        site = encode(m.consensus.upper()).astype(np.int64)
        flank = [j for j, ch in enumerate(m.consensus) if ch.islower()]
        site[flank] = rng.integers(0, 4, size=len(flank))
        if rng.random() < 0.5:
            site = (3 - site)[::-1]
        start = length // 2 - len(m) // 2
        codes[i, start : start + len(m)] = site
        sites.append((m.name, start, start + len(m)))
    seq = torch.from_numpy(np.eye(4, dtype=np.float32)[codes].transpose(0, 2, 1).copy())
    return seq, sites
