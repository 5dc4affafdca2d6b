"""Probes behind docs/results.md's issue-13 rounds 2 to 5 (each ends with one JSON line).

``init``: the gradient of a tower's features at the centre of a window with respect to bases
0.5-8 kb away, at initialisation, without and with ``model.spread_channels`` (same seed)::

    python benchmarks/longrange_probe.py init --config configs/longrange.yaml --spread 8

``promoters``: a trained model's predicted ``longrange`` peak mass at ``nfy`` promoters of one
chromosome (the test chromosome chr4 by default; ``--chrom chr1`` for a training one), with and
without an enhancer in reach, against the simulator's truth::

    python benchmarks/longrange_probe.py promoters RUN_DIR DATA_DIR [--n 80] [--chrom chr4]

``plateau``: the first validation step at which a run's long-range track reached r 0.66
(round 3's table; r sits at ~0.63 until the enhancer path is found)::

    python benchmarks/longrange_probe.py plateau BENCH_RUN_DIR [--track longrange]

``raw``: copy a bench_variant_accuracy run folder with ``last.ckpt``'s averaged (EMA) weights
replaced by the trained ones, to rescore it (round 3's "raw weights" rows)::

    python benchmarks/longrange_probe.py raw OUT/exp OUT/exp_raw
    python benchmarks/bench_variant_accuracy.py --out OUT --tag exp_raw --reuse

``steptime``: seconds per training step (forward, Poisson-like loss, backward, AdamW; bf16
autocast; 4 x 16,400 bp; no data) of the config's model with ``model.head`` for every track
against softplus on the tracks named by ``--softplus``, interleaved round by round (round 4's
per-track link cost)::

    python benchmarks/longrange_probe.py steptime [--config configs/longrange.yaml]

``kernel``: the linear part of the spreading channels' reach at initialisation (each residual
block adds a box over its three dilated taps to its input; normalisations and activations left
out), averaged over a promoter peak's +-240 bp at 0.5-8 kb and given relative to 0.5 kb, for
13 exponential blocks and for other dilation lists (round 5)::

    python benchmarks/longrange_probe.py kernel [--extra 4096]
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import torch

_DISTANCES = (0, 500, 1000, 2000, 4000, 8000)


def init_gradients(config: str, spread: int, seed: int = 0) -> dict:
    from genodil.config import load_config
    from genodil.models import DilatedResNet

    model_args = dict(load_config(config, []).model)
    out = {}
    for n in (0, spread):
        torch.manual_seed(seed)
        model = DilatedResNet(n_tracks=1, **{**model_args, "spread_channels": n}).eval()
        length = 2 * model.receptive_field + 1
        x = torch.zeros(1, 4, length)
        x[0, 0] = 1.0
        x.requires_grad_(True)
        model.trunk(x)[0, :, length // 2].abs().sum().backward()
        grad = x.grad[0].abs().sum(0)
        out[f"spread_{n}"] = {d: float(grad[length // 2 + d]) for d in _DISTANCES}
        print(
            f"spread_channels {n}: "
            + ", ".join(f"{d} bp {g:.2e}" for d, g in out[f"spread_{n}"].items())
        )
    return out


def promoter_masses(run: str, data: str, n: int, chrom: str = "chr4") -> dict:
    import pyfaidx

    from genodil import simulate as sim
    from genodil.genome.encode import encode, one_hot
    from genodil.predict.runner import predict
    from genodil.simulate.tracks import longrange_input
    from genodil.train.io import load_model

    loaded = load_model(run)
    codes = encode(str(pyfaidx.Fasta(f"{data}/genome.fa")[chrom][:]))
    sites = sim.find_sites(codes)
    nfy = sites["nfy"]
    lr_in = longrange_input(nfy, sites["gata"], 11, 11)
    w, half = loaded.window, loaded.window // 2
    keep = [
        i for i in range(len(nfy.start))
        if nfy.occ[i] >= 0.5 and w <= nfy.start[i] <= len(codes) - w
    ][:n]  # fmt: skip
    x = np.stack(
        [one_hot(codes[nfy.start[i] + 5 - half : nfy.start[i] + 5 - half + w]) for i in keep]
    )
    pred = predict(loaded.model, torch.from_numpy(x), batch_size=4).float().numpy()
    track = pred[:, loaded.track_names.index("longrange")]
    mid = track.shape[1] // 2
    background = 0.2 * 490  # the simulator's background rate over the summed +-245 bp
    mass = track[:, mid - 245 : mid + 245].sum(1) - background
    truth = np.array([nfy.occ[i] * (2 + 40 * lr_in[i]) for i in keep]) * 147.0
    has = lr_in[keep] >= 0.05
    out = {}
    for name, m in (("with_enhancer", has), ("without_enhancer", ~has)):
        out[name] = {
            "n": int(m.sum()),
            "pred": float(mass[m].mean()),
            "true": float(truth[m].mean()),
        }
        print(
            f"{name}: {m.sum()} promoters, predicted {mass[m].mean():.0f}, "
            f"true {truth[m].mean():.0f}"
        )
    return out


def plateau_exit(run: str, track: str, level: float = 0.66) -> dict:
    """The first validation step whose ``val_pearson/<track>`` reached ``level``."""
    from pathlib import Path

    import pandas as pd

    files = sorted(Path(run).glob("model/logs/*/metrics.csv"))
    if not files:
        raise SystemExit(f"{run}: no model/logs/*/metrics.csv (a bench_variant_accuracy run?)")
    m = pd.read_csv(files[-1])
    val = m.dropna(subset=[f"val_pearson/{track}"])
    hit = val[val[f"val_pearson/{track}"] >= level]
    step = None if hit.empty else int(hit["step"].iloc[0])
    print(f"{run}: {track} validation r >= {level} first at step {step}")
    return {"track": track, "level": level, "step": step}


def raw_copy(run: str, out: str) -> dict:
    """Copy ``run`` to ``out`` with last.ckpt's state_dict set to the trained weights."""
    import shutil
    from pathlib import Path

    from genodil.outputs import atomic_output

    if Path(out).exists():
        raise SystemExit(f"{out} exists; remove it or pick another folder")
    shutil.copytree(run, out)
    ckpt = Path(out) / "model" / "checkpoints" / "last.ckpt"
    state = torch.load(ckpt, map_location="cpu", weights_only=False)
    if "current_model_state" not in state:
        raise SystemExit(f"{ckpt}: no current_model_state (trained without train.ema_decay)")
    state["state_dict"] = state["current_model_state"]
    with atomic_output(ckpt, what="checkpoint") as tmp:
        torch.save(state, tmp)
    print(f"raw weights written to {ckpt}")
    return {"checkpoint": str(ckpt)}


