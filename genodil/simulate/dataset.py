"""``simulate()``: build every chromosome, draw the tracks, pick variants, write the folder."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyBigWig

from genodil.outputs import atomic_outputs, write_atomic
from genodil.simulate.files import (
    _TRUTH_COLUMNS,
    _ceiling,
    _fasta_bytes,
    _manifest,
    _meme_text,
    _output_paths,
    _predict_regions,
    _regions_bed,
    _truth_rows,
    _write_variant_truth,
    _write_vcf,
)
from genodil.simulate.genome import _build_chrom, _Chrom, _rng
from genodil.simulate.motifs import MOTIFS
from genodil.simulate.presets import (
    _LONELY_SHARE,
    _VARIANT_SCALE,
    CHROMS,
    PRESETS,
    SPLITS,
    Preset,
    _check_args,
)
from genodil.simulate.tracks import TRACKS, expected_tracks, find_sites
from genodil.simulate.variants import _choose_variants, _Variant

__all__ = ["simulate"]


@dataclass
class _Collected:
    """What the chromosome loop gathers for the tables and the manifest."""

    fai_lines: list[str] = field(default_factory=list)
    variants: list[_Variant] = field(default_factory=list)
    truth_rows: list[tuple] = field(default_factory=list)
    predict_rows: list[tuple] = field(default_factory=list)
    ceiling: dict[str, dict[str, float]] = field(default_factory=dict)
    n_sites: dict[str, int] = field(default_factory=lambda: dict.fromkeys(MOTIFS, 0))


def simulate(
    out_dir: str | os.PathLike,
    preset: Preset = "tiny",
    seed: int = 0,
    write_expected: bool = True,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Path]:
    """Write the synthetic demo dataset into ``out_dir`` (see :mod:`genodil.simulate`).

    Parameters
    ----------
    out_dir : path
        Folder to write into (created if missing); files already there are replaced.
    preset : {"tiny", "small", "longrange", "large"}
        Chromosome sizes (:data:`PRESETS`): ~1 Mb, ~8 Mb or ~100 Mb in all.
    seed : int
        Same seed, same bytes.
    write_expected : bool
        Also write the noise-free rates as ``<track>.expected.bw``.
    progress : callable, optional
        Called with a short message as each chromosome and file is done.

    Returns
    -------
    dict[str, Path]
        Written files by key: ``fasta``, ``fai``, one key per track name (and
        ``<track>_expected``), ``vcf``, ``vcf_gz``, ``vcf_tbi``, ``variants_truth``, ``truth``,
        ``regions``, ``regions_predict``, ``manifest``.

    Raises
    ------
    InputError
        For an unknown preset, a negative seed, or an ``out_dir`` that is a file.
    """
    out = _check_args(out_dir, preset, seed)
    seed = int(seed)
    say = progress or (lambda msg: None)
    sizes = dict(zip(CHROMS, PRESETS[preset], strict=True))
    paths = _output_paths(out, write_expected)
    paths["manifest"].unlink(missing_ok=True)  # no manifest: the folder is incomplete
    got = _write_genome(paths, sizes, seed, preset, write_expected, say)
    say("wrote genome and tracks")
    _write_tables(paths, got, sizes, preset, seed)
    manifest = _manifest(paths, preset, seed, sizes, write_expected)
    manifest |= {
        "occupied_sites": got.n_sites,
        "n_variant_records": len(got.variants),
        "ceiling": {
            "chrom": SPLITS["test"][0],
            "note": "Pearson r of the expected rate with the Poisson counts: the best any "
            "model can reach",
            "tracks": got.ceiling,
        },
    }
    write_atomic(paths["manifest"], json.dumps(manifest, indent=2) + "\n")
    say(f"wrote {out}")
    return paths


def _write_genome(
    paths: Mapping[str, Path],
    sizes: Mapping[str, int],
    seed: int,
    preset: str,
    write_expected: bool,
    say: Callable[[str], None],
) -> _Collected:
    """Build each chromosome; write the FASTA, its index and the bigWigs; collect the rest."""
    scale, lonely = _VARIANT_SCALE[preset], _LONELY_SHARE.get(preset, 0.0)
    fam_rng = _rng(seed, 99)
    families = [fam_rng.integers(0, 4, n, dtype=np.uint8) for n in (300, 1500, 4000)]
    bw_keys = [k for k in paths if k in TRACKS or k.endswith("_expected")]
    got = _Collected()
    with atomic_outputs([paths["fasta"], *(paths[k] for k in bw_keys)]) as (fa_tmp, *bw_tmps):
        writers = {}
        try:
            for key, tmp in zip(bw_keys, bw_tmps, strict=True):
                bw = pyBigWig.open(str(tmp), "w")
                bw.addHeader(list(sizes.items()), maxZooms=0 if key.endswith("_expected") else 10)
                writers[key] = bw
            offset = 0
            with open(fa_tmp, "wb") as fa:
                for ci, (name, size) in enumerate(sizes.items()):
                    chrom = _build_chrom(
                        name, ci, size, seed, families, n_latent=2 * scale, lonely_share=lonely
                    )
                    chrom.sites = find_sites(chrom.codes)
                    header = f">{name}\n".encode()
                    fa.write(header)
                    fa.write(_fasta_bytes(chrom.codes, chrom.lower))
                    offset += len(header)
                    got.fai_lines.append(f"{name}\t{size}\t{offset}\t60\t61\n")
                    offset += size + -(-size // 60)
                    _add_tracks(writers, chrom, ci, seed, write_expected, got)
                    _collect(chrom, ci, seed, scale, got)
                    say(f"simulated {name} ({size:,} bp)")
        finally:
            for bw in writers.values():
                bw.close()
    write_atomic(paths["fai"], "".join(got.fai_lines))
    return got


def _add_tracks(
    writers: Mapping[str, pyBigWig.pyBigWig],
    chrom: _Chrom,
    ci: int,
    seed: int,
    write_expected: bool,
    got: _Collected,
) -> None:
    """Append one chromosome's Poisson counts (and expected rates) to the bigWigs."""
    lam = expected_tracks(chrom.codes, chrom.sites)
    for ti, t in enumerate(TRACKS):
        counts = _rng(seed, ci, 10 + ti).poisson(lam[t]).astype(np.float32)
        writers[t].addEntries(chrom.name, 0, values=counts, span=1, step=1)
        if write_expected:
            writers[f"{t}_expected"].addEntries(chrom.name, 0, values=lam[t], span=1, step=1)
        if chrom.name == SPLITS["test"][0]:
            got.ceiling[t] = _ceiling(lam[t], counts)


