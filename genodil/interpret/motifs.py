"""``genodil motifs``: DeepLIFT/SHAP -> TF-MoDISco -> Tomtom against a motif database.

1. Regions: a BED, or the N highest observed or predicted peaks of a track on held-out
   chromosomes.
2. DeepLIFT/SHAP hypothetical contributions (through ``genodil interpret``'s pipeline; its
   outputs are kept in ``out/attributions``).
3. TF-MoDISco (the modisco-lite package) clusters high-contribution seqlets into patterns.
4. Each pattern's position probability matrix, trimmed to the positions carrying >= 30% of
   the largest per-position contribution (as modisco-lite's report does), is matched with
   Tomtom (memelite) against a MEME file or pyjaspar's bundled JASPAR (no network).
   ``match_qvalue`` is the Benjamini-Hochberg q-value of the best match among all targets.

Outputs: ``patterns.tsv`` (pattern, sign, n_seqlets, consensus, best_match, match_qvalue,
logo_png), ``patterns.meme``, ``seqlets.bed`` (genome coordinates), ``report.html`` and
``logos/``.
"""

from __future__ import annotations

import html
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from genodil.errors import InputError
from genodil.interpret.deeplift import require_interpret_extra

__all__ = [
    "PEAK_SOURCES",
    "Pattern",
    "load_motif_db",
    "match_patterns",
    "run_modisco",
    "top_peaks",
]

log = logging.getLogger(__name__)

JASPAR_TAXA = ("fungi", "insects", "nematodes", "plants", "urochordates", "vertebrates")


@dataclass
class Pattern:
    """One TF-MoDISco pattern, trimmed, with its seqlets in array coordinates."""

    name: str
    sign: str  # "+" (raises the prediction) or "-"
    ppm: np.ndarray  # (L, 4) position probability matrix
    cwm: np.ndarray  # (L, 4) mean contribution (contribution-weighted matrix)
    seqlets: list[tuple[int, int, int, bool]]  # (row, start, end, is_revcomp)

    @property
    def consensus(self) -> str:
        """Most probable base per position; ``N`` where none reaches 0.5."""
        best = self.ppm.argmax(1)
        return "".join("ACGT"[b] if self.ppm[i, b] >= 0.5 else "N" for i, b in enumerate(best))


def load_motif_db(meme: str | None = None, jaspar: str | None = None) -> dict[str, np.ndarray]:
    """Motif database: name -> probability matrix (4, L), from a MEME file or JASPAR CORE."""
    if (meme is None) == (jaspar is None):
        raise InputError("give exactly one of --motifs DB.meme or --jaspar TAXON")
    if meme is not None:
        io = require_interpret_extra("memelite.io")
        if not Path(meme).is_file():
            raise InputError(f"motif database {meme} does not exist: check the path")
        try:
            db = io.read_meme(str(meme))
        except (ValueError, AttributeError, IndexError) as err:
            raise InputError(f"{meme} is not a readable MEME motif file ({err})") from None
        if not db:
            raise InputError(f"{meme} holds no MOTIF entries; give a MEME-format motif file")
        return {name: np.asarray(m, dtype=np.float64) for name, m in db.items()}
    if jaspar not in JASPAR_TAXA:
        raise InputError(f"--jaspar {jaspar!r} is not a JASPAR taxon; use one of {JASPAR_TAXA}")
    pyjaspar = require_interpret_extra("pyjaspar")
    motifs = pyjaspar.jaspardb().fetch_motifs(collection="CORE", tax_group=[jaspar])
    db = {}
    for m in motifs:
        counts = np.array([m.counts[b] for b in "ACGT"], dtype=np.float64)  # (4, L)
        db[f"{m.matrix_id} {m.name}"] = counts / counts.sum(0, keepdims=True)
    return db


