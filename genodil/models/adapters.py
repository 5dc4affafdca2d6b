"""Adapters that let tools expecting a plain tensor output take a genodil model.

genodil models return a dict (``{"signal": (B, T, L_out), ...}``); captum, tangermeme and most
attribution code expect ``forward`` to return one tensor. :func:`as_tensor_model` wraps a model
so that ``forward(seq (B, 4, L))`` returns ``model(seq)[key]``.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

__all__ = ["TensorModel", "as_tensor_model"]


class TensorModel(nn.Module):
    """A model that returns one entry of a wrapped model's output dict.

    Parameters
    ----------
    model : nn.Module
        ``forward(seq)`` returns a dict of tensors (or a tensor, passed through).
    key : str
        The entry returned, e.g. ``"signal"`` (B, T, L_out) or ``"log_counts"`` (B, T).

    Notes
    -----
    The wrapped model is a submodule, so ``.eval()``, ``.to()`` and ``.parameters()`` act on it.
    Attributes the wrapper lacks (``crop``, ``bin_size``, ``strand_pairs``, ...) are read from
    the wrapped model.
    """

    def __init__(self, model: nn.Module, key: str = "signal") -> None:
        super().__init__()
        self.model = model
        self.key = str(key)

    def forward(self, seq: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        """Return ``model(seq, ...)[key]``.

        Parameters
        ----------
        seq : Tensor, shape (B, 4, L)
            One-hot DNA.

        Returns
        -------
        Tensor, the ``key`` entry of the wrapped model's output
        """
        out = self.model(seq, *args, **kwargs)
        if isinstance(out, Tensor):
            return out
        if self.key not in out:
            raise KeyError(
                f"the wrapped model returned keys {sorted(out)}; as_tensor_model was asked for "
                f"{self.key!r}"
            )
        return out[self.key]

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name == "model":
                raise
            return getattr(super().__getattr__("model"), name)


def as_tensor_model(model: nn.Module, key: str = "signal") -> TensorModel:
    """Wrap a genodil model so that ``forward`` returns a plain tensor.

    Parameters
    ----------
    model : nn.Module
        A genodil model (``forward(seq (B, 4, L)) -> dict``).
    key : str
        Output entry to return: ``"signal"`` (B, T, L_out) by default; with the
        ``profile_count`` head also ``"profile_logits"`` (B, T, L_out) or ``"log_counts"``
        (B, T).

    Returns
    -------
    TensorModel
        Shares parameters with ``model``; e.g.
        ``tangermeme.predict.predict(as_tensor_model(model), X)``.
    """
    return TensorModel(model, key)