def _collect(chrom: _Chrom, ci: int, seed: int, scale: int, got: _Collected) -> None:
    """Truth rows, occupied-site counts, variants and predict regions of one chromosome."""
    got.truth_rows += _truth_rows(chrom)
    for m, s in chrom.sites.items():
        got.n_sites[m] += int((s.occ >= 0.5).sum())
    got.variants += _choose_variants(chrom, scale, _rng(seed, ci, 4))
    if chrom.name == SPLITS["test"][0]:
        got.predict_rows = _predict_regions(chrom)


def _write_tables(
    paths: Mapping[str, Path], got: _Collected, sizes: Mapping[str, int], preset: str, seed: int
) -> None:
    """The VCF, the variant truth, the site truth and the two BED files."""
    _write_vcf(paths, got.variants, sizes, preset, seed)
    _write_variant_truth(paths["variants_truth"], got.variants)
    rows = sorted(got.truth_rows, key=lambda r: (CHROMS.index(r[0]), r[1], r[3]))
    write_atomic(
        paths["truth"],
        "\t".join(_TRUTH_COLUMNS) + "\n" + "".join("\t".join(map(str, r)) + "\n" for r in rows),
    )
    write_atomic(paths["regions"], _regions_bed(rows, sizes))
    write_atomic(paths["motifs"], _meme_text())
    write_atomic(
        paths["regions_predict"], "".join("\t".join(map(str, r)) + "\n" for r in got.predict_rows)
    )
