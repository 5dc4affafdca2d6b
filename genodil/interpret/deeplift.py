"""DeepLIFT/SHAP attributions through tangermeme's ``deep_lift_shap``.

Each sequence is compared with ``n_shuffles`` dinucleotide-shuffled copies of itself (the
references); DeepLIFT's rescale rule propagates the difference of the explained scalar
(:class:`~genodil.interpret.objective.Objective`) back to the input, and the result is
averaged over the references. The returned values are *hypothetical* contributions
(one per base and position); times the one-hot input they give the projected contributions,
whose sum over positions is the scalar minus its mean over the references.

DeepLIFT's rules attach to activation *modules* (``nn.GELU``, ``nn.Softplus``, ...);
genodil's models use them, so every non-linearity gets its rule (the exp head's
:class:`~genodil.models.heads.Exp` and the product head's
:class:`~genodil.models.heads.LogSoftplus` get tangermeme's rescale rule here). Operations
with no rule are treated as linear; tangermeme then reports large convergence deltas, which
are logged.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import torch
from torch import Tensor, nn

from genodil.errors import InputError
from genodil.interpret.gradients import _as_seq, attribution_mode
from genodil.interpret.objective import Objective, ScalarModel

__all__ = ["deep_lift_shap", "require_interpret_extra", "shuffled_references"]

log = logging.getLogger(__name__)


def require_interpret_extra(module: str = "tangermeme"):
    """Import one of the ``interpret`` extra's packages, or raise an InputError saying how."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise InputError(
            f"this needs the Python package {module!r}, part of genodil's 'interpret' extra "
            f"({err}); install it with: pip install 'genodil[interpret]'"
        ) from None


def shuffled_references(seq: Tensor, n_shuffles: int, seed: int) -> Tensor:
    """Dinucleotide-shuffled references, shape (N, n_shuffles, 4, L).

    tangermeme's ``dinucleotide_shuffle`` with ``random_state=seed``, so results repeat.
    N positions (all-zero columns) are allowed.
    """
    ersatz = require_interpret_extra("tangermeme.ersatz")
    return ersatz.dinucleotide_shuffle(seq, n=n_shuffles, random_state=seed, allow_N=True)


def deep_lift_shap(
    model: nn.Module,
    seq: Tensor | np.ndarray,
    objective: Objective | None = None,
    *,
    n_shuffles: int = 20,
    references: Tensor | None = None,
    batch_size: int = 64,
    device: str = "auto",
    rc_average: bool = False,
    strand_pairs: list[int] | None = None,
    seed: int = 0,
    progress: bool = False,
) -> Tensor:
    """Hypothetical DeepLIFT/SHAP contributions of one-hot sequences.

    Parameters
    ----------
    model : nn.Module
        A genodil model; its device and training flags are restored afterwards.
    seq : Tensor or np.ndarray, shape (N, 4, L), one-hot
    objective : Objective or None
        The explained scalar; None = the signal summed over all tracks and outputs.
    n_shuffles : int
        Dinucleotide-shuffled references per sequence.
    references : Tensor or None, shape (N, S, 4, L)
        Use these references instead of shuffles.
    batch_size : int
        Sequence-reference pairs per forward/backward pass.
    device : {"auto", "cpu", "cuda"} or "cuda:N"
    rc_average : bool
        Explain the strand-averaged scalar.
    strand_pairs : list of int or None
    seed : int
        Seed of the shuffles.
    progress : bool
        Report progress (a bar on a terminal, periodic lines in a log).

    Returns
    -------
    Tensor, shape (N, 4, L), float32, on the CPU: hypothetical contributions in units of the
    explained scalar. Computed in float32.
    """
    from genodil.predict.runner import ModelRunner
    from genodil.progress import progress_bar

    dls = require_interpret_extra("tangermeme.deep_lift_shap")
    seq = _as_seq(seq)
    if references is not None and references.shape[0] != seq.shape[0]:
        raise ValueError("references must hold one set per sequence: shape (N, S, 4, L)")
    scalar = ScalarModel(model, objective or Objective(), rc_average, strand_pairs)
    per_chunk = max(1, batch_size // (n_shuffles if references is None else references.shape[1]))
    out, worst = [], 0.0
    bar = progress_bar(seq.shape[0], "deepliftshap", "sequences", enabled=progress)
    with ModelRunner(model, device, "32") as runner, attribution_mode(model), bar:
        for i in range(0, seq.shape[0], per_chunk):
            x = seq[i : i + per_chunk]
            refs = (
                references[i : i + per_chunk].float()
                if references is not None
                else shuffled_references(x, n_shuffles, seed + i)
            )
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                attr = dls.deep_lift_shap(
                    scalar,
                    x,
                    target=0,
                    batch_size=batch_size,
                    references=refs,
                    hypothetical=True,
                    device=runner.device,
                    only_warn=True,
                    warning_threshold=float("inf"),
                    additional_nonlinear_ops=_genodil_rules(),
                )
            worst = max(worst, _relative_delta(caught))
            out.append(attr.float().cpu())
            bar.update(x.shape[0])
    if worst > 0.01:
        log.warning(
            "DeepLIFT convergence deltas reach %.1f%% of the output differences: an operation "
            "of the model has no DeepLIFT rule and was treated as linear",
            100 * worst,
        )
    return torch.cat(out)


def _genodil_rules() -> dict:
    """DeepLIFT's rescale rule for genodil's own activation modules (Exp, LogSoftplus)."""
    from genodil.models.heads import Exp, LogSoftplus

    try:
        from tangermeme._deep_lift_utils import _nonlinear
    except ImportError:  # treated as linear: the convergence deltas are then logged
        return {}
    return {Exp: _nonlinear, LogSoftplus: _nonlinear}


def _relative_delta(caught: list) -> float:
    """The largest relative convergence delta tangermeme warned about (0 when none)."""
    import re

    worst = 0.0
    for w in caught:
        m = re.search(r"Convergence deltas are ([0-9.]+)%", str(w.message))
        if m:
            worst = max(worst, float(m.group(1)) / 100)
    return worst
