"""The Snakemake workflow (workflows/Snakefile): dry runs, config errors, a real demo run.

Snakemake runs in a subprocess with ``--directory`` a tmp folder, so nothing is written into
the repository; the ``genodil`` and ``snakemake`` executables are the ones next to
``sys.executable`` (the venv's bin), put first on PATH.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyBigWig
import pytest
import yaml

from tests.helpers import YEAST, write_vcf

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / "workflows"
SNAKEFILE = WORKFLOWS / "Snakefile"
BIN = Path(sys.executable).parent
SNAKEMAKE = BIN / "snakemake"
GENODIL = BIN / "genodil"
DEMO_CONFIG = REPO / "configs" / "demo.yaml"
YEAST_CONFIG = REPO / "configs" / "yeast_r64.yaml"

needs_snakemake = pytest.mark.skipif(
    not SNAKEMAKE.exists(), reason="snakemake not installed (pip install 'genodil[workflow]')"
)
VARIANT_KEYS = ["chrom", "pos", "id", "ref", "alt"]


def _env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def _snakemake(workdir: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    cmd = [str(SNAKEMAKE), "-s", str(SNAKEFILE), "--directory", str(workdir), *args]
    return subprocess.run(
        cmd, capture_output=True, text=True, env=_env(), timeout=timeout, check=False
    )


def _job_counts(output: str) -> dict[str, int]:
    """The ``Job stats`` table of a Snakemake run: rule -> number of jobs."""
    counts: dict[str, int] = {}
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Job stats"))
    for line in lines[start + 3 :]:
        m = re.match(r"^(\w+)\s+(\d+)$", line.strip())
        if not m or m.group(1) == "total":
            break
        counts[m.group(1)] = int(m.group(2))
    return counts


def _load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, WORKFLOWS / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- helper scripts


def test_split_vcf_shards_keep_header_and_order(tmp_path):
    split_vcf = _load_script("split_vcf")
    records = [("chr1", 10 * i + 1, f"v{i}", "A", "G") for i in range(7)]
    vcf = write_vcf(tmp_path / "v.vcf", records, contigs={"chr1": 1000})
    header = [line for line in vcf.read_text().splitlines() if line.startswith("#")]
    gz = tmp_path / "v.vcf.gz"
    gz.write_bytes(gzip.compress(vcf.read_bytes()))
    for source, out in ((vcf, tmp_path / "plain"), (gz, tmp_path / "gz")):
        shards = split_vcf.split_vcf(source, out, records=3)
        assert [p.name for p in shards] == ["shard_0000.vcf", "shard_0001.vcf", "shard_0002.vcf"]
        body = []
        for shard, n in zip(shards, (3, 3, 1), strict=True):
            lines = shard.read_text().splitlines()
            assert lines[: len(header)] == header
            assert len(lines) == len(header) + n
            body += lines[len(header) :]
        assert [line.split("\t")[2] for line in body] == [f"v{i}" for i in range(7)]


def test_split_vcf_without_records_gives_one_header_only_shard(tmp_path):
    split_vcf = _load_script("split_vcf")
    vcf = write_vcf(tmp_path / "v.vcf", [])
    (shard,) = split_vcf.split_vcf(vcf, tmp_path / "out", records=5)
    assert shard.read_text() == vcf.read_text()


def test_concat_tsv_keeps_one_header_and_input_order(tmp_path):
    concat_tsv = _load_script("concat_tsv")
    a = tmp_path / "a.tsv"
    b = tmp_path / "b.tsv"
    e = tmp_path / "e.tsv"
    a.write_text("chrom\tpos\nchr1\t5\nchr1\t9\n")
    b.write_text("chrom\tpos\nchr2\t1")  # no final newline
    e.write_text("chrom\tpos\n")  # a shard whose variants were all skipped
    n = concat_tsv.concat_tsv([b, e, a], tmp_path / "out.tsv")
    assert n == 3
    assert (tmp_path / "out.tsv").read_text() == "chrom\tpos\nchr2\t1\nchr1\t5\nchr1\t9\n"


def test_concat_tsv_raises_on_differing_headers(tmp_path):
    concat_tsv = _load_script("concat_tsv")
    a = tmp_path / "a.tsv"
    b = tmp_path / "b.tsv"
    a.write_text("chrom\tpos\tSAD_x\n")
    b.write_text("chrom\tpos\tSAD_y\n")
    with pytest.raises(ValueError, match="header"):
        concat_tsv.concat_tsv([a, b], tmp_path / "out.tsv")
    assert not (tmp_path / "out.tsv").exists()


# --------------------------------------------------------------------------- dry runs


@pytest.mark.slow
@needs_snakemake
def test_dry_run_default_demo_config(tmp_path):
    runs = yaml.safe_load((WORKFLOWS / "config.yaml").read_text())["runs"]
    res = _snakemake(tmp_path, "-n")
    assert res.returncode == 0, res.stderr + res.stdout
    counts = _job_counts(res.stdout + res.stderr)
    assert counts["simulate"] == 1
    assert counts["split_vcf"] == 1
    assert counts["report"] == 1
    for rule in ("check_inputs", "train", "evaluate", "concat_scores"):
        assert counts[rule] == len(runs), rule
    assert not (tmp_path / "results").exists()  # a dry run writes no outputs


@pytest.mark.slow
@needs_snakemake
@pytest.mark.skipif(not YEAST.exists(), reason="real data ../shared/data/real/yeast_r64 absent")
def test_dry_run_yeast_config(tmp_path):
    res = _snakemake(tmp_path, "-n", "-p", "--configfile", str(WORKFLOWS / "config_yeast.yaml"))
    assert res.returncode == 0, res.stderr + res.stdout
    counts = _job_counts(res.stdout + res.stderr)
    assert counts["train"] == counts["check_inputs"] == counts["evaluate"] == 1
    assert "simulate" not in counts  # real data: nothing simulated
    assert "split_vcf" not in counts  # no VCF in this config
    # --data_root of the real data (normalised, not resolved: /work/wt/shared may be a link)
    out = res.stdout + res.stderr
    assert str(YEAST.resolve()) in out or os.path.normpath(YEAST.absolute()) in out


def _write_config(path: Path, **overrides) -> Path:
    cfg = {
        "outdir": "results",
        "simulate": "tiny",
        "fasta": "genome.fa",
        "vcf": "variants.vcf",
        "runs": {"demo": {"config": str(DEMO_CONFIG)}},
    }
    cfg.update(overrides)
    path.write_text(yaml.safe_dump(cfg))
    return path


def _bad_configs(tmp: Path) -> list[tuple[Path, str]]:
    dup = tmp / "dup.yaml"
    dup.write_text(
        yaml.safe_dump(
            {
                "data": {
                    "fasta": "genome.fa",
                    "tracks": [
                        {"name": "local", "path": "local.bw"},
                        {"name": "local", "path": "distal.bw"},
                    ],
                }
            }
        )
    )
    return [
        (
            _write_config(tmp / "missing_run.yaml", runs={"demo": {"config": "nope.yaml"}}),
            r"runs\.demo\.config: run config .*nope\.yaml does not exist",
        ),
        (
            _write_config(tmp / "dup_track.yaml", runs={"demo": {"config": str(dup)}}),
            r"track 'local' is listed twice",
        ),
        (
            _write_config(tmp / "typo.yaml", score_variants={"shard_sise": 10}),
            r"unknown key 'shard_sise' in section 'score_variants'; did you mean 'shard_size'",
        ),
        (
            _write_config(tmp / "no_fasta.yaml", simulate=None, fasta="absent.fa"),
            r"fasta file .*absent\.fa does not exist",
        ),
        (
            _write_config(tmp / "no_runs.yaml", runs={}),
            r"runs must name at least one training run",
        ),
    ]


@pytest.mark.slow
@needs_snakemake
def test_config_errors_fail_at_start_with_clear_message(tmp_path):
    for config, message in _bad_configs(tmp_path):
        res = _snakemake(tmp_path / "work", "-n", "--configfile", str(config))
        out = res.stdout + res.stderr
        assert res.returncode != 0, config.name
        assert re.search(message, out), f"{config.name}: {message!r} not in:\n{out}"
        assert "Job stats" not in out  # failed before planning any job


# --------------------------------------------------------------------------- real run


def _bigwig_values(path: Path, chrom: str, size: int) -> np.ndarray:
    bw = pyBigWig.open(str(path))
    try:
        return np.asarray(bw.values(chrom, 0, size, numpy=True))
    finally:
        bw.close()


@pytest.mark.slow
@needs_snakemake
def test_workflow_runs_demo_end_to_end(tmp_path):
    chroms = ["chr3", "chr4"]
    config = _write_config(
        tmp_path / "config.yaml",
        runs={
            "demo": {
                "config": str(DEMO_CONFIG),
                "overrides": [
                    "--train.max_epochs", "1", "--train.limit_train_batches", "4",
                    "--train.limit_val_batches", "2", "--train.warmup_steps", "0",
                ],
            }
        },
        predict={"chroms": chroms, "batch_size": 8},
        # batch size 2 (one ref + one alt window): a variant's forward pass does not depend on
        # its neighbours in the VCF, so sharded and single-job scores agree exactly
        score_variants={"shard_size": 40, "scores": "SAD,logFC", "batch_size": 2},
    )  # fmt: skip
    work = tmp_path / "work"
    res = _snakemake(work, "-c", "2", "--configfile", str(config))
    assert res.returncode == 0, res.stderr[-6000:]
    out = work / "results"
    tracks = [t["name"] for t in yaml.safe_load(DEMO_CONFIG.read_text())["data"]["tracks"]]

    # training and evaluation
    assert (out / "runs/demo/checkpoints/best.ckpt").stat().st_size > 0
    metrics = json.loads((out / "eval/demo/metrics.json").read_text())
    assert metrics["split"] == "test"
    assert sorted(metrics["tracks"]) == sorted(tracks)
    assert list((out / "eval/demo/plots").glob("*.png"))

    # predictions: one merged bigWig per track == the per-chromosome bigWigs, on the chosen chroms
    fai = (out / "data/genome.fa.fai").read_text().splitlines()
    sizes = {line.split("\t")[0]: int(line.split("\t")[1]) for line in fai}
    for track in tracks:
        merged = out / f"predict/demo/{track}.bw"
        bw = pyBigWig.open(str(merged))
        assert bw is not None and bw.isBigWig()
        assert bw.chroms() == sizes
        bw.close()
        for chrom, size in sizes.items():
            values = _bigwig_values(merged, chrom, size)
            if chrom not in chroms:
                assert np.isnan(values).all(), f"{track} {chrom} was not asked for"
                continue
            part = _bigwig_values(out / f"predict/demo/by_chrom/{chrom}/{track}.bw", chrom, size)
            np.testing.assert_array_equal(values, part)
            covered = values[~np.isnan(values)]
            assert covered.size > 0.9 * size
            assert np.isfinite(covered).all() and (covered >= 0).all()

    # variant scores: sharded == one genodil score-variants job over the whole VCF
    shards = sorted((out / "vcf_shards").glob("shard_*.vcf"))
    n_records = sum(
        1 for line in (out / "data/variants.vcf").read_text().splitlines() if line[:1] != "#"
    )
    assert len(shards) == -(-n_records // 40) > 1
    scores = pd.read_csv(out / "variants/demo/scores.tsv", sep="\t")
    skipped = pd.read_csv(out / "variants/demo/scores.skipped.tsv", sep="\t")
    expected_cols = VARIANT_KEYS + [f"{s}_{t}" for s in ("SAD", "logFC") for t in tracks]
    expected_cols.append("n_padded")  # bases of the window past a chromosome end
    assert sorted(scores.columns) == sorted(expected_cols)
    assert list(scores.columns[:5]) == VARIANT_KEYS
    assert len(scores) + len(skipped) >= n_records  # multi-allelic records give several rows
    single = tmp_path / "single.tsv"
    ckpt = out / "runs/demo/checkpoints/best.ckpt"
    cmd = [
        str(GENODIL), "score-variants", "--checkpoint", str(ckpt), "--quiet",
        "--fasta", str(out / "data/genome.fa"), "--vcf", str(out / "data/variants.vcf"),
        "--out", str(single), "--scores", "SAD,logFC", "--batch-size", "2", "--device", "cpu",
    ]  # fmt: skip
    # one thread, as in the workflow's score jobs: the reduction order then matches exactly
    subprocess.run(cmd, check=True, capture_output=True, env={**_env(), "OMP_NUM_THREADS": "1"})
    one = pd.read_csv(single, sep="\t")
    pd.testing.assert_frame_equal(scores, one)
    pd.testing.assert_frame_equal(skipped, pd.read_csv(tmp_path / "single.skipped.tsv", sep="\t"))

    # report, logs, and a second invocation finds nothing to redo
    report = (out / "report.md").read_text()
    assert "## Run `demo`" in report and "variants scored" in report
    for png in (out / "eval/demo/plots").glob("*.png"):
        assert f"eval/demo/plots/{png.name}" in report
    for log in ("simulate.log", "check/demo.log", "train/demo.log", "report.log"):
        assert (out / "logs" / log).exists(), log
    # the FASTA index stays newer than the FASTA, so no job rebuilds it
    assert "older than FASTA" not in (out / "logs/train/demo.log").read_text()
    again = _snakemake(work, "-n", "--configfile", str(config))
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr


@pytest.mark.slow
@needs_snakemake
def test_genodil_command_comes_from_config_then_beside_python(tmp_path):
    beside = _snakemake(tmp_path / "a", "-n", "-p")
    assert beside.returncode == 0, beside.stderr + beside.stdout
    assert f"{GENODIL} simulate --out" in beside.stdout + beside.stderr
    given = _snakemake(tmp_path / "b", "-n", "-p", "--config", "genodil=/opt/x/genodil")
    assert given.returncode == 0, given.stderr + given.stdout
    assert "/opt/x/genodil simulate --out" in given.stdout + given.stderr
