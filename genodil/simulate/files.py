"""Writing the simulated dataset: FASTA, tables, VCF, manifest (each file atomically)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pysam

from genodil.outputs import atomic_outputs, scratch_dir, write_atomic
from genodil.simulate.genome import _EDGE, _Chrom, _on_strand, _Planted
from genodil.simulate.motifs import _LOWER, _N, _UPPER, MOTIFS
from genodil.simulate.presets import _LONELY_SHARE, CHROMS, SPLITS
from genodil.simulate.tracks import (
    _BACKGROUND,
    ENHANCER_RANGE,
    LONGRANGE_DISTANCES,
    LONGRANGE_MAX,
    STRAND_PAIRS,
    TRACKS,
    enhancer_input,
    longrange_input,
)
from genodil.simulate.variants import _Variant

#: Columns of truth.tsv.
_TRUTH_COLUMNS = (
    "chrom",
    "start",
    "end",
    "motif",
    "strand",
    "kind",
    "score",
    "occupancy",
    "enhancer_input",
    "pair_distance",
)


def _fasta_bytes(codes: np.ndarray, lower: np.ndarray, width: int = 60) -> bytes:
    """Sequence lines of one record, ``width`` bases a line, each ending in a newline."""
    chars = np.where(lower, _LOWER[codes], _UPPER[codes])
    n_full = len(chars) // width
    body = np.empty((n_full, width + 1), dtype=np.uint8)
    body[:, :width] = chars[: n_full * width].reshape(n_full, width)
    body[:, width] = ord("\n")
    tail = chars[n_full * width :]
    return body.tobytes() + (tail.tobytes() + b"\n" if len(tail) else b"")


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    x = x.astype(np.float64) - x.mean()
    y = y.astype(np.float64) - y.mean()
    return float((x * y).sum() / np.sqrt((x * x).sum() * (y * y).sum()))


def _binned(x: np.ndarray, size: int) -> np.ndarray:
    n = len(x) // size * size
    return x[:n].astype(np.float64).reshape(-1, size).sum(axis=1)


def _output_paths(out: Path, write_expected: bool) -> dict[str, Path]:
    paths = {"fasta": out / "genome.fa", "fai": out / "genome.fa.fai"}
    paths |= {t: out / f"{t}.bw" for t in TRACKS}
    if write_expected:
        paths |= {f"{t}_expected": out / f"{t}.expected.bw" for t in TRACKS}
    return paths | {
        "vcf": out / "variants.vcf",
        "vcf_gz": out / "variants.vcf.gz",
        "vcf_tbi": out / "variants.vcf.gz.tbi",
        "variants_truth": out / "variants_truth.tsv",
        "truth": out / "truth.tsv",
        "regions": out / "regions.bed",
        "regions_predict": out / "regions_predict.bed",
        "motifs": out / "motifs.meme",
        "manifest": out / "manifest.json",
    }


def _ceiling(lam: np.ndarray, counts: np.ndarray) -> dict[str, float]:
    """Pearson r of the rate with the counts per base and summed in 32-bp and 128-bp bins."""
    out = {"pearson": _pearson(lam, counts)}
    for size in (32, 128):
        out[f"pearson_bin{size}"] = _pearson(_binned(lam, size), _binned(counts, size))
    return {k: round(v, 4) for k, v in out.items()}


def _manifest(
    paths: Mapping[str, Path],
    preset: str,
    seed: int,
    sizes: Mapping[str, int],
    write_expected: bool,
) -> dict:
    return {
        "generator": "genodil.simulate",
        "format": 2,
        "preset": preset,
        "seed": seed,
        "chromosomes": dict(sizes),
        "splits": SPLITS,
        "files": {k: p.name for k, p in paths.items()},
        "tracks": [
            {
                "name": t,
                "path": paths[t].name,
                "expected_path": paths[f"{t}_expected"].name if write_expected else None,
                "strand_pair": STRAND_PAIRS.get(t),
                "background": _BACKGROUND[t],
            }
            for t in TRACKS
        ],
        "motifs": {
            m.name: {"consensus": m.consensus, "role": m.role, "local_height": m.local_height}
            for m in MOTIFS.values()
        },
        "enhancer_range_bp": list(ENHANCER_RANGE),
        "longrange": {
            "max_distance_bp": LONGRANGE_MAX,
            "contact_weight": "sqrt(1000 / max(d, 1000)) for d <= max_distance_bp",
            "pair_distances_bp": list(LONGRANGE_DISTANCES),
            "lonely_promoters_per_pair": _LONELY_SHARE.get(preset, 0.0),
        },
    }


def _meme_text() -> str:
    """The planted motifs' PWMs (:data:`MOTIFS`) in MEME minimal format, version 4."""
    lines = [
        "MEME version 4",
        "",
        "ALPHABET= ACGT",
        "",
        "strands: + -",
        "",
        "Background letter frequencies",
        "A 0.25 C 0.25 G 0.25 T 0.25",
        "",
    ]
    for m in MOTIFS.values():
        lines += [
            f"MOTIF {m.name} {m.consensus}",
            f"letter-probability matrix: alength= 4 w= {len(m)} nsites= 100 E= 0",
            *(" ".join(f"{x:.6f}" for x in row) for row in m.pwm()),
            "",
        ]
    return "\n".join(lines)


