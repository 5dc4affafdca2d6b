"""Rebuild a trained model and its data spec from a checkpoint alone.

The network is rebuilt from the model arguments saved in the checkpoint (not from Lightning's
hyperparameters), then its weights are loaded; see STYLE section 5.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
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

    def __repr__(self) -> str:
        """One line: what a person needs to recognise the model (not the whole network)."""
        n_params = sum(p.numel() for p in self.model.parameters())
        rf = getattr(self.model, "receptive_field", None)
        return (
            f"Loaded({type(self.model).__name__}, {len(self.track_names)} tracks "
            f"[{', '.join(self.track_names[:4])}{', ...' if len(self.track_names) > 4 else ''}], "
            f"window {self.window:,} bp, crop {self.crop:,}, bin {self.bin_size}, "
            f"receptive field {rf:,} bp, {n_params:,} parameters, from {self.path})"
        )

    def genome_fasta(self, fasta: str | os.PathLike | None = None) -> Path:
        """The FASTA to read: ``fasta`` when given, else the one the model was trained on.

        Raises
        ------
        InputError
            No ``fasta`` was given and the training FASTA saved in the checkpoint is gone.
        """
        if fasta is not None:
            return Path(fasta)
        saved = self.data.get("fasta")
        if saved and Path(saved).is_file():
            return Path(saved)
        raise InputError(
            f"no --fasta given, and the FASTA checkpoint {self.path} was trained on "
            f"({saved or 'not recorded'}) is not there any more; pass --fasta GENOME.fa"
        )

    @property
    def track_specs(self) -> list | None:
        """The tracks (:class:`~genodil.data.tracks.TrackSpec`) the model was trained on.

        None when the checkpoint records none (a hand-made one): outputs then stay in the
        model's units.
        """
        from genodil.data.tracks import to_track_specs

        tracks = self.data.get("tracks") or []
        if len(tracks) != len(self.track_names):
            return None
        # an older or hand-made spec may lack a track's path: it is not needed to predict
        return to_track_specs([{"path": "", **t} for t in tracks])

    def predict(
        self,
        seq: str | Sequence[str] | np.ndarray | torch.Tensor,
        *,
        units: str = "track",
        rc_average: bool = False,
        batch_size: int = 8,
        device: str = "auto",
    ) -> np.ndarray:
        """Predict tracks for sequences held in memory.

        Parameters
        ----------
        seq : str, list of str, or one-hot array/tensor of shape (N, 4, L)
            DNA strings (any case; N and other letters become all-zero columns) of one
            length, at least the model's receptive field.
        units : {"track", "model"}
            ``track`` (default): each track's own bigWig units
            (:func:`~genodil.data.tracks.untransform_tracks`); ``model``: what the network
            outputs.
        rc_average : bool
            Average with the reverse-complement prediction (strand pairs swapped).
        batch_size, device
            Passed to :func:`genodil.predict.runner.predict`.

        Returns
        -------
        np.ndarray, shape (N, T, L - 2 * crop) (divided by the bin size), float32
        """
        from genodil.data.tracks import untransform_tracks
        from genodil.genome.encode import encode, one_hot
        from genodil.predict.runner import predict

        if units not in ("track", "model"):
            raise InputError(f"units must be 'track' or 'model', not {units!r}")
        if isinstance(seq, str):
            seq = [seq]
        if isinstance(seq, (list, tuple)):
            if len({len(s) for s in seq}) > 1:
                raise InputError("all sequences must have the same length")
            seq = np.stack([one_hot(encode(s)) for s in seq])
        out = predict(
            self.model,
            seq,
            batch_size=batch_size,
            device=device,
            rc_average=rc_average,
            strand_pairs=self.strand_pairs,
        ).numpy()
        specs = self.track_specs
        if units == "model" or specs is None:
            return out
        return untransform_tracks(out, specs, self.bin_size)

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


def _read_checkpoint(ckpt_path: Path, map_location: str) -> Any:
    """``torch.load`` with ``weights_only=True``; any failure becomes one plain message."""
    import pickle

    try:
        return torch.load(ckpt_path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch raises KeyError, OSError, EOFError, ...
        with open(ckpt_path, "rb") as fh:
            is_zip = fh.read(4) == b"PK\x03\x04"
        if isinstance(e, pickle.UnpicklingError) and "Unsupported global" in str(e):
            # torch's own message suggests weights_only=False, which would run code from the
            # file: never repeat that advice.
            why = "it holds Python objects that a safe load refuses"
        elif is_zip:
            why = "it is truncated or damaged"
        else:
            why = "it is not a PyTorch checkpoint"
    raise InputError(
        f"cannot read checkpoint {ckpt_path}: {why}. Give a complete checkpoint written by "
        "`genodil train` (an interrupted run leaves its previous complete one in place)"
    )


def load_model(path: str | os.PathLike, map_location: str = "cpu") -> Loaded:
    """Load a genodil checkpoint (or run directory) into a :class:`Loaded` in eval mode."""
    from genodil.models import DilatedResNet

    ckpt_path = find_checkpoint(path)
    ckpt = _read_checkpoint(ckpt_path, map_location)
    spec = ckpt.get("genodil") if isinstance(ckpt, dict) else None
    if not isinstance(spec, dict) or "model" not in spec:
        raise InputError(
            f"{ckpt_path} is not a genodil checkpoint (no 'genodil' spec inside); "
            "use a checkpoint written by `genodil train`"
        )
    names = spec.get("track_names")
    n_tracks = spec["model"].get("n_tracks")
    if not isinstance(names, list) or len(names) != n_tracks:
        raise InputError(
            f"checkpoint {ckpt_path}: its track names {names!r} do not match its model "
            f"({n_tracks} output tracks); the file was edited or mixed from two runs: use the "
            "checkpoint as written by `genodil train`"
        )
    try:
        model = DilatedResNet(**spec["model"])
    except (TypeError, ValueError) as e:
        raise InputError(
            f"checkpoint {ckpt_path}: its saved model spec cannot be rebuilt ({e}); was it "
            "written by another genodil version?"
        ) from None
    state = ckpt.get("state_dict")
    if not isinstance(state, dict):
        raise InputError(
            f"checkpoint {ckpt_path} holds no 'state_dict' (the trained weights); use "
            "checkpoints/best.ckpt or last.ckpt of a `genodil train` run"
        )
    state = {k.removeprefix("model."): v for k, v in state.items() if k.startswith("model.")}
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        first = str(e).splitlines()[1].strip() if len(str(e).splitlines()) > 1 else str(e)
        raise InputError(
            f"checkpoint {ckpt_path}: its weights do not fit the model its spec describes "
            f"({first[:200]}); the file was edited or mixed from two runs: use the checkpoint "
            "as written by `genodil train`"
        ) from None
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
