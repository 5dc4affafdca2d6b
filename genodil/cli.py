"""The ``genodil`` command line: parse, call the library, report.

Every subcommand exits 0 on success, 2 on bad usage or bad input (one paragraph naming the file,
key or line and what to do), 130 when interrupted and 1 on an internal error (one line; the
traceback goes to a log file); see docs/architecture.md §4. Each command's options are added
by its own ``_add_<command>``; options several commands share come from
:mod:`genodil.cli_support`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from genodil.cli_support import (
    Formatter,
    Parser,
    add_batch_size,
    add_checkpoint,
    add_device,
    add_fasta,
    add_out,
    add_path,
    add_quiet,
    check_paths,
    declare_path,
    positive_int,
    run_command,
    unknown_options,
)
from genodil.errors import InputError

__all__ = ["build_parser", "main"]

log = logging.getLogger("genodil")


# --------------------------------------------------------------------------- commands


def cmd_simulate(args: argparse.Namespace) -> int:
    from genodil.simulate import simulate

    progress = None if args.quiet else print
    written = simulate(args.out, preset=args.preset, seed=args.seed, progress=progress)
    print(f"simulated dataset ({args.preset}, seed {args.seed}) written to {args.out}")
    for key, path in sorted(written.items()):
        print(f"  {key}: {path}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from genodil.config import load_config

    cfg = load_config(args.config, args.overrides, data_root=args.data_root)
    if args.print_config:
        print(cfg.dump())
        return 0
    from genodil.train.run import train

    out = args.out or Path("runs") / (Path(args.config).stem if args.config else "run")
    run_dir = train(cfg, out, resume=args.resume, progress=not args.quiet, overwrite=args.overwrite)
    from genodil.report.curves import training_summary

    settings = cfg.train
    print("\n".join(training_summary(run_dir, settings.monitor, settings.resolved_monitor_mode)))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from genodil.train.evaluate import evaluate

    metrics = evaluate(
        args.checkpoint,
        split=args.split,
        out=args.out,
        plots=args.plots,
        batch_size=args.batch_size,
        device=args.device,
        progress=not args.json,
        data_root=args.data_root,
        fasta=args.fasta,
        units=args.units,
        bed=args.bed,
    )
    if args.json:
        print(json.dumps(metrics, allow_nan=False))
    else:
        print(f"split {metrics['split']}: {metrics['n_windows']} windows")
        for name, values in metrics["tracks"].items():
            shown = ", ".join(
                f"{k} {'n/a' if v is None else f'{v:.3f}'}" for k, v in values.items()
            )
            print(f"  {name}: {shown}")
        for name, note in metrics.get("notes", {}).items():
            print(f"  note ({name}): {note}")
        if args.out:
            print(f"metrics written to {args.out}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from genodil.report.html import write_report

    out = write_report(
        args.run_dir,
        args.out,
        metrics=args.metrics,
        scores=args.scores,
        split=args.split,
        batch_size=args.batch_size,
        device=args.device,
        progress=not args.quiet,
    )
    print(f"report written to {out}")
    return 0


def _regions(args: argparse.Namespace, genome):
    from genodil.predict import tiles

    given = [args.regions is not None, bool(args.region), args.genome]
    if sum(given) != 1:
        raise InputError("give exactly one of --regions BED, --region chr:start-end, --genome")
    if args.regions is not None:
        return tiles.regions_from_bed(args.regions, genome.chrom_sizes)
    if args.region:
        return tiles.regions_from_strings(args.region)
    return tiles.whole_genome_regions(genome)


def cmd_predict(args: argparse.Namespace) -> int:
    from genodil.genome.io import Genome
    from genodil.predict import manifest, tiles
    from genodil.train.io import load_model

    loaded = load_model(args.checkpoint)
    checkpoint = manifest.checkpoint_identity(loaded.path)
    previous = _check_predict_outputs(args, loaded.track_names, checkpoint)
    common = {
        "track_names": loaded.track_names,
        "window": loaded.window,
        "batch_size": args.batch_size,
        "device": args.device,
        "rc_average": args.rc_average,
        "strand_pairs": loaded.strand_pairs,
        "progress": not args.quiet,
        "npz": args.npz,
        "zooms": args.zooms,
        "track_specs": loaded.track_specs if args.units == "track" else None,
    }
    if args.sequences:
        if args.fasta or args.regions or args.region or args.genome:
            raise InputError("--sequences predicts its own records; drop --fasta/--region(s)")
        written = tiles.predict_sequences(loaded.model, args.sequences, args.out, **common)
    else:
        genome = Genome(loaded.genome_fasta(args.fasta))
        regions = _regions(args, genome)
        written = tiles.predict_regions(loaded.model, genome, regions, args.out, **common)
    manifest.write_manifest(
        args.out,
        checkpoint=checkpoint,
        spec=loaded.spec,
        written=written,
        regions=manifest.regions_record(args.region, args.regions, args.genome, args.sequences),
        npz=args.npz,
        rc_average=args.rc_average,
        previous=previous,
        units=args.units,
    )
    for name, path in written.items():
        print(f"{name}: {path}")
    print(f"values in {args.units} units (see {Path(args.out) / manifest.MANIFEST_NAME})")
    return 0


def _check_predict_outputs(args: argparse.Namespace, track_names, checkpoint):
    """Every output of predict checked before any work; returns the folder's old manifest."""
    from genodil.outputs import check_outputs
    from genodil.predict import manifest

    out = Path(args.out)
    files = {f"bigWig of track {name}": out / f"{name}.bw" for name in track_names}
    files.update({"--npz": args.npz, "manifest": out / manifest.MANIFEST_NAME})
    check_outputs(files, {"--out": out}, writable=True)
    return manifest.check_prediction_folder(out, checkpoint, overwrite=args.overwrite)


