"""The ``genodil`` command line: parse, call the library, report.

Every subcommand exits 0 on success and 2 on bad usage or bad input, printing one paragraph
that names the file and what to do (docs/architecture.md §4).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from genodil.errors import InputError

__all__ = ["main"]

log = logging.getLogger("genodil")


class _Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    pass


def _add(sub, name: str, help_: str, examples: str) -> argparse.ArgumentParser:
    return sub.add_parser(
        name,
        help=help_,
        description=help_,
        epilog="examples:\n" + examples,
        formatter_class=_Formatter,
    )


def _units_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--units",
        choices=["track", "model"],
        default="track",
        help="track: the bigWigs' own units (transforms undone; default); model: the network's "
        "transformed outputs",
    )


def _device_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--batch-size", type=int, default=8, help="windows per forward pass")


# --------------------------------------------------------------------------- commands


def cmd_simulate(args: argparse.Namespace) -> int:
    from genodil.simulate import simulate

    written = simulate(args.out, preset=args.preset, seed=args.seed, progress=print)
    print(f"simulated dataset ({args.preset}, seed {args.seed}) written to {args.out}")
    for key, path in sorted(written.items()):
        print(f"  {key}: {path}")
    return 0


def cmd_train(args: argparse.Namespace, overrides: list[str]) -> int:
    from genodil.config import dump_config, load_config

    cfg = load_config(args.config, overrides, data_root=args.data_root)
    if args.print_config:
        print(dump_config(cfg))
        return 0
    from genodil.train.run import train

    out = args.out or Path("runs") / (Path(args.config).stem if args.config else "run")
    run_dir = train(cfg, out, resume=args.resume, progress=not args.quiet, overwrite=args.overwrite)
    from genodil.report.curves import training_summary
    from genodil.train.settings import TrainSettings

    train_kw = cfg.train.as_dict() if hasattr(cfg.train, "as_dict") else dict(cfg.train)
    settings = TrainSettings(**train_kw)
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
    scores = [s.strip() for s in args.scores.split(",") if s.strip()]
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
        scores=scores,
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
        "tracks": describe_units(loaded.track_specs, args.units, loaded.bin_size),
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
    from genodil.config import load_config
    from genodil.models import DilatedResNet

    cfg = load_config(args.config)
    kw = cfg.model.as_dict()
    tracks = cfg.data.tracks or []
    kw.update(n_tracks=max(len(tracks), 1), crop=cfg.data.crop, bin_size=cfg.data.bin_size)
    return DilatedResNet(**kw)


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
    from genodil.config import load_config
    from genodil.train.run import build_datamodule

    cfg = load_config(args.config, args.overrides or [], data_root=args.data_root)
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


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with one subparser per command."""
    parser = argparse.ArgumentParser(
        prog="genodil",
        description="Sequence-to-function models at single-base resolution: stream FASTA + "
        "bigWig, train a dilated residual CNN, predict tracks, score variants.",
        epilog="Run `genodil COMMAND --help` for a command's options and examples.\n"
        "Start with `genodil demo --out demo_out`.",
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = _add(
        sub,
        "demo",
        "simulate a small dataset, train on CPU, evaluate, predict and score variants",
        "  genodil demo --out demo_out\n",
    )
    p.add_argument("--out", default="demo_out", help="output folder")
    p.add_argument(
        "--steps",
        type=int,
        default=1320,
        help="training budget in optimiser steps (default 1320, 40 epochs of the tiny set); "
        "the same steps give the same model on any machine, a busy one just takes longer",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_demo)

    p = _add(
        sub,
        "simulate",
        "write a deterministic synthetic genome, tracks, variants and regions",
        "  genodil simulate --out data/demo --preset tiny\n"
        "  genodil simulate --out sim --preset small --seed 7\n",
    )
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--preset", default="tiny", help="tiny, small or large")
    p.set_defaults(func=cmd_simulate)

    p = _add(
        sub,
        "train",
        "train a model from a YAML run config (data, model, train sections)",
        "  genodil train --config configs/demo.yaml --out runs/demo\n"
        "  genodil train --config configs/demo.yaml --model.channels 16 --train.max_epochs 1\n"
        "  genodil train --config configs/demo.yaml --out runs/demo --resume\n"
        "  genodil train --config configs/yeast_r64.yaml \\\n"
        "      --data_root ../shared/data/real/yeast_r64\n"
        "  genodil train --config configs/demo.yaml --print_config\n"
        "Any config key can be overridden as --section.key VALUE.",
    )
    p.add_argument("--config", help="run config YAML")
    p.add_argument("--out", help="run directory (default runs/<config name>)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoints/last.ckpt")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="discard the checkpoints and config of an earlier run in OUT and start again",
    )
    p.add_argument("--data_root", "--data-root", help="folder relative data paths resolve against")
    p.add_argument(
        "--print_config",
        "--print-config",
        action="store_true",
        help="print the resolved config and exit",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)

    p = _add(
        sub,
        "evaluate",
        "per-track metrics of a checkpoint on a held-out split, with plots",
        "  genodil evaluate --checkpoint runs/demo/checkpoints/best.ckpt --out metrics.json\n"
        "  genodil evaluate --checkpoint runs/demo --split valid --plots plots/ --json\n",
    )
    p.add_argument("--checkpoint", required=True, help="checkpoint file or run directory")
    p.add_argument("--split", default="test", help="test, valid or train")
    p.add_argument("--out", help="metrics JSON to write")
    p.add_argument("--plots", help="folder for PNG plots")
    p.add_argument("--json", action="store_true", help="print the metrics as one JSON object")
    p.add_argument(
        "--data_root",
        "--data-root",
        help="folder that now holds the training data, if it moved since training",
    )
    p.add_argument("--fasta", help="FASTA to use instead of the one saved in the checkpoint")
    p.add_argument(
        "--units",
        choices=["track", "model"],
        default="track",
        help="units of the plotted tracks: the bigWigs' own (track) or the model's transformed",
    )
    p.add_argument("--bed", help="BED of annotations (e.g. TSSs) drawn as a lane under the plots")
    _device_arg(p)
    p.set_defaults(func=cmd_evaluate)

    p = _add(
        sub,
        "report",
        "one self-contained HTML page about a run: config, data, receptive field, learning "
        "curves, test metrics and plots, variant scores",
        "  genodil report runs/demo\n"
        "  genodil report runs/demo --out demo.html --metrics metrics.json --scores scores.tsv\n",
    )
    p.add_argument("run_dir", help="run directory written by `genodil train`")
    p.add_argument("--out", help="HTML file to write (a file; default RUN_DIR/report.html)")
    p.add_argument(
        "--metrics", help="metrics JSON from `genodil evaluate` (else the split is evaluated now)"
    )
    p.add_argument("--scores", help="variant-score TSV from `genodil score-variants` to summarise")
    p.add_argument("--split", default="test", choices=["test", "valid"], help="split to evaluate")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    _device_arg(p)
    p.set_defaults(func=cmd_report)

    p = _add(
        sub,
        "predict",
        "predict per-position tracks for regions and write one bigWig per track",
        "  genodil predict --checkpoint runs/demo --fasta g.fa --region chr4:0-100000 --out pred\n"
        "  genodil predict --checkpoint runs/demo --fasta g.fa --regions peaks.bed --out pred\n"
        "  genodil predict --checkpoint runs/demo --fasta g.fa --genome --out pred\n"
        "  genodil predict --checkpoint runs/demo --sequences haps.fa --out pred --npz h.npz\n",
    )
    p.add_argument("--checkpoint", required=True, help="checkpoint file or run directory")
    p.add_argument(
        "--fasta", help="reference genome FASTA (default: the one the model was trained on)"
    )
    p.add_argument("--regions", help="BED of regions (overlaps are merged)")
    p.add_argument("--region", action="append", default=[], help="chr:start-end (repeatable)")
    p.add_argument("--genome", action="store_true", help="predict every chromosome")
    p.add_argument("--sequences", help="FASTA of sequences to predict instead of the genome")
    p.add_argument("--out", required=True, help="output folder for <track>.bw")
    p.add_argument("--npz", help="also save predictions as this .npz")
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
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _device_arg(p)
    p.set_defaults(func=cmd_predict)

    p = _add(
        sub,
        "score-variants",
        "score VCF variants (SNVs, MNVs, indels): alt vs ref prediction per track",
        "  genodil score-variants --checkpoint runs/demo --fasta genome.fa --vcf variants.vcf "
        "--out scores.tsv\n"
        "  genodil score-variants --checkpoint runs/demo --fasta genome.fa --vcf v.vcf.gz "
        "--out scores.parquet --scores SAD,JSD --score-width 200 --rc-average\n",
    )
    p.add_argument("--checkpoint", required=True, help="checkpoint file or run directory")
    p.add_argument(
        "--fasta", help="reference genome FASTA (default: the one the model was trained on)"
    )
    p.add_argument("--vcf", required=True, help="VCF or bgzipped VCF")
    p.add_argument(
        "--out",
        required=True,
        help="scores file: .tsv (.tsv.gz), .parquet, or .vcf/.vcf.gz (the input VCF with "
        "per-allele scores as INFO fields)",
    )
    _units_arg(p)
    p.add_argument("--scores", default="SAD,logFC,maxabs,JSD", help="comma-separated scores")
    p.add_argument("--score-width", type=int, help="score only the central N bp")
    p.add_argument("--rc-average", action="store_true", help="average with reverse complement")
    p.add_argument(
        "--skip-edge",
        action="store_true",
        help="skip variants whose window runs past a chromosome end",
    )
    p.add_argument("--strict", action="store_true", help="any skipped variant is an error")
    p.add_argument("--save-tracks", help="save ref/alt predicted tracks to this .npz")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _device_arg(p)
    p.set_defaults(func=cmd_score_variants)

    p = _add(
        sub,
        "receptive-field",
        "receptive field, reachable offsets and gridding blind spots of a model",
        "  genodil receptive-field --config configs/demo.yaml\n"
        "  genodil receptive-field --config configs/gridding/gridded_1_4_16_64.yaml --empirical "
        "--plot rf.png\n"
        "  genodil receptive-field --checkpoint runs/demo --json\n",
    )
    p.add_argument("--config", help="run config YAML")
    p.add_argument("--checkpoint", help="checkpoint file or run directory")
    p.add_argument("--empirical", action="store_true", help="verify with input gradients")
    p.add_argument("--plot", help="PNG of sensitivity against offset")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_receptive_field)

    from genodil.interpret import command as interpret_cli

    p = _add(sub, "interpret", interpret_cli.HELP, interpret_cli.EXAMPLES)
    interpret_cli.add_interpret_arguments(p)
    p.set_defaults(func=cmd_interpret)

    p = _add(sub, "motifs", interpret_cli.MOTIFS_HELP, interpret_cli.MOTIFS_EXAMPLES)
    interpret_cli.add_motifs_arguments(p)
    p.set_defaults(func=cmd_motifs)

    p = _add(sub, "marginalize", interpret_cli.MARGINALIZE_HELP, interpret_cli.MARGINALIZE_EXAMPLES)
    interpret_cli.add_marginalize_arguments(p)
    p.set_defaults(func=cmd_marginalize)

    p = _add(sub, "explain-variants", interpret_cli.EXPLAIN_HELP, interpret_cli.EXPLAIN_EXAMPLES)
    interpret_cli.add_explain_arguments(p)
    p.set_defaults(func=cmd_explain_variants)

    p = _add(
        sub,
        "check",
        "check that a run config's FASTA, bigWigs, and any VCF/BED agree before running",
        "  genodil check --config configs/demo.yaml --vcf data/demo/variants.vcf\n",
    )
    p.add_argument("--config", required=True, help="run config YAML")
    p.add_argument("--data_root", "--data-root", help="folder relative data paths resolve against")
    p.add_argument("--vcf", action="append", default=[], help="VCF to check (repeatable)")
    p.add_argument("--bed", action="append", default=[], help="BED to check (repeatable)")
    p.set_defaults(func=cmd_check, overrides=[])

    p = _add(
        sub,
        "merge-bigwig",
        "merge bigWigs covering disjoint regions (e.g. per-chromosome predictions) into one",
        "  genodil merge-bigwig --out pred/dnase.bw chr1/dnase.bw chr2/dnase.bw\n",
    )
    p.add_argument("--out", required=True, help="merged bigWig")
    p.add_argument("inputs", nargs="+", help="input bigWigs (same FASTA)")
    p.set_defaults(func=cmd_merge_bigwig)
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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 ok, 2 bad usage or input)."""
    parser = build_parser()
    if argv is None:  # the console script: heavy commands get the tuned allocator
        _reexec_with_tuned_allocator(sys.argv[1:])
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args, extra = parser.parse_known_args(argv)
    except SystemExit as e:  # argparse already printed its usage message
        return int(e.code or 0)
    if args.version:
        import genodil

        print(genodil.__version__)
        return 0
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if args.command == "check":
        args.overrides, extra = extra, []
    if extra and args.command != "train":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    _configure_logging()
    if args.command in _HEAVY_COMMANDS:
        log.info("GLIBC_TUNABLES=%s", os.environ.get("GLIBC_TUNABLES", "(unset)"))
    func: Callable[..., int] = args.func
    try:
        return func(args, extra) if args.command == "train" else func(args)
    except InputError as e:
        print(f"genodil {args.command}: error: {e}", file=sys.stderr)
        return 2
    except ValueError as e:
        # Library functions reject bad option values with ValueError naming the allowed ones.
        if os.environ.get("GENODIL_DEBUG"):
            raise
        print(
            f"genodil {args.command}: error: {e} (run `genodil {args.command} --help`; "
            "set GENODIL_DEBUG=1 for a traceback)",
            file=sys.stderr,
        )
        return 2
    except FileNotFoundError as e:
        print(f"genodil {args.command}: error: {e.filename}: file not found", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and the like
        return 0
    except KeyboardInterrupt as e:
        detail = f"; {e}" if str(e) else ""
        print(f"genodil {args.command}: interrupted{detail}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