def _truth_rows(chrom: _Chrom) -> list[tuple]:
    """Rows of truth.tsv: planted and latent sites, and chance sites with occupancy >= 0.05."""
    planted = {(p.motif, p.start, p.strand): p for p in chrom.planted}
    inputs: dict[tuple[str, int], float] = {}
    for prom, enh, func in (("sp1", "ets", enhancer_input), ("nfy", "gata", longrange_input)):
        p_sites, e_sites = chrom.sites[prom], chrom.sites[enh]
        e_in = func(p_sites, e_sites, len(MOTIFS[prom]), len(MOTIFS[enh]))
        inputs |= {(prom, s): x for s, x in zip(p_sites.start.tolist(), e_in.tolist(), strict=True)}
    rows, seen = [], set()
    for m, s in chrom.sites.items():
        for start, strand, score, occ in zip(
            s.start.tolist(), s.strand.tolist(), s.score.tolist(), s.occ.tolist(), strict=True
        ):
            p = planted.get((m, start, strand))
            if p is None and occ < 0.05:
                continue
            seen.add((m, start, strand))
            e_in = inputs.get((m, start))
            rows.append(_truth_row(chrom.name, m, start, strand, p, score, occ, e_in))
    for p in chrom.planted:
        if (p.motif, p.start, p.strand) in seen:
            continue
        motif = MOTIFS[p.motif]
        site = _on_strand(chrom.codes[p.start : p.start + len(motif)], p.strand)
        score = float(motif.log_odds[np.arange(len(motif)), site].sum())
        occ = float(motif.occupancy(score))
        rows.append(_truth_row(chrom.name, p.motif, p.start, p.strand, p, score, occ, None))
    return rows


def _truth_row(
    chrom: str,
    motif: str,
    start: int,
    strand: int,
    planted: _Planted | None,
    score: float,
    occ: float,
    e_in: float | None,
) -> tuple:
    """One row of truth.tsv (see :data:`_TRUTH_COLUMNS`)."""
    distance = planted.distance if planted is not None else -1
    return (
        chrom,
        start,
        start + len(MOTIFS[motif]),
        motif,
        "+" if strand == 1 else "-",
        "chance" if planted is None else planted.kind,
        f"{score:.4f}",
        f"{occ:.4f}",
        "." if e_in is None else f"{e_in:.4f}",
        str(distance) if distance > 0 else ".",
    )


def _regions_bed(truth_rows: Sequence[tuple], sizes: Mapping[str, int]) -> str:
    """BED6 of occupied sites (occupancy >= 0.5), centre +-250 bp."""
    lines = []
    for chrom, start, end, motif, strand, _kind, _score, occ, *_inputs in truth_rows:
        if float(occ) < 0.5:
            continue
        centre = (start + end) // 2
        a, b = max(0, centre - 250), min(sizes[chrom], centre + 250)
        lines.append(f"{chrom}\t{a}\t{b}\t{motif}\t{round(float(occ) * 1000)}\t{strand}\n")
    return "".join(lines)


