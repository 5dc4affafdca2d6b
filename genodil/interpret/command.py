"""Arguments and entry point of ``genodil interpret`` (the CLI module delegates here)."""

from __future__ import annotations

import argparse
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
    p.add_argument("--checkpoint", required=True, help="checkpoint file or run directory")
    p.add_argument("--fasta", help="reference FASTA (default: the one the model was trained on)")
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
    p.add_argument("--n-shuffles", type=int, default=20, help="DeepLIFT/SHAP references")
    p.add_argument("--seed", type=int, default=0, help="seed of the shuffled references")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--batch-size", type=int, default=64, help="sequences per forward pass")
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
    fasta = args.fasta or loaded.data.get("fasta")
    if not fasta:
        raise InputError("give --fasta: the checkpoint does not name its reference FASTA")
    if not Path(fasta).exists():
        raise InputError(f"FASTA {fasta} (from the checkpoint) does not exist; give --fasta")
    genome = Genome(fasta)
    if args.regions is not None:
        return genome, tiles.regions_from_bed(args.regions)
    return genome, tiles.regions_from_strings(args.region)


def cmd_interpret(args: argparse.Namespace) -> int:
    """Run ``genodil interpret``; prints the written paths."""
    from genodil.interpret.run import interpret_regions
    from genodil.train.io import load_model

    for name in ("batch_size", "n_shuffles"):
        if getattr(args, name) < 1:
            raise InputError(f"--{name.replace('_', '-')} must be >= 1")
    loaded = load_model(args.checkpoint)
    genome, regions = _source(args, loaded)
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
    "  genodil motifs --checkpoint runs/yeast --regions peaks.bed --track mnase --jaspar fungi "
    "--out motifs\n"
)


def add_motifs_arguments(p: argparse.ArgumentParser) -> None:
    """Add ``genodil motifs``' options to ``p``."""
    p.add_argument("--checkpoint", required=True, help="checkpoint file or run directory")
    p.add_argument("--fasta", help="reference FASTA (default: the one the model was trained on)")
    src = p.add_argument_group("regions (exactly one)")
    src.add_argument("--regions", help="BED file of regions to explain")
    src.add_argument(
        "--top-peaks", type=int, help="the N highest observed peaks of --track on test chromosomes"
    )
    p.add_argument("--peak-width", type=int, default=400, help="bp per --top-peaks region")
    p.add_argument("--track", help="explained track (default: the model's first)")
    db = p.add_argument_group("motif database (exactly one)")
    db.add_argument("--motifs", help="MEME file of known motifs")
    db.add_argument("--jaspar", help="JASPAR CORE taxon from pyjaspar's bundled copy, e.g. fungi")
    p.add_argument("--flank", type=int, default=0, help="bp attributed beyond each region side")
    p.add_argument("--n-shuffles", type=int, default=20, help="DeepLIFT/SHAP references")
    p.add_argument("--max-seqlets", type=int, default=2000, help="TF-MoDISco seqlets per sign")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--batch-size", type=int, default=64, help="sequences per forward pass")
    p.add_argument("--rc-average", action="store_true", help="explain the strand average")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier run's outputs")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


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
    db = load_motif_db(args.motifs, args.jaspar)
    loaded = load_model(args.checkpoint)
    track = args.track or loaded.track_names[0]
    if track not in loaded.track_names:
        raise InputError(f"--track {track!r} is not a track of this model: {loaded.track_names}")
    fasta = args.fasta or loaded.data.get("fasta")
    if not fasta or not Path(fasta).exists():
        raise InputError(f"reference FASTA {fasta} not found; give --fasta")
    genome = Genome(fasta)
    if args.regions is not None:
        regions = tiles.regions_from_bed(args.regions)
    else:
        regions = top_peaks(loaded, genome, args.top_peaks, track, args.peak_width)
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
