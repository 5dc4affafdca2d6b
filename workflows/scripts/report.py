"""Write the workflow's Markdown report: per run, metrics, plots, predictions, variant scores.

    python report.py --out results/report.md demo:metrics=results/eval/demo/metrics.json \
        demo:plots=results/eval/demo/plots demo:bigwig=results/predict/demo/local.bw \
        demo:scores=results/variants/demo/scores.tsv demo:skipped=...

Standard library only; paths in the report are relative to the report's folder.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path

KINDS = ("metrics", "plots", "bigwig", "scores", "skipped")
TOP_VARIANTS = 10


def parse_items(items: list[str]) -> dict[str, dict[str, list[Path]]]:
    """``run:kind=path`` strings -> {run: {kind: [paths]}}, runs in the order given."""
    runs: dict[str, dict[str, list[Path]]] = {}
    for item in items:
        head, sep, path = item.partition("=")
        run, colon, kind = head.rpartition(":")
        if not sep or not colon or kind not in KINDS:
            raise ValueError(f"bad item {item!r}: expected RUN:KIND=PATH, KIND one of {KINDS}")
        runs.setdefault(run, {}).setdefault(kind, []).append(Path(path))
    return runs


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return "" if value is None else str(value)


def _link(path: Path, base: Path) -> str:
    return os.path.relpath(path, base)


def _metrics_section(path: Path, base: Path) -> list[str]:
    metrics = json.loads(path.read_text())
    tracks: dict[str, dict[str, object]] = metrics.get("tracks", {})
    names = list(dict.fromkeys(k for values in tracks.values() for k in values))
    lines = [
        (
            f"Split `{metrics.get('split', '?')}`, {metrics.get('n_windows', '?')} windows "
            f"([metrics JSON]({_link(path, base)}))."
        ),
        "",
        "| track | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    rows = list(tracks.items())
    if metrics.get("mean"):
        rows.append(("**mean**", metrics["mean"]))
    for track, values in rows:
        lines.append(f"| {track} | " + " | ".join(_fmt(values.get(k)) for k in names) + " |")
    return lines


def _read_tsv(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh, delimiter="\t"))
    return (rows[0], rows[1:]) if rows else ([], [])


def _scores_section(scores: Path, skipped: Path | None, base: Path) -> list[str]:
    header, rows = _read_tsv(scores)
    n_skipped = len(_read_tsv(skipped)[1]) if skipped and skipped.exists() else 0
    lines = [
        f"{len(rows)} variants scored, {n_skipped} skipped: [{scores.name}]({_link(scores, base)})"
        + (f", [{skipped.name}]({_link(skipped, base)})" if skipped else "")
        + ".",
    ]
    sad = [i for i, name in enumerate(header) if name.startswith("SAD_")]
    if sad and rows:
        keyed = []
        for row in rows:
            values = [abs(float(row[i])) for i in sad if row[i] not in ("", "nan", "NaN")]
            keyed.append((max(values) if values else 0.0, row))
        keyed.sort(key=lambda t: -t[0])
        shown = header[:5] + [header[i] for i in sad]
        lines += [
            "",
            f"Strongest {min(TOP_VARIANTS, len(rows))} by max |SAD| over tracks:",
            "",
            "| " + " | ".join(shown) + " |",
            "|" + "---|" * len(shown),
        ]
        for _, row in keyed[:TOP_VARIANTS]:
            cells = row[:5] + [row[i] for i in sad]
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def write_report(runs: dict[str, dict[str, list[Path]]], out: Path) -> None:
    """Write the Markdown report to ``out``."""
    base = out.parent
    lines = [
        "# genodil workflow report",
        "",
        f"Runs: {', '.join(f'`{r}`' for r in runs)}. Produced by `workflows/Snakefile`.",
    ]
    for run, files in runs.items():
        lines += ["", f"## Run `{run}`", ""]
        for path in files.get("metrics", []):
            lines += _metrics_section(path, base)
        for folder in files.get("plots", []):
            pngs = sorted(folder.glob("*.png")) if folder.is_dir() else []
            if pngs:
                lines += ["", "### Plots", ""]
                lines += [f"![{p.stem}]({_link(p, base)})" for p in pngs]
        bigwigs = files.get("bigwig", [])
        if bigwigs:
            lines += ["", "### Predicted tracks", "", "| track | bigWig | bytes |", "|---|---|---|"]
            for bw in bigwigs:
                size = bw.stat().st_size
                lines.append(f"| {bw.stem} | [{bw.name}]({_link(bw, base)}) | {size} |")
        skipped = (files.get("skipped") or [None])[0]
        for scores in files.get("scores", []):
            lines += ["", "### Variant scores", ""]
            lines += _scores_section(scores, skipped, base)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("items", nargs="+", help="RUN:KIND=PATH, KIND one of " + ", ".join(KINDS))
    parser.add_argument("--out", type=Path, required=True, help="report .md to write")
    args = parser.parse_args(argv)
    try:
        write_report(parse_items(args.items), args.out)
    except (OSError, ValueError, KeyError) as e:
        print(f"report: error: {e}", file=sys.stderr)
        return 2
    print(f"report written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