def cmd_score_variants(args: argparse.Namespace) -> int:
    from genodil.data.tracks import describe_units
    from genodil.genome.io import Genome
    from genodil.genome.vcf import read_vcf
    from genodil.outputs import check_outputs
    from genodil.predict import variants
    from genodil.train.io import load_model

    loaded = load_model(args.checkpoint)
    genome = Genome(loaded.genome_fasta(args.fasta))
    table = read_vcf(args.vcf)
    if not len(table):
        print(
            f"genodil score-variants: warning: {args.vcf} holds no variant records; writing "
            "empty score tables",
            file=sys.stderr,
        )
    check_outputs(
        {
            "--out": args.out,
            "skipped table": variants.skipped_path(args.out),
            "units sidecar": variants.units_path(args.out),
            "--save-tracks": args.save_tracks,
        },
        writable=True,
    )
    scored, skipped = variants.score_variants(
        loaded.model,
        genome,
        table,
        track_names=loaded.track_names,
        window=loaded.window,
        scores=args.scores,
        score_width=args.score_width,
        rc_average=args.rc_average,
        strand_pairs=loaded.strand_pairs,
        batch_size=args.batch_size,
        device=args.device,
        skip_edge=args.skip_edge,
        strict=args.strict,
        save_tracks=args.save_tracks,
        progress=not args.quiet,
        track_specs=loaded.track_specs if args.units == "track" else None,
    )
    units = {
        "units": args.units,
        "tracks": describe_units(loaded.track_specs or [], args.units, loaded.bin_size),
    }
    paths = variants.write_scores(scored, skipped, args.out, vcf=args.vcf, units=units)
    print(_variant_counts(table, scored, skipped) + f"; scores in {args.units} units")
    for p in paths:
        print(f"  {p}")
    return 0


def _variant_counts(table, scored, skipped) -> str:
    """``scored 12 alleles (10 records), skipped 1 allele (1 record)``: VCF rows are alleles."""

    def count(df) -> str:
        records = len(df[["chrom", "pos", "id", "ref"]].drop_duplicates()) if len(df) else 0
        return f"{len(df)} allele{'s' * (len(df) != 1)} ({records} record{'s' * (records != 1)})"

    return f"of {count(table)}: scored {count(scored)}, skipped {count(skipped)}"


def _units_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--units",
        choices=["track", "model"],
        default="track",
        help="track: the bigWigs' own units (transforms undone; default); model: the network's "
        "transformed outputs",
    )