def run_modisco(
    ohe: np.ndarray, hyp: np.ndarray, max_seqlets: int = 2000, verbose: bool = False, **kw
) -> list[Pattern]:
    """TF-MoDISco on one-hot (N, 4, L) and hypothetical contributions (N, 4, L).

    Parameters follow ``modisco motifs``' defaults (window 20, flank 5, trim 30, 2 Leiden
    runs); ``kw`` overrides any of ``modiscolite.tfmodisco.TFMoDISco``'s arguments.
    """
    tfmodisco = require_interpret_extra("modiscolite.tfmodisco")
    args = {
        "sliding_window_size": 20,
        "flank_size": 5,
        "trim_to_window_size": 30,
        "initial_flank_to_add": 10,
        "final_flank_to_add": 0,
        "target_seqlet_fdr": 0.05,
        "n_leiden_runs": 2,
        "max_seqlets_per_metacluster": max_seqlets,
    }
    args.update(kw)
    one_hot = np.ascontiguousarray(ohe.transpose(0, 2, 1), dtype=np.float32)
    contribs = np.ascontiguousarray(hyp.transpose(0, 2, 1), dtype=np.float32)
    pos, neg = tfmodisco.TFMoDISco(
        one_hot=one_hot, hypothetical_contribs=contribs, verbose=verbose, **args
    )
    out = []
    for sign, group in (("+", pos), ("-", neg)):
        for i, p in enumerate(group or []):
            ppm, cwm = _trim(np.asarray(p.sequence), np.asarray(p.contrib_scores))
            seqlets = [(s.example_idx, s.start, s.end, bool(s.is_revcomp)) for s in p.seqlets]
            name = f"{'pos' if sign == '+' else 'neg'}_pattern_{i}"
            out.append(Pattern(name, sign, ppm, cwm, seqlets))
    return out


def _trim(ppm: np.ndarray, cwm: np.ndarray, threshold: float = 0.3):
    """Keep positions whose |contribution| reaches ``threshold`` of the largest (modisco's)."""
    score = np.abs(cwm).sum(1)
    keep = np.flatnonzero(score >= threshold * score.max())
    return ppm[keep.min() : keep.max() + 1], cwm[keep.min() : keep.max() + 1]


def match_patterns(patterns: list[Pattern], db: dict[str, np.ndarray]) -> pd.DataFrame:
    """Best Tomtom match of each pattern: columns best_match, match_pvalue, match_qvalue."""
    if not patterns:
        return pd.DataFrame(columns=["best_match", "match_pvalue", "match_qvalue"])
    tomtom = require_interpret_extra("memelite").tomtom
    names = list(db)
    p = np.asarray(tomtom([pt.ppm.T for pt in patterns], [db[n] for n in names])[0])
    rows = []
    for i in range(len(patterns)):
        q = _bh(p[i])
        j = int(np.nanargmin(p[i]))
        rows.append((names[j], float(p[i, j]), float(q[j])))
    return pd.DataFrame(rows, columns=["best_match", "match_pvalue", "match_qvalue"])


