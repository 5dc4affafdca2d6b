"""Prediction to bigWig over genome regions or arbitrary sequences, and variant effect scores.

``predict_regions`` / ``predict_sequences`` tile inputs and stream ``<track>.bw`` files;
``score_variants`` compares reference and alternative predictions; ``write_scores`` writes the
TSV/Parquet and its ``.skipped.tsv``. All take any ``nn.Module`` that follows the model
contract (``forward(seq (B, 4, L)) -> {"signal": (B, T, L_out)}`` with ``.crop`` and
``.bin_size``).
"""

from genodil.predict.tiles import (
    merge_regions,
    predict_regions,
    predict_sequences,
    regions_from_bed,
    regions_from_strings,
    whole_genome_regions,
)
from genodil.predict.variants import SCORES, score_variants, scores_from_tracks, write_scores

__all__ = [
    "SCORES",
    "merge_regions",
    "predict_regions",
    "predict_sequences",
    "regions_from_bed",
    "regions_from_strings",
    "score_variants",
    "scores_from_tracks",
    "whole_genome_regions",
    "write_scores",
]