def _score_names(text: str) -> list[str]:
    """Argparse type of ``--scores``: known score names, comma-separated."""
    from genodil.predict.variants import SCORES

    names = [s.strip() for s in text.split(",") if s.strip()]
    by_lower = {s.lower(): s for s in SCORES}
    bad = [n for n in names if n.lower() not in by_lower]
    if bad or not names:
        raise argparse.ArgumentTypeError(
            f"unknown score {bad[0] if bad else '(none given)'!r}; give a comma-separated list "
            f"of {', '.join(SCORES)}"
        )
    return names


def cmd_receptive_field(args: argparse.Namespace) -> int:
    from genodil.outputs import check_outputs
    from genodil.report import receptive

    check_outputs({"--plot": args.plot}, writable=True)
    model = _model_from(args)
    report = receptive.receptive_field_report(model, empirical=args.empirical, plot=args.plot)
    print(json.dumps(report) if args.json else receptive.format_report(report))
    return 0


def _model_from(args: argparse.Namespace):
    if (args.config is None) == (args.checkpoint is None):
        raise InputError("give exactly one of --config FILE.yaml or --checkpoint CKPT")
    if args.checkpoint:
        from genodil.train.io import load_model

        return load_model(args.checkpoint).model
    from genodil.config import build_model, load_config

    return build_model(load_config(args.config))


def cmd_interpret(args: argparse.Namespace) -> int:
    from genodil.interpret.command import cmd_interpret as run

    return run(args)


def cmd_motifs(args: argparse.Namespace) -> int:
    from genodil.interpret.command import cmd_motifs as run

    return run(args)


def cmd_marginalize(args: argparse.Namespace) -> int:
    from genodil.interpret.command import cmd_marginalize as run

    return run(args)


def cmd_explain_variants(args: argparse.Namespace) -> int:
    from genodil.interpret.command import cmd_explain_variants as run

    return run(args)


def cmd_check(args: argparse.Namespace) -> int:
    from genodil.config import build_datamodule, load_config

    cfg = load_config(args.config, args.overrides, data_root=args.data_root)
    dm = build_datamodule(cfg)  # validates files, chromosome names and lengths
    genome = dm.genome
    checked = [f"FASTA {genome.path}: {len(genome.chrom_sizes)} chromosomes"]
    checked += [f"bigWig {t.path} ({t.name})" for t in dm.specs]
    for vcf in args.vcf:
        from genodil.genome.vcf import read_vcf

        table = read_vcf(vcf)
        _check_names(genome, table["chrom"].unique(), vcf)
        checked.append(f"VCF {vcf}: {len(table)} alleles")
    for bed in args.bed:
        from genodil.genome.io import read_bed

        _check_names(genome, sorted(read_bed(bed)["chrom"].unique()), bed)
        checked.append(f"BED {bed}")
    print("inputs agree:")
    for line in checked:
        print(f"  {line}")
    return 0


def _check_names(genome, names, path) -> None:
    missing = [str(c) for c in names if str(c) not in genome.chrom_sizes]
    if missing:
        have = ", ".join(list(genome.chrom_sizes)[:8])
        raise InputError(
            f"{path} names chromosomes absent from FASTA {genome.path}: "
            f"{', '.join(missing[:8])}; the FASTA has {have}. Rename them (a 'chr' prefix?) "
            "or use the FASTA of the same assembly"
        )


