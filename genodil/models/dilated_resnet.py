"""Basenji-style dilated residual network at single-base resolution (docs/architecture.md §3).

Tensor contract: ``forward(seq)`` takes one-hot DNA ``(B, 4, L)`` and returns a dict that always
holds ``"signal"`` ``(B, T, L_out)`` with ``L_out = (L - 2 * crop) // bin_size``; with
``head="profile_count"`` also ``"profile_logits"`` ``(B, T, L_out)`` and ``"log_counts"``
``(B, T)``.

stem Conv1d(4 → C, stem_kernel) → act → N × residual block(d_i) → [ASPP] → crop →
BN → act → head (act: GELU or ReLU; block: bottleneck or plain). The final BN → act
(pre-activation ResNet style) normalises the sum of residual branches before the 1×1 head;
being per position it does not change the receptive field.
"""

from __future__ import annotations

import copy
import functools
import inspect
from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor, nn

from genodil.errors import InputError
from genodil.genome.encode import reverse_complement
from genodil.genome.strands import check_strand_pairs, rc_average, rc_map
from genodil.models.heads import TRACK_ACTIVATIONS, ProfileCountHead, TrackHead, profile_signal
from genodil.models.layers import (
    ACTIVATIONS,
    ASPP,
    BLOCKS,
    DilatedResidualBlock,
    PlainDilatedBlock,
    batch_norm,
    checkpointed,
    crop_sides,
    spread_init,
)
from genodil.models.schedules import TowerGeometry

__all__ = ["HEADS", "DilatedResNet"]

HEADS = (*TRACK_ACTIVATIONS, "profile_count")
_POOLS = ("sum", "mean")
_MERGES = ("sum", "concat")
BLOCK_INIT_SCALE = 0.1  # initial scale of each block's last BatchNorm: blocks start near identity