def _predict_regions(chrom: _Chrom) -> list[tuple]:
    """Two regions on the test chromosome: a promoter with an enhancer, and a + strand TATA."""
    rows = []
    size = len(chrom.codes)
    partners = {p.start: p.partner for p in chrom.planted if p.motif == "sp1" and p.partner >= 0}
    for label, width, pick in (
        ("promoter_enhancer", 20_000, lambda p: p.motif == "sp1" and p.start in partners),
        (
            "tata_plus",
            10_000,
            lambda p: p.motif == "tata" and p.kind == "planted" and p.strand == 1,
        ),
    ):
        for p in chrom.planted:
            if not pick(p):
                continue
            a = p.start - width // 2
            if a < _EDGE or a + width > size - _EDGE or (chrom.codes[a : a + width] == _N).any():
                continue
            if any(a < r[2] and r[1] < a + width for r in rows):
                continue
            rows.append((chrom.name, a, a + width, label))
            break
    return sorted(rows, key=lambda r: r[1])


def _write_vcf(
    paths: Mapping[str, Path],
    variants: list[_Variant],
    sizes: Mapping[str, int],
    preset: str,
    seed: int,
) -> None:
    variants.sort(key=lambda v: (CHROMS.index(v.chrom), v.pos0))
    counters: dict[str, int] = {}
    for v in variants:
        counters[v.prefix] = counters.get(v.prefix, 0) + 1
        v.prefix = f"{v.prefix}_{counters[v.prefix]}"  # now the full ID
    head = [
        "##fileformat=VCFv4.2",
        f"##source=genodil.simulate preset={preset} seed={seed}",
        "##reference=genome.fa",
        *(f"##contig=<ID={c},length={n}>" for c, n in sizes.items()),
        *(
            f'##INFO=<ID={key},Number=1,Type=String,Description="{text}">'
            for key, text in (
                ("EFFECT", "Planted effect: break, create or neutral"),
                ("MOTIF", "Motif broken or created (. if neutral)"),
                ("TRACK", "Track that changes most (. if neutral)"),
                ("CLASS", "Variant class: snv_break, snv_create, enhancer_break, indel, neutral"),
            )
        ),
        (
            '##INFO=<ID=DIST,Number=1,Type=Integer,Description="Enhancer breaks: distance (bp) '
            'from the enhancer to its paired promoter">'
        ),
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
    ]
    body = [
        f"{v.chrom}\t{v.pos0 + 1}\t{v.prefix}\t{v.ref}\t{','.join(v.alts)}\t.\tPASS\t"
        f"EFFECT={v.effect};MOTIF={v.motif};TRACK={v.track};CLASS={v.vclass}"
        + (f";DIST={v.distance}" if v.distance > 0 else "")
        for v in variants
    ]
    text = "\n".join(head + body) + "\n"
    write_atomic(paths["vcf"], text, what="simulated VCF")
    with (
        atomic_outputs([paths["vcf_gz"], paths["vcf_tbi"]]) as (gz_tmp, tbi_tmp),
        scratch_dir(paths["vcf_gz"]) as parts,
    ):
        plain = parts / "variants.vcf"
        plain.write_text(text)
        pysam.tabix_compress(str(plain), str(gz_tmp), force=True)
        pysam.tabix_index(str(gz_tmp), preset="vcf", force=True, index=str(tbi_tmp))


def _write_variant_truth(path: Path, variants: Sequence[_Variant]) -> None:
    """Write variants_truth.tsv, one row per (record, alt).

    ``true_sad_<track>`` sums the change over every base the allele changes; ``class`` and
    ``distance`` (enhancer breaks, else ``.``) come last.
    """
    cols = ["chrom", "pos", "id", "ref", "alt", "effect", "motif", "track"]
    lines = ["\t".join(cols + [f"true_sad_{t}" for t in TRACKS] + ["class", "distance"])]
    for v in variants:
        extra = [v.vclass, str(v.distance) if v.distance > 0 else "."]
        for alt, sad in zip(v.alts, v.sad, strict=True):
            vals = [v.chrom, str(v.pos0 + 1), v.prefix, v.ref, alt, v.effect, v.motif, v.track]
            lines.append("\t".join(vals + [f"{sad[t]:.3f}" for t in TRACKS] + extra))
    write_atomic(path, "\n".join(lines) + "\n")