def cmd_merge_bigwig(args: argparse.Namespace) -> int:
    from genodil.predict.merge import merge_bigwigs

    out = merge_bigwigs(args.inputs, args.out)
    print(f"merged {len(args.inputs)} bigWigs into {out}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from genodil.demo import run_demo

    run_demo(args.out, steps=args.steps, progress=not args.quiet)
    return 0


# --------------------------------------------------------------------------- parser


def _command(sub, name: str, help_: str, examples: str, func: Callable[..., int]):
    p = sub.add_parser(
        name,
        help=help_,
        description=help_,
        epilog="examples:\n" + examples,
        formatter_class=Formatter,
    )
    p.set_defaults(func=func, parser=p, overrides=[])
    return p


def _data_root(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-root",
        metavar="FOLDER",
        help="folder that relative data paths of the config resolve against (default: the "
        "config's data_root key, else the config file's folder)",
    )


def _add_demo(sub) -> None:
    p = _command(
        sub,
        "demo",
        "simulate a small dataset, train on CPU, evaluate, predict and score variants",
        "  genodil demo --out demo_out\n",
        cmd_demo,
    )
    add_out(p, "folder", "where the demo writes data, run, metrics and plots", False, "demo_out")
    p.add_argument(
        "--steps",
        type=positive_int,
        default=1320,
        metavar="N",
        help="training budget in optimiser steps (40 epochs of the tiny set); the same steps "
        "give the same model on any machine, a busy one just takes longer",
    )
    add_quiet(p)


def _add_simulate(sub) -> None:
    p = _command(
        sub,
        "simulate",
        "write a deterministic synthetic genome, tracks, variants and regions",
        "  genodil simulate --out data/demo --preset tiny\n"
        "  genodil simulate --out sim --preset small --seed 7\n",
        cmd_simulate,
    )
    add_out(p, "folder", "where genome.fa, the bigWigs, variants and regions are written")
    p.add_argument(
        "--seed", type=int, default=0, help="random seed: the same seed writes the same files"
    )
    p.add_argument(
        "--preset",
        default="tiny",
        choices=SIMULATE_PRESETS,
        help="tiny (~1 Mb, the demo), small (~8 Mb), longrange (small plus enhancer-less "
        "promoters: the long-range benchmark) or large (~100 Mb)",
    )
    add_quiet(p)


def _add_train(sub) -> None:
    p = _command(
        sub,
        "train",
        "train a model from a YAML run config (data, model, train sections)",
        "  genodil train --config configs/demo.yaml --out runs/demo\n"
        "  genodil train --config configs/demo.yaml --model.channels 16 --train.max_epochs 1\n"
        "  genodil train --config configs/demo.yaml --out runs/demo --resume\n"
        "  genodil train --config configs/yeast_r64.yaml \\\n"
        "      --data-root ../shared/data/real/yeast_r64\n"
        "  genodil train --config configs/demo.yaml --print-config\n"
        "Any config key can be overridden as --section.key VALUE, nested keys too\n"
        "(--model.dilations.blocks 3); every key is listed in docs/config.md.",
        cmd_train,
    )
    p.add_argument("--config", metavar="YAML", help="run config YAML")
    add_out(p, "folder", "run directory; default runs/<config name>", required=False)
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoints/last.ckpt")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="discard the checkpoints and config of an earlier run in OUT and start again",
    )
    _data_root(p)
    p.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    add_quiet(p)


def _add_evaluate(sub) -> None:
    p = _command(
        sub,
        "evaluate",
        "per-track metrics of a checkpoint on a held-out split, with plots",
        "  genodil evaluate --checkpoint runs/demo/checkpoints/best.ckpt --out metrics.json\n"
        "  genodil evaluate --checkpoint runs/demo --split valid --plots plots/ --json\n",
        cmd_evaluate,
    )
    add_checkpoint(p)
    p.add_argument(
        "--split",
        default="test",
        type=lambda s: {"val": "valid", "validation": "valid"}.get(s, s),
        choices=["test", "valid"],
        help="held-out split of the checkpoint's config to score",
    )
    add_out(p, "file", "metrics JSON to write", required=False)
    add_path(p, "--plots", "folder", "where tracks.png and scatter_bin128.png are written")
    p.add_argument("--json", action="store_true", help="print the metrics as one JSON object")
    p.add_argument(
        "--data-root",
        metavar="FOLDER",
        help="folder that now holds the training data, if it moved since training",
    )
    add_fasta(p, required=False, help_="FASTA to use instead of the one saved in the checkpoint")
    p.add_argument(
        "--units",
        choices=["track", "model"],
        default="track",
        help="units of the plotted tracks: the bigWigs' own (track) or the model's transformed",
    )
    p.add_argument(
        "--bed",
        metavar="BED",
        help="BED of annotations (e.g. TSSs) drawn as a lane under the plots",
    )
    add_device(p)
    add_batch_size(p)


