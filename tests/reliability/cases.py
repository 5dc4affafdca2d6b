"""The bad-input catalogue: each case builds a real bad file or fault and the CLI call to run.

A case's ``make(ws, shared)`` writes what it needs under the empty folder ``ws`` and returns a
:class:`Run`: the arguments, the exit code expected (2, or 130 for a signal) and strings the
error message must contain (the offending file, key or line). test_catalogue.py runs each
through ``python -m genodil.cli`` and also checks that no traceback is printed and that no
file appears, disappears or changes under ``ws`` or the shared inputs.
"""

from __future__ import annotations

import gzip
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import yaml

from tests.helpers import write_bed, write_bigwig, write_fasta, write_vcf
from tests.reliability.conftest import SIZES, Shared, tiny_config, write_data


@dataclass
class Run:
    """One CLI call and what its failure must look like."""

    args: list[str]
    expect: list[str]
    code: int = 2
    fsize: int | None = None  # RLIMIT_FSIZE in bytes: writes past it fail (a full disk)
    read_only: Path | None = None  # folder made read-only during the call
    # A folder where the run may leave files (a train run's config and logs), provided none
    # is a checkpoint or a temporary file.
    may_write: Path | None = None


@dataclass
class Case:
    """A catalogue entry; ``xfail`` names an open issue the case still trips."""

    id: str
    category: str
    command: str
    make: Callable[[Path, Shared], Run]
    xfail: str | None = None
    marks: list = field(default_factory=list)


CASES: list[Case] = []


def case(category: str, command: str, xfail: str | None = None):
    """Register the decorated ``make`` function as a case named after it."""

    def add(fn: Callable[[Path, Shared], Run]) -> Callable[[Path, Shared], Run]:
        CASES.append(Case(fn.__name__, category, command, fn, xfail))
        return fn

    return add


# --------------------------------------------------------------------------- helpers


def _predict(shared: Shared, ws: Path, *extra: str, ckpt: Path | None = None) -> list[str]:
    ckpt = ckpt or shared.ckpt
    return ["predict", "--checkpoint", str(ckpt), "--out", str(ws / "pred"), "--quiet", *extra]


def _score(shared: Shared, ws: Path, *extra: str, vcf: Path | None = None, **kw) -> list[str]:
    ckpt = kw.get("ckpt") or shared.ckpt
    fasta = kw.get("fasta") or shared.fasta
    out = kw.get("out") or ws / "scores.tsv"
    return [
        "score-variants",
        "--checkpoint",
        str(ckpt),
        "--fasta",
        str(fasta),
        "--vcf",
        str(vcf or shared.vcf),
        "--out",
        str(out),
        "--quiet",
        *extra,
    ]


def _ckpt_dict(shared: Shared) -> dict:
    return torch.load(shared.ckpt, map_location="cpu", weights_only=True)


def _save(obj, path: Path) -> Path:
    torch.save(obj, path)
    return path


def _train(ws: Path, cfg: dict, *extra: str) -> list[str]:
    path = ws / "run.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return ["train", "--config", str(path), "--out", str(ws / "run"), "--quiet", *extra]


def _data(ws: Path) -> Path:
    write_data(ws / "data")
    return ws / "data"


def _vcf_line(ws: Path, line: str) -> Path:
    path = ws / "bad.vcf"
    path.write_text(
        "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        "c1\t100\tok\tA\tC\t.\t.\t.\n" + line + "\n"
    )
    return path


# --------------------------------------------------------------------------- checkpoints


@case("checkpoint", "predict")
def predict_checkpoint_missing(ws, shared):
    return Run(
        _predict(
            shared, ws, "--fasta", str(shared.fasta), "--region", "c1:0-500", ckpt=ws / "nope.ckpt"
        ),
        [str(ws / "nope.ckpt"), "does not exist"],
    )


@case("checkpoint", "predict")
def predict_checkpoint_text_file(ws, shared):
    bad = ws / "model.ckpt"
    bad.write_text("not a checkpoint\n" * 20)
    return Run(
        _predict(shared, ws, "--fasta", str(shared.fasta), "--region", "c1:0-500", ckpt=bad),
        [str(bad), "not a PyTorch checkpoint"],
    )


@case("checkpoint", "predict")
def predict_checkpoint_truncated(ws, shared):
    bad = ws / "model.ckpt"
    data = shared.ckpt.read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    return Run(
        _predict(shared, ws, "--fasta", str(shared.fasta), "--region", "c1:0-500", ckpt=bad),
        [str(bad), "truncated"],
    )


@case("checkpoint", "predict")
def predict_checkpoint_empty_file(ws, shared):
    bad = ws / "model.ckpt"
    bad.write_bytes(b"")
    return Run(
        _predict(shared, ws, "--fasta", str(shared.fasta), "--region", "c1:0-500", ckpt=bad),
        [str(bad)],
    )


@case("checkpoint", "predict")
def predict_checkpoint_without_state_dict(ws, shared):
    ckpt = _ckpt_dict(shared)
    del ckpt["state_dict"]
    bad = _save(ckpt, ws / "model.ckpt")
    return Run(
        _predict(shared, ws, "--fasta", str(shared.fasta), "--region", "c1:0-500", ckpt=bad),
        [str(bad), "state_dict"],
    )


