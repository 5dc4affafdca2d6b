"""Prediction to bigWig over genome regions or arbitrary sequences, and variant effect scores.

``predict`` runs a model on one-hot sequences in memory (:mod:`genodil.predict.runner`, the
one place that batches, moves devices, casts precision and averages reverse complements);
``predict_regions`` / ``predict_sequences`` tile inputs and stream ``<track>.bw`` files;
``score_variants`` compares reference and alternative predictions; ``write_scores`` writes the
TSV/Parquet and its ``.skipped.tsv``. All take any ``nn.Module`` that follows the model
contract (``forward(seq (B, 4, L)) -> {"signal": (B, T, L_out)}`` with ``.crop`` and
``.bin_size``).
"""

from importlib import import_module
from typing import Any

_EXPORTS = {
    "merge_regions": "tiles",
    "predict_regions": "tiles",
    "predict_sequences": "tiles",
    "regions_from_bed": "tiles",
    "regions_from_strings": "tiles",
    "whole_genome_regions": "tiles",
    "SCORES": "variants",
    "score_variants": "variants",
    "write_scores": "variants",
    "merge_bigwigs": "merge",
    "predict": "runner",
    "ModelRunner": "runner",
}


def __getattr__(name: str) -> Any:
    # Lazy, so `genodil.predict.merge` (used by merge-bigwig) does not import torch.
    if name in _EXPORTS:
        return getattr(import_module(f"genodil.predict.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'genodil.predict' has no attribute {name!r}")


__all__ = [
    "SCORES",
    "ModelRunner",
    "merge_bigwigs",
    "merge_regions",
    "predict",
    "predict_regions",
    "predict_sequences",
    "regions_from_bed",
    "regions_from_strings",
    "score_variants",
    "whole_genome_regions",
    "write_scores",
]