def _add_report(sub) -> None:
    p = _command(
        sub,
        "report",
        "one self-contained HTML page about a run: config, data, receptive field, learning "
        "curves, test metrics and plots, variant scores",
        "  genodil report runs/demo\n"
        "  genodil report runs/demo --out demo.html --metrics metrics.json --scores scores.tsv\n",
        cmd_report,
    )
    p.add_argument("run_dir", help="run directory written by `genodil train`")
    add_out(p, "file", "HTML file to write; default RUN_DIR/report.html", required=False)
    p.add_argument(
        "--metrics",
        metavar="JSON",
        help="metrics JSON from `genodil evaluate` (else the split is evaluated now)",
    )
    p.add_argument(
        "--scores", metavar="TSV", help="variant-score TSV from `genodil score-variants`"
    )
    p.add_argument("--split", default="test", choices=["test", "valid"], help="split to evaluate")
    add_quiet(p)
    add_device(p)
    add_batch_size(p)


def _add_predict(sub) -> None:
    p = _command(
        sub,
        "predict",
        "predict per-position tracks for regions and write one bigWig per track",
        "  genodil predict --checkpoint runs/demo --fasta g.fa --region chr4:0-100000 --out pred\n"
        "  genodil predict --checkpoint runs/demo --fasta g.fa --regions peaks.bed --out pred\n"
        "  genodil predict --checkpoint runs/demo --fasta g.fa --genome --out pred\n"
        "  genodil predict --checkpoint runs/demo --sequences haps.fa --out pred --npz h.npz\n",
        cmd_predict,
    )
    add_checkpoint(p)
    add_fasta(p, required=False, help_=_TRAINING_FASTA)
    p.add_argument("--regions", metavar="BED", help="BED of regions (overlaps are merged)")
    p.add_argument("--region", action="append", default=[], help="chr:start-end (repeatable)")
    p.add_argument("--genome", action="store_true", help="predict every chromosome")
    p.add_argument(
        "--sequences", metavar="FASTA", help="FASTA of sequences to predict instead of a genome"
    )
    add_out(p, "folder", "where <track>.bw files are written")
    add_path(p, "--npz", "file", "also save the predictions as this .npz")
    p.add_argument(
        "--zooms",
        type=int,
        default=0,
        help="bigWig zoom levels (faster zoomed-out browsing; built in memory, ~14 bytes "
        "per predicted base, so keep 0 for whole genomes)",
    )
    p.add_argument("--rc-average", action="store_true", help="average with reverse complement")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace predictions of another model in --out (see OUT/manifest.json)",
    )
    _units_arg(p)
    add_quiet(p)
    add_device(p)
    add_batch_size(p)


def _add_score_variants(sub) -> None:
    p = _command(
        sub,
        "score-variants",
        "score VCF variants (SNVs, MNVs, indels): alt vs ref prediction per track",
        "  genodil score-variants --checkpoint runs/demo --fasta genome.fa --vcf variants.vcf "
        "--out scores.tsv\n"
        "  genodil score-variants --checkpoint runs/demo --fasta genome.fa --vcf v.vcf.gz "
        "--out scores.parquet --scores SAD,JSD --score-width 200 --rc-average\n",
        cmd_score_variants,
    )
    add_checkpoint(p)
    add_fasta(p, required=False, help_=_TRAINING_FASTA)
    p.add_argument("--vcf", required=True, metavar="VCF", help="VCF or bgzipped VCF")
    add_out(
        p,
        "file",
        "scores file: .tsv (.tsv.gz), .parquet, or .vcf/.vcf.gz (the input VCF with "
        "per-allele scores as INFO fields)",
    )
    _units_arg(p)
    p.add_argument(
        "--scores",
        default="SAD,logFC,maxabs,JSD",
        type=_score_names,
        help="comma-separated scores to compute",
    )
    p.add_argument(
        "--score-width", type=positive_int, metavar="BP", help="score only the central N bp"
    )
    p.add_argument("--rc-average", action="store_true", help="average with reverse complement")
    p.add_argument(
        "--skip-edge",
        action="store_true",
        help="skip variants whose window runs past a chromosome end",
    )
    p.add_argument("--strict", action="store_true", help="any skipped variant is an error")
    add_path(p, "--save-tracks", "file", "save ref/alt predicted tracks to this .npz")
    add_quiet(p)
    add_device(p)
    add_batch_size(p, minimum=2)