@case("checkpoint", "predict")
def predict_checkpoint_weights_do_not_match_spec(ws, shared):
    ckpt = _ckpt_dict(shared)
    ckpt["genodil"]["model"]["channels"] = 8
    bad = _save(ckpt, ws / "model.ckpt")
    return Run(
        _predict(shared, ws, "--fasta", str(shared.fasta), "--region", "c1:0-500", ckpt=bad),
        [str(bad), "weights do not fit"],
    )


@case("checkpoint", "predict")
def predict_checkpoint_mismatched_track_names(ws, shared):
    ckpt = _ckpt_dict(shared)
    ckpt["genodil"]["track_names"] = ["a", "b", "c"]
    bad = _save(ckpt, ws / "model.ckpt")
    return Run(
        _predict(shared, ws, "--fasta", str(shared.fasta), "--region", "c1:0-500", ckpt=bad),
        [str(bad), "track names ['a', 'b', 'c']"],
    )


@case("checkpoint", "predict")
def predict_checkpoint_not_genodil(ws, shared):
    bad = _save({"state_dict": {"w": torch.zeros(2)}}, ws / "model.ckpt")
    return Run(
        _predict(shared, ws, "--fasta", str(shared.fasta), "--region", "c1:0-500", ckpt=bad),
        [str(bad), "not a genodil checkpoint"],
    )


@case("checkpoint", "predict")
def predict_checkpoint_unsafe_pickle(ws, shared):
    bad = ws / "model.ckpt"
    torch.save({"genodil": {"model": {}}, "obj": Path("x")}, bad)
    return Run(
        _predict(shared, ws, "--fasta", str(shared.fasta), "--region", "c1:0-500", ckpt=bad),
        [str(bad), "safe load refuses"],
    )


@case("checkpoint", "predict")
def predict_run_dir_without_checkpoints(ws, shared):
    (ws / "emptyrun").mkdir()
    return Run(
        _predict(
            shared, ws, "--fasta", str(shared.fasta), "--region", "c1:0-500", ckpt=ws / "emptyrun"
        ),
        [str(ws / "emptyrun"), "best.ckpt"],
    )


@case("checkpoint", "score-variants")
def score_checkpoint_truncated(ws, shared):
    bad = ws / "model.ckpt"
    data = shared.ckpt.read_bytes()
    bad.write_bytes(data[:4000])
    return Run(_score(shared, ws, ckpt=bad), [str(bad), "truncated"])


@case("checkpoint", "evaluate")
def evaluate_checkpoint_text_file(ws, shared):
    bad = ws / "model.ckpt"
    bad.write_text("hello\n")
    return Run(["evaluate", "--checkpoint", str(bad)], [str(bad), "not a PyTorch checkpoint"])


@case("checkpoint", "interpret")
def interpret_checkpoint_without_state_dict(ws, shared):
    ckpt = _ckpt_dict(shared)
    del ckpt["state_dict"]
    bad = _save(ckpt, ws / "model.ckpt")
    return Run(
        [
            "interpret",
            "--checkpoint",
            str(bad),
            "--fasta",
            str(shared.fasta),
            "--region",
            "c1:1000-1100",
            "--out",
            str(ws / "interp"),
        ],
        [str(bad), "state_dict"],
    )


@case("checkpoint", "receptive-field")
def receptive_field_checkpoint_truncated(ws, shared):
    bad = ws / "model.ckpt"
    bad.write_bytes(shared.ckpt.read_bytes()[:3000])
    return Run(["receptive-field", "--checkpoint", str(bad)], [str(bad), "truncated"])


# --------------------------------------------------------------------------- FASTA


def _predict_fasta(ws, shared, fasta: Path, region: str = "c1:0-500") -> list[str]:
    return _predict(shared, ws, "--fasta", str(fasta), "--region", region)


@case("fasta", "predict")
def predict_fasta_missing(ws, shared):
    return Run(_predict_fasta(ws, shared, ws / "g.fa"), [str(ws / "g.fa"), "does not exist"])


@case("fasta", "predict")
def predict_fasta_plain_gzip(ws, shared):
    gz = ws / "g.fa.gz"
    with open(shared.fasta, "rb") as fh, gzip.open(gz, "wb") as out:
        shutil.copyfileobj(fh, out)
    return Run(_predict_fasta(ws, shared, gz), [str(gz), "bgzip", "samtools faidx", "gunzip"])


@case("fasta", "predict")
def predict_fasta_duplicate_names(ws, shared):
    fa = ws / "dup.fa"
    fa.write_text(">c1\n" + "ACGT" * 200 + "\n>c1\n" + "ACGT" * 100 + "\n")
    return Run(_predict_fasta(ws, shared, fa), [str(fa), "two sequences named 'c1'"])


@case("fasta", "predict")
def predict_fasta_without_index_in_read_only_folder(ws, shared):
    folder = ws / "ro"
    folder.mkdir()
    fa = write_fasta(folder / "g.fa", {"c1": "ACGT" * 500}, index=False)
    return Run(_predict_fasta(ws, shared, fa), [str(fa), "samtools faidx"], read_only=folder)


@case("fasta", "predict")
def predict_fasta_stale_index_in_read_only_folder(ws, shared):
    folder = ws / "ro"
    folder.mkdir()
    fa = write_fasta(folder / "g.fa", {"c1": "ACGT" * 500}, width=60)
    write_fasta(fa, {"c1": "ACGT" * 500}, width=80, index=False)
    return Run(_predict_fasta(ws, shared, fa), [str(fa) + ".fai", "is stale"], read_only=folder)


