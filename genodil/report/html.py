"""``genodil report RUN_DIR``: one self-contained HTML page about a trained run.

The page is meant to be sent to a colleague as a single file (like ChromBPNet's QC report):
every figure is embedded as a base64 PNG, nothing is linked. Sections: the run (checkpoint,
version, steps), the data (tracks and their transforms, window, splits), the model (receptive
field, blind fraction, parameters) with the receptive-field figure, learning curves, test
metrics per track (1 bp and binned) with observed-vs-predicted plots over the highest-signal
test windows, and, when given, a summary of variant scores.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from genodil.errors import InputError

__all__ = ["write_report"]

_STYLE = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1100px;
margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{font-size:1.25em;border-bottom:1px solid #ccc;padding-bottom:.2em;
margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th:first-child,td:first-child{text-align:left}
pre{background:#f6f6f6;padding:.8em;overflow-x:auto;font-size:.82em}
img{max-width:100%;border:1px solid #eee}.note{color:#666;font-size:.9em}
"""


def _img(png: Path | None, alt: str) -> str:
    """An <img> holding ``png`` as a data URI, or a note when there is no figure."""
    if png is None or not Path(png).exists():
        return f'<p class="note">({html.escape(alt)}: not available)</p>'
    data = base64.b64encode(Path(png).read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return html.escape(str(value))


def _table(header: list[str], rows: list[list[Any]], table_id: str = "") -> str:
    ident = f' id="{table_id}"' if table_id else ""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(v)}</td>" for v in r) + "</tr>" for r in rows)
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _data_section(spec: Mapping[str, Any]) -> str:
    data = spec.get("data", {})
    rows = []
    for t in data.get("tracks", []):
        transforms = [
            f"{k}={t[k]}" for k in ("scale", "clip_soft", "clip", "log1p", "pool") if t.get(k)
        ]
        rows.append(
            [
                t.get("name"),
                t.get("path"),
                ", ".join(transforms) or "none",
                t.get("strand_pair") or "",
            ]
        )
    facts = [
        ["FASTA", data.get("fasta")],
        ["window (bp)", data.get("window")],
        ["crop per side (bp)", data.get("crop")],
        ["output bin (bp)", data.get("bin_size", 1)],
        ["splits", json.dumps(data.get("splits"))],
    ]
    return (
        "<h2>Data</h2>"
        + _table(["track", "bigWig", "transforms (model units)", "strand pair"], rows)
        + _table(["setting", "value"], facts)
    )


def _model_section(loaded, figure: Path | None) -> str:
    from genodil.report.receptive import receptive_field_report

    rf = receptive_field_report(loaded.model)
    n_params = sum(p.numel() for p in loaded.model.parameters())
    facts = [
        ["receptive field (bp)", f"{rf['receptive_field_bp']:,}"],
        ["blind fraction (gridding)", rf["blind_fraction"]],
        ["dilations", ", ".join(map(str, rf["dilations"]))],
        ["parameters", f"{n_params:,}"],
    ]
    warn = f'<p class="note">{html.escape(rf["warning"])}</p>' if rf.get("warning") else ""
    return (
        "<h2>Model</h2>"
        + _table(["property", "value"], facts)
        + warn
        + _img(figure, "receptive-field sensitivity")
    )


def _metrics_section(metrics: Mapping[str, Any], plots: list[Path]) -> str:
    tracks = metrics.get("tracks", {})
    keys = list(dict.fromkeys(k for v in tracks.values() for k in v))
    rows = [[name, *(vals.get(k) for k in keys)] for name, vals in tracks.items()]
    if metrics.get("mean"):
        rows.append(["mean", *(metrics["mean"].get(k) for k in keys)])
    intro = (
        f"<p>Split <b>{html.escape(str(metrics.get('split')))}</b>, "
        f"{metrics.get('n_windows', '?')} windows. Pearson r per base and on summed 32/128-bp "
        "bins, Spearman on 128-bp bins, loss in the model's units.</p>"
    )
    figures = "".join(_img(p, p.stem) for p in plots)
    return "<h2>Test metrics</h2>" + intro + _table(["track", *keys], rows, "metrics") + figures