def step_times(config: str, softplus: list[int], rounds: int = 3, steps: int = 8) -> dict:
    """Median s/step of the config's model with one head against per-track heads."""
    import time

    from genodil.config import load_config
    from genodil.models import DilatedResNet

    mixed = [x for t in softplus for x in (f"--data.tracks.{t}.head", "softplus")]
    models = {
        "one_head": DilatedResNet(**load_config(config, []).model_kwargs()),
        "per_track": DilatedResNet(**load_config(config, mixed).model_kwargs()),
    }
    torch.manual_seed(0)
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (4, 16400)), 4).float()
    x = x.transpose(1, 2).contiguous()
    times: dict[str, list[float]] = {k: [] for k in models}
    for _ in range(rounds):
        for name, model in models.items():
            opt = torch.optim.AdamW(model.parameters(), 1e-3)
            t0 = time.perf_counter()
            for _ in range(steps):
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    y = model(x)["signal"].float()
                loss = (y - torch.rand_like(y) * torch.log(y + 1e-6)).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
            times[name].append((time.perf_counter() - t0) / steps)
    med = {k: float(np.median(v)) for k, v in times.items()}
    print(
        f"s/step: one head {med['one_head']:.3f}, per-track {med['per_track']:.3f} "
        f"(ratio {med['per_track'] / med['one_head']:.3f}); rounds {times}"
    )
    return {"s_per_step": med, "ratio": med["per_track"] / med["one_head"], "rounds": times}


def spread_kernel(extra: list[int], half_peak: int = 240) -> dict:
    """Relative reach of the box-initialised residual stack at 0.5-8 kb (see ``kernel``)."""
    dilations = [2**i for i in range(13)] + list(extra)
    reach = sum(dilations)
    k = np.zeros(2 * reach + 1)
    k[reach] = 1.0
    for d in dilations:  # x + box(x), box = (x[-d] + x + x[+d]) / 3
        box = k / 3
        box[d:] += k[:-d] / 3
        box[:-d] += k[d:] / 3
        k = k + box

    def near(offset: int) -> float:
        return float(k[reach + offset - half_peak : reach + offset + half_peak + 1].mean())

    rel = {d: near(d) / near(500) for d in (500, 1000, 2000, 4000, 8000)}
    print(f"dilations 1..4096 + {extra}: " + ", ".join(f"{d} bp {v:.3f}" for d, v in rel.items()))
    return {"dilations": dilations, "relative": rel}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="probe", required=True)
    a = sub.add_parser("init")
    a.add_argument("--config", default="configs/longrange.yaml")
    a.add_argument("--spread", type=int, default=8)
    b = sub.add_parser("promoters")
    b.add_argument("run")
    b.add_argument("data")
    b.add_argument("--n", type=int, default=80)
    b.add_argument("--chrom", default="chr4")
    c = sub.add_parser("plateau")
    c.add_argument("run")
    c.add_argument("--track", default="longrange")
    d = sub.add_parser("raw")
    d.add_argument("run")
    d.add_argument("out")
    e = sub.add_parser("steptime")
    e.add_argument("--config", default="configs/longrange.yaml")
    e.add_argument("--softplus", type=int, nargs="+", default=[0, 2, 3], help="track indices")
    f = sub.add_parser("kernel")
    f.add_argument("--extra", type=int, nargs="*", default=[], help="dilations after 4096")
    args = p.parse_args(argv)
    torch.set_num_threads(2)
    if args.probe == "init":
        figures = init_gradients(args.config, args.spread)
    elif args.probe == "plateau":
        figures = plateau_exit(args.run, args.track)
    elif args.probe == "raw":
        figures = raw_copy(args.run, args.out)
    elif args.probe == "kernel":
        figures = spread_kernel(args.extra)
    elif args.probe == "steptime":
        figures = step_times(args.config, args.softplus)
    else:
        figures = promoter_masses(args.run, args.data, args.n, args.chrom)
    print(json.dumps({"benchmark": f"longrange_probe {args.probe}", **figures}))


if __name__ == "__main__":
    main(sys.argv[1:])