def _add_receptive_field(sub) -> None:
    p = _command(
        sub,
        "receptive-field",
        "receptive field, reachable offsets and gridding blind spots of a model",
        "  genodil receptive-field --config configs/demo.yaml\n"
        "  genodil receptive-field --config configs/gridding/gridded_1_4_16_64.yaml --empirical "
        "--plot rf.png\n"
        "  genodil receptive-field --checkpoint runs/demo --json\n",
        cmd_receptive_field,
    )
    p.add_argument("--config", metavar="YAML", help="run config YAML (or --checkpoint)")
    p.add_argument(
        "--checkpoint", metavar="CKPT", help="checkpoint file or run directory (or --config)"
    )
    p.add_argument("--empirical", action="store_true", help="verify with input gradients")
    add_path(p, "--plot", "file", "PNG of sensitivity against offset")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _add_interpret_commands(sub) -> None:
    """interpret, motifs, marginalize, explain-variants: options from genodil.interpret."""
    from genodil.interpret import command as icli

    for name, help_, examples, add, func in (
        ("interpret", icli.HELP, icli.EXAMPLES, icli.add_interpret_arguments, cmd_interpret),
        ("motifs", icli.MOTIFS_HELP, icli.MOTIFS_EXAMPLES, icli.add_motifs_arguments, cmd_motifs),
        (
            "marginalize",
            icli.MARGINALIZE_HELP,
            icli.MARGINALIZE_EXAMPLES,
            icli.add_marginalize_arguments,
            cmd_marginalize,
        ),
        (
            "explain-variants",
            icli.EXPLAIN_HELP,
            icli.EXPLAIN_EXAMPLES,
            icli.add_explain_arguments,
            cmd_explain_variants,
        ),
    ):
        p = _command(sub, name, help_, examples, func)
        add(p)
        declare_path(p, "--out", "folder")


def _add_check(sub) -> None:
    p = _command(
        sub,
        "check",
        "check a run config (every key and value) and that its FASTA, bigWigs, and any "
        "VCF/BED agree, before running",
        "  genodil check --config configs/demo.yaml --vcf data/demo/variants.vcf\n"
        "  genodil check --config configs/demo.yaml --train.max_time 2h\n",
        cmd_check,
    )
    p.add_argument("--config", required=True, metavar="YAML", help="run config YAML")
    _data_root(p)
    p.add_argument(
        "--vcf", action="append", default=[], metavar="VCF", help="VCF to check (repeatable)"
    )
    p.add_argument(
        "--bed", action="append", default=[], metavar="BED", help="BED to check (repeatable)"
    )


def _add_merge_bigwig(sub) -> None:
    p = _command(
        sub,
        "merge-bigwig",
        "merge bigWigs covering disjoint regions (e.g. per-chromosome predictions) into one",
        "  genodil merge-bigwig --out pred/dnase.bw chr1/dnase.bw chr2/dnase.bw\n",
        cmd_merge_bigwig,
    )
    add_out(p, "file", "merged bigWig to write")
    p.add_argument("inputs", nargs="+", metavar="BIGWIG", help="input bigWigs (same FASTA)")