def _scores_section(scores: Path) -> str:
    try:
        table = pd.read_csv(scores, sep="\t", comment=None)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise InputError(
            f"cannot read variant scores {scores} ({e}); give the TSV written by "
            "`genodil score-variants`"
        ) from None
    sad = [c for c in table.columns if c.startswith("SAD_")]
    if not sad:
        raise InputError(
            f"{scores} has no SAD_<track> columns; give the TSV written by "
            "`genodil score-variants` (with SAD among --scores)"
        )
    lead = [c for c in ("chrom", "pos", "id", "ref", "alt") if c in table.columns]
    strongest = table.loc[table[sad].abs().max(axis=1).nlargest(10).index, lead + sad]
    rows = strongest.astype(object).where(strongest.notna(), None).values.tolist()
    summary = [[c, float(table[c].abs().mean()), float(table[c].abs().max())] for c in sad]
    return (
        f"<h2>Variant scores</h2><p>{len(table):,} variants in {html.escape(scores.name)}.</p>"
        + _table(["score", "mean |value|", "max |value|"], summary)
        + "<p>Strongest effects (by max |SAD| over tracks):</p>"
        + _table(lead + sad, rows, "variants")
    )


def _run_section(run_dir: Path, loaded, history: pd.DataFrame) -> str:
    from genodil import __version__

    spec = loaded.spec
    last_step = int(history.index.max()) if not history.empty else None
    facts = [
        ["run directory", str(run_dir)],
        ["checkpoint", str(loaded.path)],
        ["trained with genodil", spec.get("version", "?")],
        ["report by genodil", __version__],
        ["last logged step", last_step],
        ["tracks", ", ".join(loaded.track_names)],
    ]
    return "<h2>Run</h2>" + _table(["", ""], facts)


def write_report(
    run_dir: str | os.PathLike,
    out: str | os.PathLike | None = None,
    *,
    metrics: str | os.PathLike | None = None,
    scores: str | os.PathLike | None = None,
    split: str = "test",
    batch_size: int = 8,
    device: str = "auto",
    progress: bool = True,
) -> Path:
    """Write one self-contained HTML report of a run directory.

    Parameters
    ----------
    run_dir : path
        A run directory written by ``genodil train`` (config.yaml, checkpoints/, logs/).
    out : path or None
        The HTML file; default ``RUN_DIR/report.html``.
    metrics : path or None
        A metrics JSON written by ``genodil evaluate``. Without it the split is evaluated
        now (and the observed-vs-predicted figures are drawn).
    scores : path or None
        A variant-score TSV from ``genodil score-variants`` to summarise.
    split, batch_size, device, progress
        Passed to :func:`genodil.train.evaluate.evaluate` when the split is evaluated here.

    Returns
    -------
    Path
        The HTML file written (atomically).
    """
    from genodil.outputs import check_outputs, write_atomic
    from genodil.report.curves import plot_learning_curves, read_metrics_history
    from genodil.report.receptive import plot_sensitivity
    from genodil.train.evaluate import evaluate
    from genodil.train.io import load_model

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError(f"run directory {run_dir} does not exist; give a `genodil train --out`")
    out = Path(out) if out is not None else run_dir / "report.html"
    check_outputs({"--out": out}, writable=True)
    loaded = load_model(run_dir)
    history = read_metrics_history(run_dir)
    with tempfile.TemporaryDirectory(prefix="genodil-report-") as tmp:
        tmp = Path(tmp)
        curves = plot_learning_curves(run_dir, tmp / "learning_curves.png")
        rf_png = plot_sensitivity(loaded.model, tmp / "receptive_field.png")
        plots_dir = tmp / "plots"
        if metrics is not None:
            try:
                result = json.loads(Path(metrics).read_text())
            except (OSError, ValueError) as e:
                raise InputError(
                    f"cannot read metrics {metrics} ({e}); give the JSON written by "
                    "`genodil evaluate --out`"
                ) from None
            plots: list[Path] = []
        else:
            result = evaluate(
                loaded.path,
                split=split,
                plots=plots_dir,
                batch_size=batch_size,
                device=device,
                progress=progress,
            )
            plots = [Path(p) for p in result.get("plots", [])]
        config = run_dir / "config.yaml"
        config_text = config.read_text() if config.exists() else "(no config.yaml)"
        parts = [
            (
                "<!DOCTYPE html><html><head><meta charset='utf-8'><title>genodil report: "
                f"{html.escape(run_dir.name)}</title><style>{_STYLE}</style></head><body>"
            ),
            f"<h1>genodil run report: {html.escape(run_dir.name)}</h1>",
            _run_section(run_dir, loaded, history),
            "<h2>Learning curves</h2>" + _img(curves, "learning curves"),
            _metrics_section(result, plots),
            _data_section(loaded.spec),
            _model_section(loaded, rf_png),
        ]
        if scores is not None:
            parts.append(_scores_section(Path(scores)))
        parts.append(f"<h2>Config</h2><pre>{html.escape(config_text)}</pre></body></html>")
        return write_atomic(out, "\n".join(parts), what="report")