def _check_choice(value: object, name: str, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise InputError(f"model.{name} is {value!r}; allowed values: {', '.join(allowed)}")


def _check_args(config: dict) -> None:
    """Raise InputError for model arguments outside their allowed values (not geometry)."""
    for name in ("n_tracks", "channels"):
        value = config[name]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InputError(f"model.{name} must be an integer >= 1, got {value!r}")
    mid = config["mid_channels"]
    if mid is not None and (isinstance(mid, bool) or not isinstance(mid, int) or mid < 1):
        raise InputError(f"model.mid_channels must be null or >= 1, got {mid!r}")
    if not 0.0 <= float(config["dropout"]) < 1.0:
        raise InputError(f"model.dropout must be in [0, 1), got {config['dropout']!r}")
    _check_choice(config["head"], "head", HEADS)
    _check_choice(config["pool"], "pool", _POOLS)
    _check_choice(config["aspp_merge"], "aspp_merge", _MERGES)
    _check_choice(config["block"], "block", BLOCKS)
    _check_choice(config["activation"], "activation", tuple(ACTIVATIONS))
    spread = config["spread_channels"]
    if (
        isinstance(spread, bool)
        or not isinstance(spread, int)
        or not 0 <= spread <= config["channels"]
    ):
        raise InputError(
            f"model.spread_channels must be an integer from 0 to model.channels "
            f"({config['channels']}), got {spread!r}"
        )
    if spread and config["block"] != "plain":
        raise InputError("model.spread_channels needs model.block: plain (set it, or spread 0)")
    _check_track_heads(config)
    if config["head"] == "profile_count" and config["pool"] != "sum" and config["bin_size"] > 1:
        raise InputError(
            "model.head profile_count predicts counts per bin, so model.pool must be 'sum' "
            f"(got {config['pool']!r}) when bin_size > 1"
        )


def _check_track_heads(config: dict) -> None:
    heads = config["track_heads"]
    if heads is None:
        return
    if config["head"] == "profile_count":
        raise InputError(
            "a track sets its own head, but model.head is profile_count (one softmax over all "
            "tracks); remove the tracks' head keys or use a per-position model.head"
        )
    if not isinstance(heads, list | tuple) or len(heads) != config["n_tracks"]:
        raise InputError(
            f"model.track_heads must list one head per track ({config['n_tracks']}), got {heads!r}"
        )
    for head in heads:
        _check_choice(head, "track_heads entry", TRACK_ACTIVATIONS)


class DilatedResNet(nn.Module):
    """Dilated residual 1D CNN mapping one-hot DNA to per-base (or per-bin) track values.

    Parameters
    ----------
    n_tracks : int
        T, the number of output tracks.
    channels : int
        C, the tower width.
    mid_channels : int or None
        Width inside each residual block; None = channels // 2 (Basenji's bottleneck).
    stem_kernel : int
        Odd kernel of the first convolution (4 → C).
    kernel : int
        Odd kernel k of the dilated convolutions.
    dilations : dict, list of int or None
        Dilation schedule (see :func:`genodil.models.schedules.resolve_dilations`); None =
        exponential rate 2 with 14 blocks (R ≈ 32 kb with k = 3).
    dropout : float
        Dropout at the end of each residual branch, in [0, 1).
    crop : int
        Bases removed from each side of the output (edges lack full context).
    head : {"softplus", "exp", "identity", "product", "profile_count"}
        Output head: softplus or exp (non-negative tracks; exp is the log link, where features
        multiply the rate), product (``e^g · softplus(s)``: a gain that multiplies times an
        input that adds, like promoter strength times the enhancers in reach), identity (any
        sign) or a BPNet-style profile + total-count head.
    bin_size : int
        Output resolution in bp; outputs are pooled over ``bin_size`` bases.
    pool : {"sum", "mean"}
        How the track head pools bases into bins (the profile head always sums).
    aspp : list of int or None
        Rates of an ASPP block closing the tower.
    aspp_merge : {"sum", "concat"}
        How the ASPP branches are combined.
    checkpoint_blocks : bool
        Activation checkpointing of the stem, every residual block and the head (less memory,
        about one extra forward pass): only the residual stream between blocks is kept.
    rc_equivariant : bool
        Average the prediction for the input and the mapped prediction for its reverse
        complement, so that ``f(rc(x))`` is exactly the reverse-complement map of ``f(x)``.
    strand_pairs : list of int or None
        For each track the index of its reverse-strand partner; None = all unstranded.
    block : {"bottleneck", "plain"}
        Residual block: ``bottleneck`` (BN → act → dilated conv to ``mid_channels`` → BN → act →
        1×1 conv back to C) or ``plain`` (BN → act → dilated conv C → C; ``mid_channels`` is
        unused), which is faster per step on CPUs (docs/benchmarks.md).
    activation : {"gelu", "relu"}
        Nonlinearity of the stem, the blocks, ASPP and the final normalisation.
    spread_channels : int
        With ``block: plain``, the first this-many channels of every block start as spreaders
        (:func:`~genodil.models.layers.spread_init`): 0 (the default) leaves the usual init.
    track_heads : list of str or None
        Per track, its own head activation (softplus, exp, identity or product), overriding
        ``head``;
        derived from the tracks' ``head`` keys. None: every track uses ``head``.
    """

    def __init__(
        self,
        n_tracks: int = 1,
        channels: int = 64,
        mid_channels: int | None = None,
        stem_kernel: int = 15,
        kernel: int = 3,
        dilations: dict | list[int] | None = None,
        dropout: float = 0.1,
        crop: int = 0,
        head: Literal["softplus", "exp", "identity", "product", "profile_count"] = "softplus",
        bin_size: int = 1,
        pool: Literal["sum", "mean"] = "sum",
        aspp: list[int] | None = None,
        aspp_merge: Literal["sum", "concat"] = "sum",
        checkpoint_blocks: bool = False,
        rc_equivariant: bool = False,
        strand_pairs: list[int] | None = None,
        block: Literal["bottleneck", "plain"] = "bottleneck",
        activation: Literal["gelu", "relu"] = "gelu",
        spread_channels: int = 0,
        track_heads: list[str] | None = None,
    ) -> None:
        args = dict(locals())
        super().__init__()
        # The constructor's arguments by name, as given (what checkpoints store).
        self.config = copy.deepcopy({name: args[name] for name in _init_arg_names()})
        self.geometry = self.geometry_from_config(**self.config)
        _check_args(self.config)
        if mid_channels is None:
            mid_channels = max(1, channels // 2)
        self.head_kind = head
        self._checkpoint = bool(checkpoint_blocks)
        self.rc_equivariant = bool(rc_equivariant)
        self._strand_pairs = check_strand_pairs(strand_pairs, n_tracks, source="model.strand_pairs")

        geo = self.geometry
        self.stem = nn.Conv1d(4, channels, geo.stem_kernel, padding=(geo.stem_kernel - 1) // 2)
        common = {
            "dropout": float(dropout),
            "init_scale": BLOCK_INIT_SCALE,
            "checkpoint": checkpoint_blocks,
            "activation": activation,
        }
        self.blocks = nn.ModuleList(
            DilatedResidualBlock(channels, mid_channels, geo.kernel, d, **common)
            if block == "bottleneck"
            else PlainDilatedBlock(channels, geo.kernel, d, **common)
            for d in geo.dilations
        )
        if spread_channels:
            for blk in self.blocks:
                spread_init(blk.conv, spread_channels)
        self.aspp = (
            ASPP(
                channels,
                mid_channels,
                geo.kernel,
                geo.aspp,
                merge=aspp_merge,
                **common,
            )
            if geo.aspp
            else None
        )
        self.final_norm = nn.BatchNorm1d(channels)
        self.act = ACTIVATIONS[activation]()  # a module, so DeepLIFT's rules can hook it
        if head == "profile_count":
            self.head: nn.Module = ProfileCountHead(channels, n_tracks, geo.bin_size)
        else:
            self.head = TrackHead(channels, n_tracks, track_heads or head, geo.bin_size, pool)

    @property
    def checkpoint_blocks(self) -> bool:
        """Whether activations are recomputed in the backward pass; settable."""
        return self._checkpoint

    @checkpoint_blocks.setter
    def checkpoint_blocks(self, value: bool) -> None:
        self._checkpoint = bool(value)
        self.config["checkpoint_blocks"] = self._checkpoint
        for module in self.modules():
            if isinstance(module, DilatedResidualBlock | PlainDilatedBlock | ASPP):
                module.checkpoint = self._checkpoint

    # -- geometry -------------------------------------------------------------------------
    @staticmethod
    def geometry_from_config(**model_args: object) -> TowerGeometry:
        """Receptive field, crop and output length for these model arguments, without weights.

        Accepts the same keyword arguments as the constructor (a config's ``model`` section);
        the ones that do not change the geometry are ignored.
        """
        return TowerGeometry.from_config(**model_args)

    @property
    def receptive_field(self) -> int:
        """Input span in bp that one output base depends on (before binning)."""
        return self.geometry.receptive_field

    @property
    def crop(self) -> int:
        """Bases cut from each side of the output."""
        return self.geometry.crop

    @property
    def bin_size(self) -> int:
        """Output resolution in bp."""
        return self.geometry.bin_size

    @property
    def n_tracks(self) -> int:
        """T, the number of output tracks."""
        return int(self.config["n_tracks"])

    @property
    def dilations(self) -> list[int]:
        """The resolved per-block dilations."""
        return list(self.geometry.dilations)

    @property
    def strand_pairs(self) -> list[int] | None:
        """Track permutation under reverse complement, or None."""
        return None if self._strand_pairs is None else list(self._strand_pairs)

    def output_length(self, seq_len: int) -> int:
        """Output positions for an input of ``seq_len`` bp: ``(seq_len - 2 * crop) // bin_size``."""
        return self.geometry.output_length(seq_len)

    def check_input_length(self, seq_len: int) -> None:
        """Raise InputError unless ``seq_len`` gives at least one output position."""
        self.geometry.check_input_length(seq_len)

    # -- forward --------------------------------------------------------------------------
    def forward(self, seq: Tensor) -> dict[str, Tensor]:
        """Predict tracks from one-hot DNA.

        Parameters
        ----------
        seq : Tensor, shape (B, 4, L)
            One-hot DNA, rows A, C, G, T; N is an all-zero column.

        Returns
        -------
        dict
            "signal" (B, T, L_out); with the profile_count head also "profile_logits"
            (B, T, L_out) and "log_counts" (B, T). ``L_out = (L - 2 * crop) // bin_size``.
        """
        if seq.ndim != 3 or seq.shape[1] != 4:
            raise InputError(f"model input must have shape (B, 4, L), got {tuple(seq.shape)}")
        self.check_input_length(seq.shape[-1])
        if not self.rc_equivariant:
            return self._forward_strand(seq)
        rc_seq = reverse_complement(seq)
        if self.training:
            # One batch of both strands: BatchNorm sees them together and updates once.
            n = seq.shape[0]
            both = self._forward_strand(torch.cat([seq, rc_seq], dim=0))  # (2B, ...)
            fwd = {key: value[:n] for key, value in both.items()}
            rev = {key: value[n:] for key, value in both.items()}
        else:
            # Separate passes compute f(x) and f(rc(x)) bit for bit alike whichever strand
            # is the input, so the mirror identity holds exactly (a 2B batch can round
            # differently by position).
            fwd, rev = self._forward_strand(seq), self._forward_strand(rc_seq)
        out = {
            key: rc_average(fwd[key], rev[key], self._strand_pairs)
            for key in fwd
            if not (key == "signal" and self.head_kind == "profile_count")
        }
        if self.head_kind == "profile_count":
            out["signal"] = profile_signal(out["profile_logits"], out["log_counts"])
        return out

    def rc_map(self, pred: Tensor) -> Tensor:
        """Map a prediction for a reverse-complemented input onto the forward strand.

        Parameters
        ----------
        pred : Tensor, shape (B, T, L) or (B, T)
            Positions are reversed (when there is a length axis) and tracks permuted by
            ``strand_pairs``.

        Returns
        -------
        Tensor, same shape
        """
        return rc_map(pred, self._strand_pairs)

    def trunk(self, seq: Tensor) -> Tensor:
        """Tower features before crop and head.

        Parameters
        ----------
        seq : Tensor, shape (B, 4, L)

        Returns
        -------
        Tensor, shape (B, C, L)
        """
        if self.checkpoint_blocks and torch.is_grad_enabled():
            h = checkpointed(self._stem, seq)  # (B, C, L); keeps only seq for backward
        else:
            h = self._stem(seq)
        for block in self.blocks:
            h = block(h)
        if self.aspp is not None:
            h = self.aspp(h)
        return h

    def _stem(self, seq: Tensor, update_stats: bool = True) -> Tensor:
        return self.act(self.stem(seq))  # (B, C, L)

    def _tail(self, h: Tensor, update_stats: bool = True) -> dict[str, Tensor]:
        h = crop_sides(h, self.crop)  # (B, C, L - 2 * crop)
        return self.head(self.act(batch_norm(h, self.final_norm, update_stats)))

    def _forward_strand(self, seq: Tensor) -> dict[str, Tensor]:
        h = self.trunk(seq)
        if self.checkpoint_blocks and torch.is_grad_enabled():
            return checkpointed(self._tail, h)
        return self._tail(h)


@functools.cache
def _init_arg_names() -> tuple[str, ...]:
    """Names of ``DilatedResNet.__init__``'s arguments, in order (without ``self``)."""
    return tuple(inspect.signature(DilatedResNet.__init__).parameters)[1:]
