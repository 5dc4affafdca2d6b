"""Deterministic synthetic demo data: a planted-motif genome, bigWig tracks and variants.

:func:`simulate` writes, into one folder, a genome whose per-base tracks are a known function
of its sequence, so a sequence model can learn them and its errors can be measured against the
truth:

* ``genome.fa`` (+ ``.fai``): chromosomes ``chr1`` .. ``chr4`` (sizes in :data:`PRESETS`),
  uniform random bases, soft-masked (lower-case) repeat copies and microsatellites, N runs
  (a leading gap, internal gaps, a few short runs), and planted motif instances sampled from
  the position weight matrices in :data:`MOTIFS`.
* five bigWig tracks (:data:`TRACKS`), per-base Poisson counts drawn from an expected rate
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
  - ``longrange``: a peak at each ``nfy`` (promoter-like) site, of height
    ``occ * (2 + 40 * E)`` where ``E`` sums, over ``gata`` (enhancer-like) sites whose centres
    lie within 8.5 kb, occupancy times :func:`contact_weight` of the distance
    (``sqrt(1000 / max(d, 1000))``: 1 up to 1 kb, 0.5 at 4 kb, 0.35 at 8 kb). The two motifs
    are planted only as controlled pairs: a promoter and one enhancer exactly
    0.5, 1, 2, 4 or 8 kb away (:data:`LONGRANGE_DISTANCES`), with no other pair's enhancer in
    reach, so the effect of each enhancer is known in closed form.

  Bases that are ``N`` have rate 0 on every track.
* ``variants.vcf`` (VCF 4.2; also ``variants.vcf.gz`` + ``.tbi``): SNVs that break motif sites
  (a core position changed), SNVs that create them (a planted near-site completed), neutral
  SNVs, indels of 1-20 bp (a deletion through a site, an insertion of a consensus site,
  neutral ones), a multi-allelic record, and enhancer-breaking SNVs (a core base of a
  paired ``gata`` enhancer; INFO ``DIST`` gives its promoter's distance). INFO ``CLASS`` is
  one of ``snv_break``, ``snv_create``, ``enhancer_break``, ``indel``, ``neutral``.
  ``variants_truth.tsv`` gives, for every (record, alt allele), the true change of each track
  (``true_sad_<track>``): the sum of ``lambda_alt - lambda_ref`` over every aligned reference
  position the allele changes (all lie within 9 kb of it), then ``class`` and ``distance``.
* ``truth.tsv`` (every planted and latent motif site, and chance sites with occupancy >= 0.05,
  with PWM score and occupancy, a promoter's enhancer input, a paired site's distance),
  ``motifs.meme`` (the planted PWMs, MEME format), ``regions.bed`` (occupied sites +-250 bp),
  ``regions_predict.bed`` (two regions on the test chromosome) and ``manifest.json`` (files,
  preset, seed, chromosome sizes, suggested splits, tracks, motifs, and the Pearson r ceiling
  of each track).

A site's occupancy is a logistic function of its PWM log-odds score (one formula for planted and
chance sites alike), so the tracks are a deterministic function of the sequence plus Poisson
noise. The same seed gives byte-identical files (on one platform and numpy version).

Pearson r ceiling: a perfect model predicts ``lambda``; its per-base Pearson r with the
Poisson counts is the best any model can reach. On ``chr4`` of the ``tiny`` preset with seed 0
it is 0.97 for ``local``, 0.95 for ``distal``, 0.94 for each cage track and 0.92 for
``longrange`` (stored in ``manifest.json`` under ``ceiling``, also after summing into 32-bp and
128-bp bins, where all five exceed 0.99).

Presets: ``tiny`` (~1 Mb, seconds; the demo and CI), ``small`` (~8 Mb, ~100 enhancer-breaking
SNVs; sized for a 12-CPU-minute training budget) and ``large`` (~100 Mb).

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
    LONGRANGE_DISTANCES,
    LONGRANGE_MAX,
    STRAND_PAIRS,
    TRACKS,
    Sites,
    contact_weight,
    enhancer_input,
    expected_tracks,
    find_sites,
    longrange_input,
)
from genodil.simulate.variants import variant_effect

__all__ = [
    "CHROMS",
    "ENHANCER_RANGE",
    "LONGRANGE_DISTANCES",
    "LONGRANGE_MAX",
    "MIN_OCC",
    "MOTIFS",
    "PRESETS",
    "SPLITS",
    "STRAND_PAIRS",
    "TRACKS",
    "Motif",
    "Sites",
    "contact_weight",
    "enhancer_input",
    "expected_tracks",
    "find_sites",
    "longrange_input",
    "simulate",
    "variant_effect",
]
