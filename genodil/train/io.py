"""Rebuild a trained model and its data spec from a checkpoint alone.

The network is rebuilt from the model arguments saved in the checkpoint (not from Lightning's
hyperparameters), then its weights are loaded; see STYLE section 5.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from genodil.errors import InputError

__all__ = ["Loaded", "find_checkpoint", "load_model"]


@dataclass
class Loaded:
    """A trained model with what is needed to feed it and name its outputs."""

    model: nn.Module
    track_names: list[str]
    window: int
    crop: int
    bin_size: int
    strand_pairs: list[int] | None
    spec: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    @property
    def data(self) -> dict[str, Any]:
        """The data section the model was trained with (absolute paths)."""
        return dict(self.spec.get("data", {}))


def find_checkpoint(path: str | os.PathLike) -> Path:
    """Accept a checkpoint file or a run directory (then ``checkpoints/best.ckpt``)."""
    p = Path(path)
    if p.is_dir():
        for name in ("best.ckpt", "last.ckpt"):
            if (p / "checkpoints" / name).exists():
                return p / "checkpoints" / name
        raise InputError(f"run directory {p} holds no checkpoints/best.ckpt or last.ckpt")
    if not p.exists():
        raise InputError(f"checkpoint {p} does not exist: check the path")
    return p


def load_model(path: str | os.PathLike, map_location: str = "cpu") -> Loaded:
    """Load a genodil checkpoint (or run directory) into a :class:`Loaded` in eval mode."""
    from genodil.models import DilatedResNet

    ckpt_path = find_checkpoint(path)
    try:
        ckpt = torch.load(ckpt_path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch raises many types for a foreign file
        raise InputError(
            f"cannot read checkpoint {ckpt_path} ({type(e).__name__}: {e}); is it a complete "
            "genodil checkpoint? An interrupted run leaves only the previous complete one."
        ) from None
    spec = ckpt.get("genodil") if isinstance(ckpt, dict) else None
    if not spec or "model" not in spec:
        raise InputError(
            f"{ckpt_path} is not a genodil checkpoint (no 'genodil' spec inside); "
            "use a checkpoint written by `genodil train`"
        )
    model = DilatedResNet(**spec["model"])
    state = {
        k.removeprefix("model."): v for k, v in ckpt["state_dict"].items() if k.startswith("model.")
    }
    model.load_state_dict(state)
    model.eval()
    data = spec["data"]
    return Loaded(
        model=model,
        track_names=list(spec["track_names"]),
        window=int(data["window"]),
        crop=int(model.crop),
        bin_size=int(model.bin_size),
        strand_pairs=spec["model"].get("strand_pairs"),
        spec=spec,
        path=ckpt_path,
    )
