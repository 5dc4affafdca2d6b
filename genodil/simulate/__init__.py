"""Deterministic synthetic demo data: a planted-motif genome, bigWig tracks and variants.

:func:`simulate` writes, into one folder, a genome whose per-base tracks are a known function
of its sequence, so a sequence model can learn them and its errors can be measured against the
truth:

* ``genome.fa`` (+ ``.fai``): chromosomes ``chr1`` .. ``chr4`` (sizes in :data:`PRESETS`),
  uniform random bases, soft-masked (lower-case) repeat copies and microsatellites, N runs
  (a leading gap, internal gaps, a few short runs), and planted motif instances sampled from
  the position weight matrices in :data:`MOTIFS`.
* four bigWig tracks (:data:`TRACKS`), per-base Poisson counts drawn from an expected rate
  ``lambda`` (also written as ``<track>.expected.bw``):

  - ``local``: accessibility-like; every motif site gives a footprinted Gaussian peak at the
    site (height ``Motif.local_height`` times the site's occupancy) over a background of 0.5.
  - ``distal``: a peak at each ``sp1`` (promoter-like) site, of height
    ``occ * (4 + 36 * min(1, E))`` where ``E`` sums the occupancies of ``ets``
    (enhancer-like) sites whose centres lie 1.5-5 kb away on either side: only a model that
    sees ~5 kb to each side can predict it.
  - ``cage_plus`` / ``cage_minus``: a strand pair. A ``tata`` site on the + strand gives a
    sharp peak 28 bp to its right (downstream) on ``cage_plus``; on the - strand, the mirror
    image on ``cage_minus``, to its left. Reverse-complementing the sequence maps one onto the
    other, so reverse-complement augmentation must swap the two tracks.

  Bases that are ``N`` have rate 0 on every track.
* ``variants.vcf`` (VCF 4.2; also ``variants.vcf.gz`` + ``.tbi``): SNVs that break motif sites
  (a core position changed), SNVs that create them (a planted near-site completed), neutral
  SNVs, indels of 1-20 bp (a deletion through a site, an insertion of a consensus site,
  neutral ones) and a multi-allelic record. ``variants_truth.tsv`` gives, for every
  (record, alt allele), the true change of each track: the sum of ``lambda_alt - lambda_ref``
  over aligned reference positions within 6 kb of the variant.
* ``truth.tsv`` (every planted and latent motif site, and chance sites with occupancy >= 0.05,
  with PWM score and occupancy), ``regions.bed`` (occupied sites +-250 bp),
  ``regions_predict.bed`` (two regions on the test chromosome) and ``manifest.json`` (files,
  preset, seed, chromosome sizes, suggested splits, tracks, motifs, and the Pearson r ceiling
  of each track).

A site's occupancy is a logistic function of its PWM log-odds score (one formula for planted and
chance sites alike), so the tracks are a deterministic function of the sequence plus Poisson
noise. The same seed gives byte-identical files (on one platform and numpy version).

Pearson r ceiling: a perfect model predicts ``lambda``; its per-base Pearson r with the
Poisson counts is the best any model can reach. On ``chr4`` of the ``tiny`` preset with seed 0
it is 0.97 for ``local``, 0.95 for ``distal`` and 0.94 for each cage track (stored in
``manifest.json`` under ``ceiling``, also after summing into 32-bp and 128-bp bins, where all
four exceed 0.99).

The package: :mod:`~genodil.simulate.motifs` (PWMs and occupancy), :mod:`~genodil.simulate.tracks`
(sites and expected rates, pure functions of the sequence), :mod:`~genodil.simulate.genome`
(building a chromosome), :mod:`~genodil.simulate.variants` (true effects and the variants picked),
:mod:`~genodil.simulate.presets`, :mod:`~genodil.simulate.files` (writing) and
:mod:`~genodil.simulate.dataset` (:func:`simulate`, the entry point).
"""

from __future__ import annotations

from genodil.simulate.dataset import simulate
from genodil.simulate.motifs import MIN_OCC, MOTIFS, Motif
from genodil.simulate.presets import CHROMS, PRESETS, SPLITS
from genodil.simulate.tracks import (
    _BACKGROUND as _BACKGROUND,  # re-exported for tests of the background rates
)
from genodil.simulate.tracks import (
    ENHANCER_RANGE,
    STRAND_PAIRS,
    TRACKS,
    Sites,
    enhancer_input,
    expected_tracks,
    find_sites,
)
from genodil.simulate.variants import variant_effect

__all__ = [
    "CHROMS",
    "ENHANCER_RANGE",
    "MIN_OCC",
    "MOTIFS",
    "PRESETS",
    "SPLITS",
    "STRAND_PAIRS",
    "TRACKS",
    "Motif",
    "Sites",
    "enhancer_input",
    "expected_tracks",
    "find_sites",
    "simulate",
    "variant_effect",
]
