"""Arguments and entry point of ``genodil interpret`` (the CLI module delegates here)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from genodil.errors import InputError

__all__ = ["add_interpret_arguments", "cmd_interpret"]

HELP = (
    "which input bases drive a prediction: ISM, gradient x input or DeepLIFT/SHAP, written "
    "as modisco-ready arrays, contribution bigWigs and logos"
)
EXAMPLES = (
    "  genodil interpret --checkpoint runs/demo --region chr4:1000-1200 --out interp\n"
    "  genodil interpret --checkpoint runs/demo --regions peaks.bed --method deepliftshap "
    "--track local --out interp\n"
    "  genodil interpret --checkpoint runs/demo --sequences designed.fa --method ism --out interp\n"
)


def add_interpret_arguments(p: argparse.ArgumentParser) -> None:
    """Add ``genodil interpret``'s options to ``p``."""
    _add_model_options(p)
    src = p.add_argument_group("what to explain (exactly one)")
    src.add_argument("--region", action="append", default=[], help="chr:start-end (repeatable)")
    src.add_argument("--regions", help="BED file of regions")
    src.add_argument("--sequences", help="FASTA of sequences; each record is explained whole")
    p.add_argument(
        "--method",
        default="deepliftshap",
        choices=["ism", "gradxinput", "deepliftshap", "saliency"],
        help="attribution method; saliency is an alias of gradxinput (gradient x input)",
    )
    p.add_argument(
        "--track",
        action="append",
        help="track to explain (repeatable); 'all' explains their sum (default: each track)",
    )
    p.add_argument(
        "--objective",
        default="sum",
        choices=["sum", "profile", "counts"],
        help="explained scalar: signal summed over the region's outputs; for profile_count "
        "heads also BPNet's profile-weighted logits or the total log counts",
    )
    p.add_argument("--flank", type=int, default=100, help="bp attributed beyond each side")
    p.add_argument("--seed", type=int, default=0, help="seed of the shuffled references")
    _add_run_options(p)


def _add_model_options(p: argparse.ArgumentParser) -> None:
    """The checkpoint and FASTA options that interpret and motifs share."""
    p.add_argument("--checkpoint", required=True, help="checkpoint file or run directory")
    p.add_argument("--fasta", help="reference FASTA (default: the one the model was trained on)")


def _add_run_options(p: argparse.ArgumentParser) -> None:
    """The attribution-run and output options that interpret and motifs share."""
    p.add_argument("--n-shuffles", type=int, default=20, help="DeepLIFT/SHAP references")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument(
        "--batch-size",
        type=int,
        help="windows per forward pass (default: as many as keep about 2 GiB of activations "
        "for the backward pass, at most 64)",
    )
    p.add_argument("--rc-average", action="store_true", help="explain the strand average")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier run's outputs")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _source(args: argparse.Namespace, loaded):
    """The genome and region table asked for on the command line."""
    from genodil.genome.io import Genome
    from genodil.predict import tiles

    given = [bool(args.region), args.regions is not None, args.sequences is not None]
    if sum(given) != 1:
        raise InputError("give exactly one of --region, --regions BED or --sequences FASTA")
    if args.sequences is not None:
        genome = Genome(args.sequences)
        return genome, tiles.whole_genome_regions(genome)
    genome = Genome(loaded.genome_fasta(args.fasta))
    if args.regions is not None:
        return genome, tiles.regions_from_bed(args.regions)
    return genome, tiles.regions_from_strings(args.region)


def _batch_size(args: argparse.Namespace, loaded) -> int:
    """``--batch-size``, or the memory-bounded default for this model's window."""
    from genodil.predict.runner import auto_batch_size

    if args.batch_size is not None:
        return args.batch_size
    batch = auto_batch_size(loaded.model, loaded.window)
    if not args.quiet:
        print(
            f"batch size {batch} (about 2 GiB of activations; set --batch-size to change)",
            file=sys.stderr,
        )
    return batch