def _bh(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values of one query's p-values against every target."""
    p = np.nan_to_num(np.asarray(p, dtype=np.float64), nan=1.0)
    order = np.argsort(p)
    ranked = p[order] * len(p) / np.arange(1, len(p) + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty_like(q)
    out[order] = np.minimum(q, 1.0)
    return out


PEAK_SOURCES = ("observed", "predicted")


def top_peaks(
    loaded,
    genome,
    n: int,
    track: str,
    width: int = 400,
    chroms: list[str] | None = None,
    source: str = "observed",
    workdir: str | os.PathLike | None = None,
    **predict_kw,
) -> pd.DataFrame:
    """The ``n`` highest observed or predicted peaks of ``track`` on held-out sequence.

    The track's signal on the test split (or ``chroms``): whole chromosomes or, for a split
    by region, ``chrom:start-end`` entries, is summed in non-overlapping ``width``-bp tiles;
    the highest tiles are re-centred on their highest base, and a tile whose re-centred
    region overlaps a higher one (the same peak split by a tile border) is dropped.
    ``source="observed"`` reads the track's bigWig (from the checkpoint's data section);
    ``"predicted"`` predicts the spans with the model (``predict_kw``: batch_size, device,
    rc_average, progress), in the track's own units, staging the predictions in a hidden
    folder inside ``workdir`` (default: the system's temporary folder), removed afterwards.

    Returns
    -------
    DataFrame
        chrom, start, end of ``width``-bp regions, highest peak first (at most ``n``).
    """
    if source not in PEAK_SOURCES:
        raise InputError(f"--peaks-from {source!r}: choose one of {', '.join(PEAK_SOURCES)}")
    if track not in loaded.track_names:
        raise InputError(f"--track {track!r} is not a track of this model: {loaded.track_names}")
    chroms = chroms or list(loaded.data.get("splits", {}).get("test", [])) or genome.chroms
    spans = [s for s in _split_spans(chroms, genome) if s[2] - s[1] >= width]
    if source == "observed":
        signal = _observed_signal(loaded, track, spans)
    else:
        signal = _predicted_signal(loaded, genome, track, spans, workdir, **predict_kw)
    rows = []
    for (chrom, lo, hi), v in signal:
        size = genome.chrom_sizes[chrom]
        tiles = v[: (hi - lo) // width * width].reshape(-1, width)
        for t in np.argsort(tiles.sum(1), kind="stable")[::-1][: 2 * n]:
            peak = lo + t * width + int(tiles[t].argmax())
            start = min(max(peak - width // 2, 0), size - width)
            rows.append((float(tiles[t].sum()), chrom, start, start + width))
    rows.sort(key=lambda r: -r[0])
    kept: list[tuple] = []
    for row in rows:
        if len(kept) == n:
            break
        if all(k[1] != row[1] or abs(k[2] - row[2]) >= width for k in kept):
            kept.append(row)
    if not kept or kept[0][0] <= 0:
        raise InputError(
            f"no {source} peaks of {track} found on {chroms}; give --regions BED instead"
        )
    return pd.DataFrame([r[1:] for r in kept], columns=["chrom", "start", "end"])


def _split_spans(entries: list[str], genome) -> list[tuple[str, int, int]]:
    """Split entries (chromosome names or ``chrom:start-end`` regions) as (chrom, lo, hi)."""
    from genodil.genome.io import parse_region

    spans = []
    for entry in entries:
        if ":" in entry and entry not in genome.chroms:
            chrom, lo, hi = parse_region(entry)
            spans.append((chrom, lo, min(hi, genome.check_chrom(chrom))))
        else:
            spans.append((entry, 0, genome.check_chrom(entry)))
    return spans


def _observed_signal(loaded, track: str, spans: list[tuple[str, int, int]]) -> list:
    """Per-base observed signal of ``track`` on each span (NaN as 0), from its bigWig."""
    import pyBigWig

    spec = {t["name"]: t for t in loaded.data.get("tracks", [])}
    if track not in spec:
        raise InputError(
            f"the checkpoint does not record the bigWig of track {track!r}, so its observed "
            "peaks cannot be read; use --peaks-from predicted or --regions BED"
        )
    path = Path(spec[track]["path"])
    if not path.exists():
        raise InputError(
            f"bigWig {path} of track {track} (from the checkpoint) does not exist; use "
            "--peaks-from predicted or --regions BED"
        )
    out = []
    with pyBigWig.open(str(path)) as bw:
        for chrom, lo, hi in spans:
            if chrom in bw.chroms():
                v = bw.values(chrom, lo, hi, numpy=True)
                out.append(((chrom, lo, hi), np.nan_to_num(np.asarray(v, dtype=np.float64))))
    return out


def _predicted_signal(loaded, genome, track: str, spans, workdir=None, **predict_kw) -> list:
    """Per-base predicted signal of ``track`` on the (merged) spans, by ``predict_regions``."""
    import tempfile
    from contextlib import ExitStack

    from genodil.outputs import scratch_dir
    from genodil.predict.tiles import merge_regions, predict_regions

    t = loaded.track_names.index(track)
    merged = merge_regions(spans, genome, loaded.bin_size)
    with ExitStack() as stack:
        if workdir is None:
            workdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="genodil-peaks"))
        tmp = stack.enter_context(scratch_dir(Path(workdir) / "peaks", what="predicted peaks"))
        predict_regions(
            loaded.model,
            genome,
            merged,
            tmp,
            [f"t{i}" for i in range(len(loaded.track_names))],
            loaded.window,
            strand_pairs=loaded.strand_pairs,
            npz=tmp / "pred.npz",
            track_specs=loaded.track_specs,
            **{"progress": False, **predict_kw},
        )
        out = []
        with np.load(tmp / "pred.npz") as arrays:
            for chrom, lo, hi in merged.itertuples(index=False):
                size = genome.chrom_sizes[chrom]
                key = chrom if (lo == 0 and hi == size) else f"{chrom}:{lo}-{hi}"
                v = np.repeat(arrays[key][t].astype(np.float64), loaded.bin_size)
                out.append(((chrom, int(lo), int(hi)), v[: hi - lo]))
    return out


def _write_text(path: Path, text: str) -> Path:
    from genodil.outputs import write_atomic

    return write_atomic(path, text, what="motifs output")


def write_meme(path: Path, patterns: list[Pattern]) -> Path:
    """The patterns' probability matrices as a MEME v4 file."""
    lines = ["MEME version 4", "", "ALPHABET= ACGT", "", "strands: + -", ""]
    lines += ["Background letter frequencies", "A 0.25 C 0.25 G 0.25 T 0.25", ""]
    for p in patterns:
        lines.append(f"MOTIF {p.name}")
        lines.append(
            f"letter-probability matrix: alength= 4 w= {len(p.ppm)} nsites= {len(p.seqlets)} E= 0"
        )
        lines += [" ".join(f"{x:.6f}" for x in row) for row in p.ppm]
        lines.append("")
    return _write_text(path, "\n".join(lines) + "\n")


def seqlet_bed(patterns: list[Pattern], bed: pd.DataFrame) -> pd.DataFrame:
    """Every seqlet in genome coordinates: chrom, start, end, pattern, score, strand."""
    rows = []
    for p in patterns:
        for row, start, end, rc in p.seqlets:
            chrom, base = bed["chrom"].iat[row], int(bed["start"].iat[row])
            rows.append((chrom, base + start, base + end, p.name, 0, "-" if rc else "+"))
    out = pd.DataFrame(rows, columns=["chrom", "start", "end", "pattern", "score", "strand"])
    return out.sort_values(["chrom", "start"], kind="stable")


def _information(ppm: np.ndarray) -> np.ndarray:
    """Letter heights of an information-content logo, (L, 4) -> (4, L)."""
    p = np.clip(ppm, 1e-6, 1.0)
    ic = 2.0 + (p * np.log2(p)).sum(1)
    return (ppm * ic[:, None]).T


def pattern_logo(path: Path, pattern: Pattern, match: str | None, db: dict) -> Path:
    """The pattern's contribution-weighted logo beside its best match's information logo."""
    from genodil.interpret import plots

    plt = plots._pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 2.2), gridspec_kw={"width_ratios": [1, 1]})
    plots.logo_axes(axes[0], pattern.cwm.T)
    axes[0].set_title(
        f"{pattern.name} ({pattern.sign}, {len(pattern.seqlets)} seqlets)", fontsize=9
    )
    axes[0].set_ylabel("contribution", fontsize=8)
    if match is not None and match in db:
        plots.logo_axes(axes[1], _information(db[match].T))
        axes[1].set_title(f"best match: {match}", fontsize=9)
        axes[1].set_ylabel("bits", fontsize=8)
    else:
        axes[1].axis("off")
    fig.tight_layout()
    return plots.save_figure(fig, path)


def write_report(path: Path, table: pd.DataFrame, title: str) -> Path:
    """report.html: one row per pattern with its logo beside the best database match."""
    rows = []
    for r in table.itertuples(index=False):
        q = "" if pd.isna(r.match_qvalue) else f"{r.match_qvalue:.2g}"
        rows.append(
            f"<tr><td>{html.escape(r.pattern)}</td><td>{r.sign}</td><td>{r.n_seqlets}</td>"
            f"<td><code>{html.escape(r.consensus)}</code></td>"
            f"<td>{html.escape(str(r.best_match))}</td><td>{q}</td>"
            f'<td><img src="{html.escape(r.logo_png)}" width="640"></td></tr>'
        )
    body = "\n".join(rows) or '<tr><td colspan="7">TF-MoDISco found no patterns</td></tr>'
    text = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif}td,th{padding:4px 8px;border-bottom:1px solid #ddd}"
        "</style></head><body>"
        f"<h1>{html.escape(title)}</h1><table><tr><th>pattern</th><th>sign</th>"
        "<th>seqlets</th><th>consensus</th><th>best match</th><th>q-value</th>"
        "<th>pattern (contribution) | best match (bits)</th></tr>"
        f"{body}</table></body></html>\n"
    )
    return _write_text(path, text)


