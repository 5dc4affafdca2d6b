"""Writing the simulated dataset: FASTA, tables, VCF, manifest (each file atomically)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pysam

from genodil.outputs import atomic_outputs, scratch_dir, write_atomic
from genodil.simulate.genome import _EDGE, _Chrom, _on_strand
from genodil.simulate.motifs import _LOWER, _N, _UPPER, MOTIFS
from genodil.simulate.presets import CHROMS, SPLITS
from genodil.simulate.tracks import (
    _BACKGROUND,
    ENHANCER_RANGE,
    STRAND_PAIRS,
    TRACKS,
    enhancer_input,
)
from genodil.simulate.variants import _Variant


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
        "format": 1,
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
    }


def _truth_rows(chrom: _Chrom) -> list[tuple]:
    """Rows of truth.tsv: planted and latent sites, and chance sites with occupancy >= 0.05."""
    rows = []
    planted = {(p.motif, p.start, p.strand): p.kind for p in chrom.planted}
    prom, enh = MOTIFS["sp1"], MOTIFS["ets"]
    e_in = enhancer_input(chrom.sites["sp1"], chrom.sites["ets"], len(prom), len(enh))
    e_at = dict(zip(chrom.sites["sp1"].start.tolist(), e_in.tolist(), strict=True))
    seen = set()
    for m, s in chrom.sites.items():
        motif = MOTIFS[m]
        for start, strand, score, occ in zip(
            s.start.tolist(), s.strand.tolist(), s.score.tolist(), s.occ.tolist(), strict=True
        ):
            kind = planted.get((m, start, strand), "chance")
            if kind == "chance" and occ < 0.05:
                continue
            seen.add((m, start, strand))
            e = f"{e_at[start]:.4f}" if m == "sp1" else "."
            rows.append(
                (
                    chrom.name,
                    start,
                    start + len(motif),
                    m,
                    "+" if strand == 1 else "-",
                    kind,
                    f"{score:.4f}",
                    f"{occ:.4f}",
                    e,
                )
            )
    for p in chrom.planted:
        if (p.motif, p.start, p.strand) in seen:
            continue
        motif = MOTIFS[p.motif]
        site = _on_strand(chrom.codes[p.start : p.start + len(motif)], p.strand)
        score = float(motif.log_odds[np.arange(len(motif)), site].sum())
        occ = float(motif.occupancy(score))
        rows.append(
            (
                chrom.name,
                p.start,
                p.start + len(motif),
                p.motif,
                "+" if p.strand == 1 else "-",
                p.kind,
                f"{score:.4f}",
                f"{occ:.4f}",
                ".",
            )
        )
    return rows


def _regions_bed(truth_rows: Sequence[tuple], sizes: Mapping[str, int]) -> str:
    """BED6 of occupied sites (occupancy >= 0.5), centre +-250 bp."""
    lines = []
    for chrom, start, end, motif, strand, _kind, _score, occ, _e in truth_rows:
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
            )
        ),
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
    ]
    body = [
        f"{v.chrom}\t{v.pos0 + 1}\t{v.prefix}\t{v.ref}\t{','.join(v.alts)}\t.\tPASS\t"
        f"EFFECT={v.effect};MOTIF={v.motif};TRACK={v.track}"
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
    cols = ["chrom", "pos", "id", "ref", "alt", "effect", "motif", "track"]
    lines = ["\t".join(cols + [f"true_sad_{t}" for t in TRACKS])]
    for v in variants:
        for alt, sad in zip(v.alts, v.sad, strict=True):
            vals = [v.chrom, str(v.pos0 + 1), v.prefix, v.ref, alt, v.effect, v.motif, v.track]
            lines.append("\t".join(vals + [f"{sad[t]:.3f}" for t in TRACKS]))
    write_atomic(path, "\n".join(lines) + "\n")