def cmd_interpret(args: argparse.Namespace) -> int:
    """Run ``genodil interpret``; prints the written paths."""
    from genodil.interpret.run import interpret_regions
    from genodil.train.io import load_model

    for name in ("batch_size", "n_shuffles"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise InputError(f"--{name.replace('_', '-')} must be >= 1")
    loaded = load_model(args.checkpoint)
    genome, regions = _source(args, loaded)
    args.batch_size = _batch_size(args, loaded)
    written = interpret_regions(
        loaded,
        genome,
        regions,
        args.out,
        method=args.method,
        tracks=args.track,
        flank=args.flank,
        form=args.objective,
        batch_size=args.batch_size,
        device=args.device,
        rc_average=args.rc_average,
        n_shuffles=args.n_shuffles,
        seed=args.seed,
        progress=not args.quiet,
        overwrite=args.overwrite,
    )
    for key, path in written.items():
        print(f"{key}: {path}")
    return 0


MOTIFS_HELP = (
    "motif discovery: DeepLIFT/SHAP over regions or top peaks, TF-MoDISco patterns, Tomtom "
    "matches against a MEME file or JASPAR (offline)"
)
MOTIFS_EXAMPLES = (
    "  genodil motifs --checkpoint runs/demo --top-peaks 500 --track local "
    "--motifs data/demo/motifs.meme --out motifs\n"
    "  genodil motifs --checkpoint runs/demo --top-peaks 300 --peaks-from predicted "
    "--jaspar vertebrates --out motifs\n"
    "  genodil motifs --checkpoint runs/yeast --regions peaks.bed --track mnase --jaspar fungi "
    "--out motifs\n"
)


def add_motifs_arguments(p: argparse.ArgumentParser) -> None:
    """Add ``genodil motifs``' options to ``p``."""
    _add_model_options(p)
    src = p.add_argument_group("regions (exactly one)")
    src.add_argument("--regions", help="BED file of regions to explain")
    src.add_argument(
        "--top-peaks",
        type=int,
        help="the N highest peaks of --track on the checkpoint's test chromosomes",
    )
    p.add_argument(
        "--peaks-from",
        default="observed",
        choices=["observed", "predicted"],
        help="--top-peaks from the track's observed bigWig or from the model's prediction",
    )
    p.add_argument("--peak-width", type=int, default=400, help="bp per --top-peaks region")
    p.add_argument("--track", help="explained track (default: the model's first)")
    db = p.add_argument_group("motif database (exactly one)")
    db.add_argument("--motifs", help="MEME file of known motifs")
    db.add_argument("--jaspar", help="JASPAR CORE taxon from pyjaspar's bundled copy, e.g. fungi")
    p.add_argument("--flank", type=int, default=0, help="bp attributed beyond each region side")
    p.add_argument("--max-seqlets", type=int, default=2000, help="TF-MoDISco seqlets per sign")
    _add_run_options(p)


def cmd_motifs(args: argparse.Namespace) -> int:
    """Run ``genodil motifs``; prints the written paths and the pattern table."""
    from genodil.genome.io import Genome
    from genodil.interpret.motifs import discover_motifs, load_motif_db, top_peaks
    from genodil.predict import tiles
    from genodil.train.io import load_model

    if (args.regions is None) == (args.top_peaks is None):
        raise InputError("give exactly one of --regions BED or --top-peaks N")
    if args.top_peaks is not None and args.top_peaks < 1:
        raise InputError("--top-peaks must be >= 1")
    if args.batch_size is not None and args.batch_size < 1:
        raise InputError("--batch-size must be >= 1")
    db = load_motif_db(args.motifs, args.jaspar)
    loaded = load_model(args.checkpoint)
    args.batch_size = _batch_size(args, loaded)
    track = args.track or loaded.track_names[0]
    if track not in loaded.track_names:
        raise InputError(f"--track {track!r} is not a track of this model: {loaded.track_names}")
    genome = Genome(loaded.genome_fasta(args.fasta))
    if args.regions is not None:
        regions = tiles.regions_from_bed(args.regions)
    else:
        regions = top_peaks(
            loaded,
            genome,
            args.top_peaks,
            track,
            args.peak_width,
            source=args.peaks_from,
            workdir=args.out,
            batch_size=args.batch_size,
            device=args.device,
            rc_average=args.rc_average,
        )
    written = discover_motifs(
        loaded,
        genome,
        regions,
        args.out,
        db,
        track=track,
        flank=args.flank,
        n_shuffles=args.n_shuffles,
        batch_size=args.batch_size,
        device=args.device,
        rc_average=args.rc_average,
        max_seqlets=args.max_seqlets,
        progress=not args.quiet,
        overwrite=args.overwrite,
    )
    for key, path in written.items():
        print(f"{key}: {path}")
    print(Path(written["patterns"]).read_text(), end="")
    return 0


MARGINALIZE_HELP = (
    "in-silico marginalization: the mean predicted change per track and position when a motif "
    "is inserted into background windows (optionally a second motif at several spacings)"
)
MARGINALIZE_EXAMPLES = (
    "  genodil marginalize --checkpoint runs/demo --motif GATGACTCATC --n 200 --out marg\n"
    "  genodil marginalize --checkpoint runs/demo --meme motifs.meme --background genomic "
    "--out marg\n"
    "  genodil marginalize --checkpoint runs/demo --motif GATAAG --second-motif CACGTG "
    "--spacing 10,20,40,80 --out coop\n"
)


def add_marginalize_arguments(p: argparse.ArgumentParser) -> None:
    """Add ``genodil marginalize``'s options to ``p``."""
    p.add_argument("--checkpoint", required=True, help="checkpoint file or run directory")
    p.add_argument("--fasta", help="genome the backgrounds come from (default: the model's)")
    which = p.add_argument_group("motif (exactly one)")
    which.add_argument("--motif", help="consensus sequence, e.g. GATGACTCATC")
    which.add_argument("--meme", help="MEME file: each motif's most probable sequence")
    p.add_argument("--n", type=int, default=200, help="background windows")
    p.add_argument(
        "--background",
        default="shuffled",
        choices=["shuffled", "genomic"],
        help="background windows: shuffled genome sequence, or genome windows as they are",
    )
    p.add_argument("--second-motif", help="second motif for --spacing")
    p.add_argument("--spacing", help="comma-separated centre-to-centre distances in bp")
    p.add_argument("--seed", type=int, default=0, help="seed of the background draw")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--batch-size", type=int, default=32, help="windows per forward pass")
    p.add_argument("--rc-average", action="store_true", help="average both strands")
    p.add_argument("--out", required=True, help="output folder")


def _motif_list(args) -> dict[str, str]:
    if (args.motif is None) == (args.meme is None):
        raise InputError("give exactly one of --motif CONSENSUS or --meme FILE")
    if args.motif is not None:
        return {args.motif.upper(): args.motif}
    from genodil.interpret.motifs import load_motif_db

    db = load_motif_db(meme=args.meme)
    return {name.split()[0]: "".join("ACGT"[i] for i in m.argmax(0)) for name, m in db.items()}


def cmd_marginalize(args: argparse.Namespace) -> int:
    """Run ``genodil marginalize``; writes marginalize.tsv, profiles and plots."""
    from genodil.genome.io import Genome
    from genodil.interpret import marginalize as marg
    from genodil.interpret.marginalize import write_marginalize
    from genodil.train.io import load_model

    if args.n < 1:
        raise InputError("--n must be >= 1")
    motifs = _motif_list(args)
    loaded = load_model(args.checkpoint)
    test = list(loaded.data.get("splits", {}).get("test", [])) or None
    bg = marg.background_windows(
        Genome(loaded.genome_fasta(args.fasta)),
        args.n,
        loaded.window,
        args.background,
        test,
        args.seed,
    )
    run = {"batch_size": args.batch_size, "device": args.device, "rc_average": args.rc_average}
    run["track_specs"] = loaded.track_specs  # report changes in the tracks' own units
    results = [marg.marginalize(loaded.model, bg, m, **run) for m in motifs.values()]
    spacing = None
    if args.spacing:
        if not args.second_motif or len(motifs) != 1:
            raise InputError("--spacing needs --motif and --second-motif")
        try:
            dists = [int(d) for d in args.spacing.split(",")]
        except ValueError:
            raise InputError(f"--spacing {args.spacing!r}: give integers like 10,20,40") from None
        spacing = marg.spacing_effects(
            loaded.model, bg, args.motif, args.second_motif, dists, **run
        )
    written = write_marginalize(Path(args.out), list(motifs), results, loaded, spacing)
    for key, path in written.items():
        print(f"{key}: {path}")
    return 0


EXPLAIN_HELP = (
    "explain the top variants by |SAD|: ref/alt predicted tracks, ref/alt attribution logos "
    "over +-50 bp and, with a motif database, the motif each variant breaks or creates"
)
EXPLAIN_EXAMPLES = (
    "  genodil explain-variants --checkpoint runs/demo --vcf data/demo/variants.vcf --top 5 "
    "--track local --motifs motifs.meme --out explain\n"
)


def add_explain_arguments(p: argparse.ArgumentParser) -> None:
    """Add ``genodil explain-variants``' options to ``p``."""
    p.add_argument("--checkpoint", required=True, help="checkpoint file or run directory")
    p.add_argument("--vcf", required=True, help="VCF of variants to score and explain")
    p.add_argument("--fasta", help="reference FASTA (default: the one the model was trained on)")
    p.add_argument("--top", type=int, default=10, help="variants explained, by |SAD|")
    p.add_argument("--track", help="track ranked and explained (default: the model's first)")
    db = p.add_mutually_exclusive_group()
    db.add_argument("--motifs", help="MEME file to name broken or created motifs")
    db.add_argument("--jaspar", help="JASPAR CORE taxon (offline) instead of --motifs")
    p.add_argument(
        "--method",
        default="gradxinput",
        choices=["gradxinput", "deepliftshap"],
        help="attribution method: gradient x input, or DeepLIFT/SHAP",
    )
    p.add_argument("--span", type=int, default=100, help="explain outputs within +-span bp")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--batch-size", type=int, default=16, help="windows per forward pass")
    p.add_argument("--rc-average", action="store_true", help="average both strands")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def cmd_explain_variants(args: argparse.Namespace) -> int:
    """Run ``genodil explain-variants``; prints the explanation table."""
    from genodil.genome.io import Genome
    from genodil.genome.vcf import read_vcf
    from genodil.interpret.explain import explain_variants
    from genodil.interpret.motifs import load_motif_db
    from genodil.train.io import load_model

    if args.top < 1 or args.span < 1:
        raise InputError("--top and --span must be >= 1")
    db = load_motif_db(args.motifs, args.jaspar) if (args.motifs or args.jaspar) else None
    loaded = load_model(args.checkpoint)
    written = explain_variants(
        loaded,
        Genome(loaded.genome_fasta(args.fasta)),
        read_vcf(args.vcf),
        args.out,
        top=args.top,
        track=args.track,
        db=db,
        method=args.method,
        span=args.span,
        batch_size=args.batch_size,
        device=args.device,
        rc_average=args.rc_average,
        progress=not args.quiet,
    )
    print(Path(written["table"]).read_text(), end="")
    print(f"figures and table written to {args.out}")
    return 0