@case("fasta", "predict")
def predict_fasta_bad_index_line(ws, shared):
    fa = write_fasta(ws / "g.fa", {"c1": "ACGT" * 500})
    (ws / "g.fa.fai").write_text("c1\tlots\n")
    return Run(_predict_fasta(ws, shared, fa), [str(ws / "g.fa.fai"), "line 1"])


@case("fasta", "predict")
def predict_fasta_is_binary(ws, shared):
    fa = ws / "g.fa"
    fa.write_bytes(bytes(range(256)) * 10)
    return Run(_predict_fasta(ws, shared, fa), [str(fa)])


@case("fasta", "predict")
def predict_fasta_is_a_directory(ws, shared):
    (ws / "g.fa").mkdir()
    return Run(_predict_fasta(ws, shared, ws / "g.fa"), [str(ws / "g.fa"), "not a file"])


@case("fasta", "score-variants")
def score_fasta_bzip2(ws, shared):
    import bz2

    fa = ws / "g.fa.bz2"
    fa.write_bytes(bz2.compress(shared.fasta.read_bytes()))
    return Run(_score(shared, ws, fasta=fa), [str(fa), "bzip2-compressed"])


@case("fasta", "interpret")
def interpret_fasta_duplicate_names(ws, shared):
    fa = ws / "dup.fa"
    fa.write_text(">c1\nACGT\n>c2\nACGT\n>c2\nAC\n")
    return Run(
        [
            "interpret",
            "--checkpoint",
            str(shared.ckpt),
            "--fasta",
            str(fa),
            "--region",
            "c1:0-2",
            "--out",
            str(ws / "interp"),
        ],
        [str(fa), "two sequences named 'c2'"],
    )


# --------------------------------------------------------------------------- regions and BED


@case("regions", "predict")
def predict_region_bad_syntax(ws, shared):
    return Run(_predict_fasta(ws, shared, shared.fasta, "c1:100_200"), ["c1:100_200"])


@case("regions", "predict")
def predict_region_end_before_start(ws, shared):
    return Run(_predict_fasta(ws, shared, shared.fasta, "c1:500-100"), ["c1:500-100"])


@case("regions", "predict")
def predict_region_unknown_chromosome(ws, shared):
    return Run(
        _predict_fasta(ws, shared, shared.fasta, "chrX:0-100"), ["'chrX'", str(shared.fasta)]
    )


@case("regions", "predict")
def predict_region_past_chromosome_end(ws, shared):
    return Run(
        _predict_fasta(ws, shared, shared.fasta, "c2:5000-5100"), ["c2:5000-5100", "past the end"]
    )


def _predict_bed(ws, shared, rows) -> tuple[list[str], Path]:
    bed = write_bed(ws / "regions.bed", rows)
    return _predict(shared, ws, "--fasta", str(shared.fasta), "--regions", str(bed)), bed


@case("regions", "predict")
def predict_bed_unknown_chromosome(ws, shared):
    args, bed = _predict_bed(ws, shared, [("c1", 0, 100), ("chrZ", 0, 100)])
    return Run(args, [str(bed), "line 2", "chrZ"])


@case("regions", "predict")
def predict_bed_start_past_end_of_chromosome(ws, shared):
    args, bed = _predict_bed(ws, shared, [("c1", 0, 100), ("c2", 9000, 9100)])
    return Run(args, [str(bed), "line 2", "c2"])


@case("regions", "predict")
def predict_bed_start_after_end(ws, shared):
    args, bed = _predict_bed(ws, shared, [("c1", 500, 100)])
    return Run(args, [str(bed), "line 1"])


@case("regions", "predict")
def predict_bed_non_integer(ws, shared):
    args, bed = _predict_bed(ws, shared, [("c1", "1e3", 2000)])
    return Run(args, [str(bed), "line 1", "integers"])


@case("regions", "predict")
def predict_bed_two_columns(ws, shared):
    args, bed = _predict_bed(ws, shared, [("c1", 100)])
    return Run(args, [str(bed), "line 1", "3"])


@case("regions", "predict")
def predict_bed_empty(ws, shared):
    bed = ws / "regions.bed"
    bed.write_text("# nothing\n")
    return Run(
        _predict(shared, ws, "--fasta", str(shared.fasta), "--regions", str(bed)),
        [str(bed), "no intervals"],
    )


@case("regions", "predict")
def predict_bed_missing(ws, shared):
    bed = ws / "regions.bed"
    return Run(
        _predict(shared, ws, "--fasta", str(shared.fasta), "--regions", str(bed)),
        [str(bed), "does not exist"],
    )


@case("regions", "interpret")
def interpret_region_past_chromosome_end(ws, shared):
    return Run(
        [
            "interpret",
            "--checkpoint",
            str(shared.ckpt),
            "--fasta",
            str(shared.fasta),
            "--region",
            "c2:2950-3050",
            "--out",
            str(ws / "interp"),
        ],
        ["c2:2950-3050", "outside c2"],
    )


@case("regions", "interpret")
def interpret_unknown_track(ws, shared):
    return Run(
        [
            "interpret",
            "--checkpoint",
            str(shared.ckpt),
            "--fasta",
            str(shared.fasta),
            "--region",
            "c1:1000-1100",
            "--track",
            "nope",
            "--out",
            str(ws / "interp"),
        ],
        ["'nope'"],
    )


@case("regions", "check")
def check_bed_with_unknown_chromosomes(ws, shared):
    bed = write_bed(ws / "r.bed", [("chr1", 0, 10)])
    return Run(["check", "--config", str(shared.config), "--bed", str(bed)], [str(bed), "chr1"])


