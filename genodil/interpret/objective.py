"""The scalar an attribution explains.

Every attribution method explains one number per sequence, built from the model's outputs:

- ``form="sum"`` (default): the predicted ``signal`` summed over the chosen tracks (one track,
  several, or all) and over a span of output bins. By default the span is the region being
  explained, so the attributions answer "which bases make this region's prediction high".
  ``signal`` is the model's output (the track's own units when the track was trained
  without transforms; counts per base for a softplus/Poisson head).
- ``form="profile"`` (``profile_count`` heads only): BPNet's profile-weighted form,
  ``sum_i softmax(z)_i * (z_i - mean(z))`` over the span, with ``z`` the profile logits and
  the softmax weights held constant (detached). It explains the *shape* of the profile.
- ``form="counts"`` (``profile_count`` heads only): the predicted total log counts, which
  explain the *amount* of signal in the whole output window (the span is ignored).

With ``rc_average`` the scalar is the mean of the scalar for the sequence and the scalar of
the strand-mapped prediction for its reverse complement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from genodil.errors import InputError
from genodil.genome.encode import reverse_complement
from genodil.genome.strands import rc_map

__all__ = ["FORMS", "Objective", "ScalarModel"]

FORMS = ("sum", "profile", "counts")


@dataclass(frozen=True)
class Objective:
    """Which outputs are reduced to the explained scalar, and how.

    Attributes
    ----------
    tracks : tuple of int or None
        Track indices summed; None = all tracks.
    bins : (int, int) or None
        Output bins ``[lo, hi)`` of the model's output (for the full input window) summed;
        None = every output bin.
    form : {"sum", "profile", "counts"}
        See the module docstring.
    """

    tracks: tuple[int, ...] | None = None
    bins: tuple[int, int] | None = None
    form: Literal["sum", "profile", "counts"] = "sum"

    def __post_init__(self) -> None:
        if self.form not in FORMS:
            raise InputError(f"objective form {self.form!r} is unknown; choose one of {FORMS}")
        if self.bins is not None and not 0 <= self.bins[0] < self.bins[1]:
            raise ValueError(f"objective bins {self.bins} must satisfy 0 <= lo < hi")

    def _select(self, x: Tensor, offset: int = 0) -> Tensor:
        """``x[:, tracks, lo - offset : hi - offset]`` (bins clipped to what ``x`` holds)."""
        if self.tracks is not None:
            x = x[:, list(self.tracks)]
        if self.bins is None or x.ndim == 2:
            return x
        lo = min(max(self.bins[0] - offset, 0), x.shape[-1])
        hi = min(max(self.bins[1] - offset, 0), x.shape[-1])
        return x[..., lo:hi]

    def values(self, out: dict[str, Tensor], offset: int = 0) -> Tensor:
        """Per-sequence terms whose sum over the last axis is the scalar; shape (B, K).

        Parameters
        ----------
        out : dict
            The model's outputs for one strand (``signal``; ``profile_logits`` and
            ``log_counts`` for the profile forms).
        offset : int
            Output bin of the full window where ``out``'s first bin lies (for sub-windows).
        """
        if self.form == "sum":
            sel = self._select(out["signal"].float(), offset)
            return sel.reshape(sel.shape[0], -1)
        key = "profile_logits" if self.form == "profile" else "log_counts"
        if key not in out:
            raise InputError(
                f"objective form {self.form!r} needs a model with a profile_count head "
                f"(outputs {key!r}); this model returns {sorted(out)}. Use --objective sum"
            )
        if self.form == "counts":
            return self._select(out["log_counts"].float())
        z = self._select(out["profile_logits"].float(), offset)
        weights = torch.softmax(z, dim=-1).detach()
        weighted = weights * (z - z.mean(dim=-1, keepdim=True))
        return weighted.reshape(weighted.shape[0], -1)

    def scalar(self, out: dict[str, Tensor], offset: int = 0) -> Tensor:
        """The explained scalar, shape (B,)."""
        return self.values(out, offset).sum(dim=1)


def as_dict(out: Tensor | dict[str, Tensor]) -> dict[str, Tensor]:
    """A model's output as a dict (a bare tensor is the ``signal``)."""
    if isinstance(out, Tensor):
        return {"signal": out}
    if not isinstance(out, dict) or "signal" not in out:
        raise TypeError("the model must return a dict with key 'signal' of shape (B, T, L_out)")
    return out


def rc_map_outputs(out: dict[str, Tensor], strand_pairs: Sequence[int] | None) -> dict:
    """Map every output of a reverse-complemented input onto the forward strand."""
    return {key: rc_map(value, strand_pairs) for key, value in out.items()}


class ScalarModel(nn.Module):
    """``x (B, 4, L) -> (B, 1)``: a model reduced to its explained scalar.

    Gradient-based attribution libraries (tangermeme, captum) explain a (B, n_outputs)
    tensor; this wraps any genodil model so output 0 is :class:`Objective`'s scalar. The
    wrapped model's own modules stay in the graph, so DeepLIFT hooks on them apply.

    Parameters
    ----------
    model : nn.Module
    objective : Objective
    rc_average : bool
    strand_pairs : list of int or None
        Default ``model.strand_pairs``.
    """

    def __init__(
        self,
        model: nn.Module,
        objective: Objective,
        rc_average: bool = False,
        strand_pairs: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        self.objective = objective
        self.rc_average = bool(rc_average)
        if strand_pairs is None:
            strand_pairs = getattr(model, "strand_pairs", None)
        self.strand_pairs = None if strand_pairs is None else list(strand_pairs)

    def forward(self, x: Tensor) -> Tensor:
        """The scalar of each sequence, shape (B, 1)."""
        if not self.rc_average:
            return self.objective.scalar(as_dict(self.model(x)))[:, None]
        # Two calls, not one batch of both strands: DeepLIFT rules pair the first and second
        # halves of each batch (inputs and references), which a strand concatenation breaks.
        fwd = as_dict(self.model(x))
        rev = rc_map_outputs(as_dict(self.model(reverse_complement(x))), self.strand_pairs)
        return (0.5 * (self.objective.scalar(fwd) + self.objective.scalar(rev)))[:, None]