def discover_motifs(
    loaded,
    genome,
    regions: pd.DataFrame,
    out_dir: str | os.PathLike,
    db: dict[str, np.ndarray],
    *,
    track: str,
    flank: int = 100,
    n_shuffles: int = 20,
    batch_size: int = 64,
    device: str = "auto",
    rc_average: bool = False,
    max_seqlets: int = 2000,
    progress: bool = True,
    overwrite: bool = False,
    **modisco_kw,
) -> dict[str, Path]:
    """Regions -> DeepLIFT/SHAP -> TF-MoDISco -> Tomtom; writes the module's outputs.

    Parameters
    ----------
    loaded : genodil.train.io.Loaded
    genome : Genome
    regions : DataFrame (chrom, start, end)
    out_dir : path
    db : dict
        Motif database from :func:`load_motif_db`.
    track : str
        The explained track (its signal summed over each region).
    flank, n_shuffles, batch_size, device, rc_average, overwrite
        As for :func:`genodil.interpret.run.interpret_regions`.
    max_seqlets : int
        TF-MoDISco's cap on seqlets per sign.
    modisco_kw
        Further ``TFMoDISco`` arguments.

    Returns
    -------
    dict mapping output names to paths
    """
    from genodil.interpret.run import interpret_regions

    out_dir = Path(out_dir)
    if (out_dir / "patterns.tsv").exists() and not overwrite:
        raise InputError(f"{out_dir} already holds patterns.tsv; use another --out or --overwrite")
    attr = interpret_regions(
        loaded,
        genome,
        regions,
        out_dir / "attributions",
        method="deepliftshap",
        tracks=[track],
        flank=flank,
        batch_size=batch_size,
        device=device,
        rc_average=rc_average,
        n_shuffles=n_shuffles,
        progress=progress,
        overwrite=overwrite,
    )
    ohe = np.load(attr["ohe"])["arr_0"]
    hyp = np.load(attr[f"{track}/shap"])["arr_0"]
    bed = pd.read_csv(attr["bed"], sep="\t", header=None, names=["chrom", "start", "end", "name"])
    patterns = run_modisco(ohe, hyp, max_seqlets=max_seqlets, **modisco_kw)
    matches = match_patterns(patterns, db)
    (out_dir / "logos").mkdir(exist_ok=True)
    rows = []
    for i, p in enumerate(patterns):
        best = matches["best_match"].iat[i]
        logo = pattern_logo(out_dir / "logos" / f"{p.name}.png", p, best, db)
        rows.append(
            (
                p.name,
                p.sign,
                len(p.seqlets),
                p.consensus,
                best,
                matches["match_qvalue"].iat[i],
                str(logo.relative_to(out_dir)),
            )
        )
    columns = [
        "pattern",
        "sign",
        "n_seqlets",
        "consensus",
        "best_match",
        "match_qvalue",
        "logo_png",
    ]
    table = pd.DataFrame(rows, columns=columns)
    written = {
        "patterns": _write_text(out_dir / "patterns.tsv", table.to_csv(sep="\t", index=False)),
        "meme": write_meme(out_dir / "patterns.meme", patterns),
        "seqlets": _write_text(
            out_dir / "seqlets.bed",
            seqlet_bed(patterns, bed).to_csv(sep="\t", header=False, index=False),
        ),
    }
    written["report"] = write_report(out_dir / "report.html", table, f"genodil motifs: {track}")
    log.info("%d patterns from %d regions", len(patterns), len(bed))
    return written