_TRAINING_FASTA = "reference genome FASTA (default: the one the model was trained on)"
# Commands whose extra --section.key options are config overrides.
_CONFIG_COMMANDS = ("train", "check")
SIMULATE_PRESETS = ("tiny", "small", "longrange", "large")
_COMMANDS = (
    _add_demo,
    _add_simulate,
    _add_train,
    _add_evaluate,
    _add_report,
    _add_predict,
    _add_score_variants,
    _add_receptive_field,
    _add_interpret_commands,
    _add_check,
    _add_merge_bigwig,
)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with one subparser per command."""
    parser = Parser(
        prog="genodil",
        description="Sequence-to-function models at single-base resolution: stream FASTA + "
        "bigWig, train a dilated residual CNN, predict tracks, score variants.",
        epilog="Run `genodil COMMAND --help` for a command's options and examples.\n"
        "Start with `genodil demo --out demo_out`.",
        formatter_class=Formatter,
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in _COMMANDS:
        add(sub)
    return parser


def _configure_logging() -> None:
    """Send genodil's messages to stderr; Lightning's banner lines only with GENODIL_LOG=INFO."""
    level = os.environ.get("GENODIL_LOG", "WARNING").upper()
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("genodil: %(message)s"))
        log.addHandler(handler)
        log.propagate = False
    log.setLevel(level)
    for name in ("lightning.pytorch", "lightning.fabric", "lightning"):
        logging.getLogger(name).setLevel(level)


# glibc keeps freed training tensors instead of unmapping them: 1.38x less CPU per training
# step on CPU (docs/benchmarks.md, Model). Tunables are read at process start only.
_TUNABLES = "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736"
# Commands that run the network over many windows: each allocates and frees large
# activations per batch, which glibc's default malloc returns to the OS and re-faults.
_HEAVY_COMMANDS = (
    "train",
    "demo",
    "evaluate",
    "predict",
    "score-variants",
    "interpret",
    "motifs",
    "marginalize",
    "report",
)


def _reexec_with_tuned_allocator(argv: list[str]) -> None:
    """Restart a heavy command (training, prediction, scoring) once with glibc malloc tunables.

    Opt out with ``GENODIL_ALLOCATOR=default`` (or set ``GLIBC_TUNABLES`` yourself).
    """
    if (
        not sys.platform.startswith("linux")
        or os.environ.get("GLIBC_TUNABLES")
        or os.environ.get("GENODIL_ALLOCATOR", "tuned") != "tuned"
        or not argv
        or argv[0] not in _HEAVY_COMMANDS
        or "--help" in argv
        or "-h" in argv
    ):
        return
    env = {**os.environ, "GLIBC_TUNABLES": _TUNABLES}
    os.execve(sys.executable, [sys.executable, "-m", "genodil.cli", *argv], env)


def _split_overrides(extra: list[str]) -> tuple[list[str], list[str]]:
    """Separate ``--section.key VALUE`` config overrides from other unknown tokens."""
    from genodil.config.overrides import is_override

    overrides, rest = [], []
    i = 0
    while i < len(extra):
        tok = extra[i]
        if is_override(tok):
            overrides.append(tok)
            has_value = "=" not in tok and i + 1 < len(extra)
            if has_value and not extra[i + 1].startswith("--"):
                overrides.append(extra[i + 1])
                i += 1
        else:
            rest.append(tok)
        i += 1
    return overrides, rest


def _run(args: argparse.Namespace, extra: list[str]) -> int:
    if args.command in _CONFIG_COMMANDS:
        args.overrides, extra = _split_overrides(extra)
    if extra:
        raise unknown_options(args.parser, extra)
    check_paths(args)
    return args.func(args)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code.

    0 success, 1 internal error (a bug: one line and a log file), 2 bad usage or bad input,
    130 interrupted (also while the options are still being read, e.g. during imports).
    """
    try:
        return _main(argv)
    except KeyboardInterrupt:
        print("genodil: interrupted", file=sys.stderr)
        return 130


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    if argv is None:  # the console script: heavy commands get the tuned allocator
        _reexec_with_tuned_allocator(sys.argv[1:])
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args, extra = parser.parse_known_args(argv)
    except SystemExit as e:  # argparse already printed its usage message (or --help)
        return e.code if isinstance(e.code, int) else 2
    if args.version:
        import genodil

        print(genodil.__version__)
        return 0
    if not getattr(args, "func", None):
        if extra:
            print(f"genodil: error: unknown option {extra[0]} before the command", file=sys.stderr)
        parser.print_help(sys.stderr if extra else sys.stdout)
        return 2
    _configure_logging()
    if args.command in _HEAVY_COMMANDS:
        log.info("GLIBC_TUNABLES=%s", os.environ.get("GLIBC_TUNABLES", "(unset)"))
    return run_command(args.command, lambda: _run(args, extra))


if __name__ == "__main__":
    sys.exit(main())