# --------------------------------------------------------------------------- VCF


@case("vcf", "score-variants")
def score_vcf_pos_overflow(ws, shared):
    vcf = _vcf_line(ws, "c1\t" + "1" + "0" * 30 + "\tbig\tA\tC\t.\t.\t.")
    return Run(_score(shared, ws, vcf=vcf), [str(vcf), "line 4", "POS"])


@case("vcf", "check")
def check_vcf_pos_overflow(ws, shared):
    vcf = _vcf_line(ws, "c1\t" + "9" * 25 + "\tbig\tA\tC\t.\t.\t.")
    return Run(["check", "--config", str(shared.config), "--vcf", str(vcf)], [str(vcf), "line 4"])


@case("vcf", "score-variants")
def score_vcf_missing(ws, shared):
    return Run(_score(shared, ws, vcf=ws / "v.vcf"), [str(ws / "v.vcf"), "does not exist"])


@case("vcf", "score-variants")
def score_vcf_binary(ws, shared):
    vcf = ws / "v.vcf"
    vcf.write_bytes(b"\x00\xff\xfe" * 100)
    return Run(_score(shared, ws, vcf=vcf), [str(vcf)])


@case("vcf", "score-variants")
def score_vcf_spaces_not_tabs(ws, shared):
    vcf = _vcf_line(ws, "c1 200 x A C . . .")
    return Run(_score(shared, ws, vcf=vcf), [str(vcf), "line 4", "tab"])


@case("vcf", "score-variants")
def score_vcf_pos_not_integer(ws, shared):
    vcf = _vcf_line(ws, "c1\t2e3\tx\tA\tC\t.\t.\t.")
    return Run(_score(shared, ws, vcf=vcf), [str(vcf), "line 4", "'2e3'"])


@case("vcf", "score-variants")
def score_vcf_pos_zero(ws, shared):
    vcf = _vcf_line(ws, "c1\t0\tx\tA\tC\t.\t.\t.")
    return Run(_score(shared, ws, vcf=vcf), [str(vcf), "line 4", "POS 0"])


@case("vcf", "score-variants")
def score_vcf_bad_ref_letters(ws, shared):
    vcf = _vcf_line(ws, "c1\t200\tx\tAZ\tC\t.\t.\t.")
    return Run(_score(shared, ws, vcf=vcf), [str(vcf), "line 4", "REF"])


@case("vcf", "score-variants")
def score_vcf_empty_alt_allele(ws, shared):
    vcf = _vcf_line(ws, "c1\t200\tx\tA\tC,\t.\t.\t.")
    return Run(_score(shared, ws, vcf=vcf), [str(vcf), "line 4", "ALT"])


@case("vcf", "score-variants")
def score_vcf_truncated_gzip(ws, shared):
    vcf = ws / "v.vcf.gz"
    data = gzip.compress(_vcf_line(ws, "c1\t200\tx\tA\tC\t.\t.\t.").read_bytes() * 50)
    (ws / "bad.vcf").unlink()
    vcf.write_bytes(data[: len(data) // 2])
    return Run(_score(shared, ws, vcf=vcf), [str(vcf)])


@case("vcf", "score-variants")
def score_unknown_score_name(ws, shared):
    return Run(_score(shared, ws, "--scores", "SAD,bogus"), ["bogus"])


@case("vcf", "score-variants")
def score_strict_with_unknown_chromosome(ws, shared):
    vcf = write_vcf(ws / "v.vcf", [("chrQ", 100, "q", "A", "C")])
    return Run(_score(shared, ws, "--strict", vcf=vcf), ["chrQ"])


# --------------------------------------------------------------------------- tracks and data


@case("data", "train")
def train_track_bigwig_missing(ws, shared):
    data = _data(ws)
    (data / "b.bw").unlink()
    return Run(_train(ws, tiny_config(data)), [str(data / "b.bw"), "does not exist"])


@case("data", "train")
def train_track_not_a_bigwig(ws, shared):
    data = _data(ws)
    (data / "b.bw").write_text("chr1\t0\t10\t1.0\n")
    return Run(_train(ws, tiny_config(data)), [str(data / "b.bw"), "not a readable bigWig"])


@case("data", "train")
def train_track_empty_bigwig(ws, shared):
    data = _data(ws)
    write_bigwig(data / "b.bw", {}, chrom_sizes=SIZES)
    return Run(_train(ws, tiny_config(data)), [str(data / "b.bw"), "no values"])


@case("data", "train")
def train_negative_values_under_poisson(ws, shared):
    data = _data(ws)
    write_bigwig(data / "b.bw", {c: [-1.0] * n for c, n in SIZES.items()})
    return Run(_train(ws, tiny_config(data)), [str(data / "b.bw"), "negative", "train.loss"])


@case("data", "train")
def train_bigwig_other_assembly(ws, shared):
    data = _data(ws)
    write_bigwig(data / "b.bw", {"chr1": [1.0] * 100})
    return Run(_train(ws, tiny_config(data)), [str(data / "b.bw"), "lacks"])


@case("data", "train")
def train_bigwig_chr_prefix(ws, shared):
    data = _data(ws)
    write_bigwig(data / "b.bw", {f"chr{c}": [1.0] * n for c, n in SIZES.items()})
    return Run(_train(ws, tiny_config(data)), [str(data / "b.bw"), "chrom_alias: add_chr"])


@case("data", "train")
def train_bigwig_lengths_differ(ws, shared):
    data = _data(ws)
    write_bigwig(data / "b.bw", {c: [1.0] * (n + 5) for c, n in SIZES.items()})
    return Run(_train(ws, tiny_config(data)), [str(data / "b.bw"), "different lengths"])


@case("data", "train")
def train_window_longer_than_chromosomes(ws, shared):
    data = _data(ws)
    return Run(_train(ws, tiny_config(data, window=8192)), ["data.window", str(data / "genome.fa")])


@case("data", "train")
def train_crop_leaves_no_output(ws, shared):
    data = _data(ws)
    return Run(_train(ws, tiny_config(data, crop=256)), ["data.crop"])


@case("data", "train")
def train_bin_size_not_a_divisor(ws, shared):
    data = _data(ws)
    return Run(_train(ws, tiny_config(data, bin_size=7)), ["data.bin_size"])


@case("data", "train")
def train_jitter_far_beyond_window(ws, shared):
    data = _data(ws)
    return Run(_train(ws, tiny_config(data, augment={"jitter": 100000})), ["data.augment.jitter"])


@case("data", "train")
def train_split_names_unknown_chromosome(ws, shared):
    data = _data(ws)
    return Run(_train(ws, tiny_config(data, splits={"valid": ["chr9"], "test": ["c3"]})), ["chr9"])


@case("data", "train")
def train_blacklist_covers_the_genome(ws, shared):
    data = _data(ws)
    bl = write_bed(data / "bl.bed", [(c, 0, n) for c, n in SIZES.items()])
    return Run(_train(ws, tiny_config(data, blacklist=str(bl))), [str(bl)])


@case("data", "train")
def train_blacklist_missing(ws, shared):
    data = _data(ws)
    return Run(
        _train(ws, tiny_config(data, blacklist=str(data / "bl.bed"))), [str(data / "bl.bed")]
    )


@case("data", "train")
def train_fasta_plain_gzip(ws, shared):
    data = _data(ws)
    gz = data / "genome.fa.gz"
    gz.write_bytes(gzip.compress((data / "genome.fa").read_bytes()))
    return Run(_train(ws, tiny_config(data, fasta=str(gz))), [str(gz), "bgzip"])


@case("data", "check")
def check_track_not_a_bigwig(ws, shared):
    data = _data(ws)
    (data / "a.bw").write_text("text\n")
    cfg = ws / "run.yaml"
    cfg.write_text(yaml.safe_dump(tiny_config(data)))
    return Run(["check", "--config", str(cfg)], [str(data / "a.bw")])


@case("data", "evaluate")
def evaluate_after_the_data_moved(ws, shared):
    run = ws / "run"
    shutil.copytree(shared.run / "checkpoints", run / "checkpoints")
    ckpt = torch.load(run / "checkpoints" / "best.ckpt", weights_only=True)
    moved = {"fasta": str(ws / "gone" / "genome.fa")}
    ckpt["genodil"]["data"].update(moved)
    for t in ckpt["genodil"]["data"]["tracks"]:
        t["path"] = str(ws / "gone" / Path(t["path"]).name)
    torch.save(ckpt, run / "checkpoints" / "best.ckpt")
    return Run(
        ["evaluate", "--checkpoint", str(run), "--out", str(ws / "m.json")],
        [str(ws / "gone" / "genome.fa"), "--data-root"],
    )


@case("data", "evaluate")
def evaluate_data_root_without_the_files(ws, shared):
    (ws / "elsewhere").mkdir()
    return Run(
        [
            "evaluate",
            "--checkpoint",
            str(shared.run),
            "--data-root",
            str(ws / "elsewhere"),
            "--out",
            str(ws / "m.json"),
        ],
        [str(ws / "elsewhere" / "genome.fa")],
    )


# --------------------------------------------------------------------------- config


def _cfg_text(ws: Path, text: str) -> Path:
    path = ws / "run.yaml"
    path.write_text(text)
    return path


@case("config", "train")
def train_config_missing(ws, shared):
    return Run(
        ["train", "--config", str(ws / "nope.yaml"), "--out", str(ws / "run")],
        [str(ws / "nope.yaml")],
    )


@case("config", "train")
def train_config_invalid_yaml(ws, shared):
    cfg = _cfg_text(ws, "data: {fasta: [unclosed\n")
    return Run(["train", "--config", str(cfg), "--out", str(ws / "run")], [str(cfg), "YAML"])


@case("config", "train")
def train_config_is_a_list(ws, shared):
    cfg = _cfg_text(ws, "- data\n- model\n")
    return Run(["train", "--config", str(cfg), "--out", str(ws / "run")], [str(cfg), "mapping"])


@case("config", "train")
def train_config_unknown_top_level_key(ws, shared):
    cfg = tiny_config(shared.root / "data")
    cfg["modle"] = {}
    return Run(_train(ws, cfg), ["'modle'", "did you mean 'model'"])


@case("config", "train")
def train_config_unknown_data_key(ws, shared):
    cfg = tiny_config(shared.root / "data", windw=512)
    return Run(_train(ws, cfg), ["'windw'", "'window'"])


@case("config", "train")
def train_config_derived_model_key(ws, shared):
    cfg = tiny_config(shared.root / "data")
    cfg["model"]["n_tracks"] = 3
    return Run(_train(ws, cfg), ["model.n_tracks"])


@case("config", "train")
def train_config_track_without_path(ws, shared):
    cfg = tiny_config(shared.root / "data")
    cfg["data"]["tracks"][1] = {"name": "b"}
    return Run(_train(ws, cfg), ["path"])


@case("config", "train")
def train_config_duplicate_track_names(ws, shared):
    cfg = tiny_config(shared.root / "data")
    cfg["data"]["tracks"][1]["name"] = "a"
    return Run(_train(ws, cfg), ["unique", "a"])


@case("config", "train")
def train_config_strand_pair_not_mutual(ws, shared):
    cfg = tiny_config(shared.root / "data")
    cfg["data"]["tracks"][0]["strand_pair"] = "b"
    return Run(_train(ws, cfg), ["strand_pair", "'a'"])


@case("config", "train")
def train_config_unknown_track_key(ws, shared):
    cfg = tiny_config(shared.root / "data")
    cfg["data"]["tracks"][0]["scal"] = 2
    return Run(_train(ws, cfg), ["'scal'", "'scale'"])


@case("config", "train")
def train_config_gpu_without_cuda(ws, shared):
    cfg = tiny_config(shared.root / "data")
    cfg["train"]["accelerator"] = "gpu"
    return Run(_train(ws, cfg), ["train.accelerator"])


@case("config", "train")
def train_config_unknown_override(ws, shared):
    cfg = tiny_config(shared.root / "data")
    return Run(_train(ws, cfg, "--model.chanels", "8"), ["--model.chanels", "model.channels"])


@case("config", "train")
def train_config_max_time_words(ws, shared):
    cfg = tiny_config(shared.root / "data")
    cfg["train"]["max_time"] = "ten minutes"
    return Run(_train(ws, cfg), ["max_time", "ten minutes"])


@case("config", "train")
def train_config_monitor_unknown_metric(ws, shared):
    cfg = tiny_config(shared.root / "data")
    cfg["train"]["monitor"] = "val_accuracy"
    return Run(_train(ws, cfg), ["val_accuracy"])


@case("config", "train")
def train_config_unknown_trainer_key(ws, shared):
    cfg = tiny_config(shared.root / "data")
    cfg["trainer"] = {"foo": 1}
    return Run(_train(ws, cfg), ["foo"])


@case("config", "train")
def train_config_nested_override_typed(ws, shared):
    cfg = tiny_config(shared.root / "data")
    return Run(_train(ws, cfg, "--model.dilations.blocks", "-3"), ["blocks"])


@case("config", "train")
def train_config_track_name_with_slash(ws, shared):
    cfg = tiny_config(shared.root / "data")
    cfg["data"]["tracks"][1]["name"] = "x/y"
    return Run(_train(ws, cfg), ["'x/y'"])


@case("config", "train")
def train_config_splits_as_list(ws, shared):
    cfg = tiny_config(shared.root / "data", splits=["c2", "c3"])
    return Run(_train(ws, cfg), ["data.splits"])


@case("config", "train")
def train_config_bad_pool(ws, shared):
    cfg = tiny_config(shared.root / "data")
    cfg["data"]["tracks"][0]["pool"] = "max"
    return Run(_train(ws, cfg), ["pool", "'max'"])


@case("config", "train")
def train_config_bad_track_head(ws, shared):
    cfg = tiny_config(shared.root / "data")
    cfg["data"]["tracks"][0]["head"] = "log"
    return Run(_train(ws, cfg), ["head", "'log'"])


@case("config", "train")
def train_config_negative_loss_weight(ws, shared):
    cfg = tiny_config(shared.root / "data")
    cfg["data"]["tracks"][1]["loss_weight"] = -2
    return Run(_train(ws, cfg), ["loss_weight", "-2"])


@case("config", "train")
def train_config_text_scale(ws, shared):
    cfg = tiny_config(shared.root / "data")
    cfg["data"]["tracks"][0]["scale"] = "ten"
    return Run(_train(ws, cfg), ["scale", "'ten'"])


@case("config", "train")
def train_config_reversed_loss_weight_ramp(ws, shared):
    cfg = tiny_config(shared.root / "data")
    cfg["train"]["loss_weight_ramp"] = [500, 100]
    return Run(_train(ws, cfg), ["train.loss_weight_ramp", "[500, 100]"])


@case("config", "train")
def train_config_bad_decay_fraction(ws, shared):
    cfg = tiny_config(shared.root / "data")
    return Run(_train(ws, cfg, "--train.decay_fraction", "0"), ["train.decay_fraction"])


@case("config", "check")
def check_config_fasta_missing(ws, shared):
    cfg = ws / "run.yaml"
    cfg.write_text(yaml.safe_dump(tiny_config(ws / "nowhere")))
    return Run(["check", "--config", str(cfg)], [str(ws / "nowhere" / "genome.fa")])


@case("config", "receptive-field")
def receptive_field_config_unknown_key(ws, shared):
    cfg = tiny_config(shared.root / "data")
    cfg["model"]["chanels"] = 4
    path = ws / "run.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return Run(["receptive-field", "--config", str(path)], [str(path), "'chanels'"])


# --------------------------------------------------------------------------- run folders


def _copy_run(ws: Path, shared: Shared, keep: tuple[str, ...]) -> Path:
    run = ws / "run"
    (run / "checkpoints").mkdir(parents=True)
    for name in keep:
        src = shared.run / name
        dst = run / name
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            shutil.copyfile(src, dst)
    return run


@case("run folder", "train")
def train_into_folder_with_only_last_ckpt(ws, shared):
    run = _copy_run(ws, shared, ("checkpoints/last.ckpt",))
    return Run(
        ["train", "--config", str(shared.config), "--out", str(run), "--quiet"],
        [str(run), "checkpoints/last.ckpt", "--resume", "--overwrite"],
    )


@case("run folder", "train")
def train_into_finished_run(ws, shared):
    run = _copy_run(ws, shared, ("checkpoints", "config.yaml"))
    return Run(
        ["train", "--config", str(shared.config), "--out", str(run), "--quiet"],
        [str(run), "--resume"],
    )


@case("run folder", "train")
def train_resume_with_changed_model(ws, shared):
    run = _copy_run(ws, shared, ("checkpoints", "config.yaml"))
    return Run(
        [
            "train",
            "--config",
            str(shared.config),
            "--out",
            str(run),
            "--resume",
            "--quiet",
            "--model.channels",
            "8",
        ],
        [str(run / "config.yaml"), "model.channels", "train.max_epochs"],
    )


@case("run folder", "train")
def train_resume_without_checkpoints(ws, shared):
    (ws / "run").mkdir()
    return Run(
        ["train", "--config", str(shared.config), "--out", str(ws / "run"), "--resume"],
        [str(ws / "run"), "without --resume"],
    )


@case("run folder", "train")
def train_resume_all_checkpoints_truncated(ws, shared):
    run = _copy_run(ws, shared, ("checkpoints", "config.yaml"))
    for p in (run / "checkpoints").glob("*.ckpt"):
        p.write_bytes(p.read_bytes()[:2000])
    return Run(
        ["train", "--config", str(shared.config), "--out", str(run), "--resume", "--quiet"],
        [str(run / "checkpoints"), "readable"],
    )


@case("run folder", "train")
def train_resume_and_overwrite(ws, shared):
    run = _copy_run(ws, shared, ("checkpoints", "config.yaml"))
    return Run(
        ["train", "--config", str(shared.config), "--out", str(run), "--resume", "--overwrite"],
        ["--resume", "--overwrite"],
    )


@case("run folder", "train")
def train_resume_config_yaml_missing(ws, shared):
    run = _copy_run(ws, shared, ("checkpoints",))
    return Run(
        ["train", "--config", str(shared.config), "--out", str(run), "--resume", "--quiet"],
        [str(run / "config.yaml")],
    )


# --------------------------------------------------------------------------- merge-bigwig


@case("bigwig", "merge-bigwig")
def merge_text_file_named_bw(ws, shared):
    fake = ws / "x.bw"
    fake.write_text("chr1\t0\t10\t1\n")
    return Run(["merge-bigwig", "--out", str(ws / "m.bw"), str(fake)], [str(fake), "not a bigWig"])


@case("bigwig", "merge-bigwig")
def merge_missing_input(ws, shared):
    return Run(
        ["merge-bigwig", "--out", str(ws / "m.bw"), str(ws / "x.bw")],
        [str(ws / "x.bw"), "does not exist"],
    )


@case("bigwig", "merge-bigwig")
def merge_different_chromosomes(ws, shared):
    other = write_bigwig(ws / "o.bw", {"zz": [1.0] * 10})
    return Run(
        ["merge-bigwig", "--out", str(ws / "m.bw"), str(shared.bw), str(other)],
        [str(other), "same FASTA"],
    )


@case("bigwig", "merge-bigwig")
def merge_overlapping_inputs(ws, shared):
    return Run(
        ["merge-bigwig", "--out", str(ws / "m.bw"), str(shared.bw), str(shared.bw2)],
        [str(shared.bw), "overlap"],
    )


@case("bigwig", "predict")
def predict_sequences_file_missing(ws, shared):
    return Run(_predict(shared, ws, "--sequences", str(ws / "haps.fa")), [str(ws / "haps.fa")])


# --------------------------------------------------------------------------- usage


@case("usage", "predict")
def predict_without_fasta(ws, shared):
    # --fasta defaults to the training FASTA; here the checkpoint's FASTA has gone
    ckpt = _ckpt_dict(shared)
    ckpt["genodil"]["data"]["fasta"] = str(ws / "gone" / "genome.fa")
    moved = _save(ckpt, ws / "moved.ckpt")
    return Run(_predict(shared, ws, "--region", "c1:0-100", ckpt=moved), ["--fasta", "gone"])


@case("usage", "predict")
def predict_region_and_genome(ws, shared):
    return Run(
        _predict(shared, ws, "--fasta", str(shared.fasta), "--region", "c1:0-100", "--genome"),
        ["--genome"],
    )


@case("usage", "evaluate")
def evaluate_unknown_split(ws, shared):
    return Run(["evaluate", "--checkpoint", str(shared.run), "--split", "bogus"], ["bogus"])


@case("usage", "evaluate")
def evaluate_split_train(ws, shared):
    return Run(["evaluate", "--checkpoint", str(shared.run), "--split", "train"], ["train"])


@case("usage", "receptive-field")
def receptive_field_without_model(ws, shared):
    return Run(["receptive-field"], ["--config", "--checkpoint"])


@case("usage", "simulate")
def simulate_unknown_preset(ws, shared):
    return Run(["simulate", "--out", str(ws / "sim"), "--preset", "huge"], ["huge"])


@case("usage", "demo")
def demo_negative_steps(ws, shared):
    return Run(["demo", "--out", str(ws / "demo"), "--steps", "-1"], ["--steps"])


@case("usage", "report")
def report_missing_run_dir(ws, shared):
    return Run(["report", str(ws / "no_run"), "--quiet"], [str(ws / "no_run")])


@case("outputs", "report")
def report_out_is_a_directory(ws, shared):
    (ws / "taken").mkdir()
    return Run(
        ["report", str(shared.run), "--out", str(ws / "taken"), "--quiet"], ["--out", "taken"]
    )


@case("usage", "interpret")
def interpret_unknown_method(ws, shared):
    return Run(
        [
            "interpret",
            "--checkpoint",
            str(shared.ckpt),
            "--fasta",
            str(shared.fasta),
            "--region",
            "c1:0-100",
            "--method",
            "magic",
            "--out",
            str(ws / "i"),
        ],
        ["magic"],
    )


# --------------------------------------------------------------------------- outputs


@case("outputs", "predict")
def predict_out_is_an_existing_file(ws, shared):
    (ws / "pred").write_text("keep me\n")
    return Run(_predict_fasta(ws, shared, shared.fasta), [str(ws / "pred")])


@case("outputs", "predict")
def predict_npz_equal_to_a_track_bigwig(ws, shared):
    return Run(
        [*_predict_fasta(ws, shared, shared.fasta), "--npz", str(ws / "pred" / "a.bw")],
        [str(ws / "pred" / "a.bw")],
    )


@case("outputs", "score-variants")
def score_out_is_an_existing_directory(ws, shared):
    (ws / "scores.tsv").mkdir()
    return Run(_score(shared, ws), [str(ws / "scores.tsv")])


@case("outputs", "score-variants")
def score_save_tracks_equal_to_out(ws, shared):
    return Run(
        _score(shared, ws, "--save-tracks", str(ws / "scores.tsv")), [str(ws / "scores.tsv")]
    )


@case("outputs", "evaluate")
def evaluate_out_is_an_existing_directory(ws, shared):
    (ws / "m.json").mkdir()
    return Run(
        ["evaluate", "--checkpoint", str(shared.run), "--out", str(ws / "m.json")],
        [str(ws / "m.json")],
    )


# --------------------------------------------------------------------------- faults


def _ro(ws: Path) -> Path:
    folder = ws / "ro"
    folder.mkdir()
    (folder / "keep.txt").write_text("pre-existing output\n")
    return folder


@case("faults", "predict")
def predict_into_read_only_folder(ws, shared):
    folder = _ro(ws)
    args = _predict_fasta(ws, shared, shared.fasta)
    args[args.index("--out") + 1] = str(folder)
    return Run(args, [str(folder)], read_only=folder)


@case("faults", "score-variants")
def score_into_read_only_folder(ws, shared):
    folder = _ro(ws)
    return Run(_score(shared, ws, out=folder / "s.tsv"), [str(folder)], read_only=folder)


@case("faults", "evaluate")
def evaluate_into_read_only_folder(ws, shared):
    folder = _ro(ws)
    return Run(
        ["evaluate", "--checkpoint", str(shared.run), "--out", str(folder / "m.json")],
        [str(folder)],
        read_only=folder,
    )


@case("faults", "merge-bigwig")
def merge_into_read_only_folder(ws, shared):
    folder = _ro(ws)
    return Run(
        ["merge-bigwig", "--out", str(folder / "m.bw"), str(shared.bw)],
        [str(folder)],
        read_only=folder,
    )


@case("faults", "interpret")
def interpret_into_read_only_folder(ws, shared):
    folder = _ro(ws)
    return Run(
        [
            "interpret",
            "--checkpoint",
            str(shared.ckpt),
            "--fasta",
            str(shared.fasta),
            "--region",
            "c1:1000-1100",
            "--out",
            str(folder),
        ],
        [str(folder)],
        read_only=folder,
    )


@case("faults", "receptive-field")
def receptive_field_plot_into_read_only_folder(ws, shared):
    folder = _ro(ws)
    return Run(
        ["receptive-field", "--config", str(shared.config), "--plot", str(folder / "rf.png")],
        [str(folder)],
        read_only=folder,
    )


@case("faults", "simulate")
def simulate_into_read_only_folder(ws, shared):
    folder = _ro(ws)
    return Run(["simulate", "--out", str(folder / "sim")], [str(folder)], read_only=folder)


@case("faults", "train")
def train_into_read_only_folder(ws, shared):
    folder = _ro(ws)
    return Run(
        ["train", "--config", str(shared.config), "--out", str(folder / "run"), "--quiet"],
        [str(folder)],
        read_only=folder,
    )


@case("faults", "predict")
def predict_disk_full(ws, shared):
    return Run(
        _predict_fasta(ws, shared, shared.fasta, "c1:0-6000"), [str(ws / "pred")], fsize=2000
    )


@case("faults", "score-variants")
def score_disk_full(ws, shared):
    return Run(_score(shared, ws), [str(ws / "scores.tsv")], fsize=100)


@case("faults", "evaluate")
def evaluate_disk_full(ws, shared):
    return Run(
        ["evaluate", "--checkpoint", str(shared.run), "--out", str(ws / "m.json")],
        [str(ws / "m.json")],
        fsize=100,
    )


@case("faults", "train")
def train_disk_full(ws, shared):
    return Run(
        ["train", "--config", str(shared.config), "--out", str(ws / "run"), "--quiet"],
        [str(ws / "run")],
        fsize=3000,
        may_write=ws / "run",
    )
