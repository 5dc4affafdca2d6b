"""The command line, in process: every command end to end on tiny data, and its errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyBigWig
import pytest
import yaml

from genodil.cli import main
from tests.conftest import run_config
from tests.helpers import write_vcf


@pytest.fixture
def trained(tiny_config, tmp_path):
    """A run directory trained for a few steps through `genodil train`."""
    run = tmp_path / "run"
    code = main(
        [
            "train",
            "--config",
            str(tiny_config),
            "--out",
            str(run),
            "--quiet",
            "--train.max_epochs",
            "1",
            "--train.limit_train_batches",
            "3",
            "--train.limit_val_batches",
            "2",
        ]
    )
    assert code == 0
    return run


@pytest.mark.slow
def test_cli_end_to_end_on_tiny_data(trained, tiny_data, tmp_path, capsys):
    assert (trained / "checkpoints" / "best.ckpt").exists()
    saved = yaml.safe_load((trained / "config.yaml").read_text())
    assert saved["model"]["channels"] == 8
    assert saved["data"]["fasta"] == str(tiny_data / "genome.fa")  # resolved, absolute

    metrics_path = tmp_path / "metrics.json"
    assert (
        main(
            [
                "evaluate",
                "--checkpoint",
                str(trained),
                "--out",
                str(metrics_path),
                "--plots",
                str(tmp_path / "plots"),
                "--json",
            ]
        )
        == 0
    )
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    metrics = json.loads(metrics_path.read_text())
    assert printed["tracks"] == metrics["tracks"]
    assert metrics["split"] == "test"
    assert set(metrics["tracks"]) == {"peak", "plus", "minus"}
    for values in metrics["tracks"].values():
        assert {"pearson", "pearson_bin32", "pearson_bin128", "spearman_bin128", "loss"} <= set(
            values
        )
    assert (tmp_path / "plots" / "tracks.png").stat().st_size > 1000
    assert (tmp_path / "plots" / "scatter_bin128.png").exists()

    pred = tmp_path / "pred"
    fasta = str(tiny_data / "genome.fa")
    assert (
        main(
            [
                "predict",
                "--checkpoint",
                str(trained),
                "--fasta",
                fasta,
                "--region",
                "c4:100-3100",
                "--out",
                str(pred),
                "--quiet",
            ]
        )
        == 0
    )
    for track in ("peak", "plus", "minus"):
        bw = pyBigWig.open(str(pred / f"{track}.bw"))
        assert bw.chroms()["c4"] == 8000
        v = bw.values("c4", 100, 3100, numpy=True)
        assert np.isfinite(v).all() and (v >= 0).all()
        assert np.isnan(bw.values("c4", 3100, 3200, numpy=True)).all()
        bw.close()

    vcf = write_vcf(
        tmp_path / "v.vcf",
        [
            ("c4", 2001, "snv", "N", "G"),
            ("c3", 501, "bad", "N", "<DEL>"),
            ("cX", 10, "x", "A", "C"),
        ],
    )
    # Give the SNV its real reference base so it scores.
    from genodil.genome.encode import codes_to_str
    from genodil.genome.io import Genome

    ref = codes_to_str(Genome(fasta).fetch("c4", 2000, 2001))
    vcf.write_text(vcf.read_text().replace("\tsnv\tN\t", f"\tsnv\t{ref}\t"))
    scores = tmp_path / "scores.tsv"
    assert (
        main(
            [
                "score-variants",
                "--checkpoint",
                str(trained),
                "--fasta",
                fasta,
                "--vcf",
                str(vcf),
                "--out",
                str(scores),
                "--quiet",
                "--scores",
                "SAD,logFC",
            ]
        )
        == 0
    )
    table = pd.read_csv(scores, sep="\t")
    assert list(table.columns[:5]) == ["chrom", "pos", "id", "ref", "alt"]
    assert "SAD_peak" in table.columns and "logFC_minus" in table.columns
    assert table["id"].tolist() == ["snv"]
    skipped = pd.read_csv(tmp_path / "scores.skipped.tsv", sep="\t")
    assert sorted(skipped["id"]) == ["bad", "x"]

    assert main(["receptive-field", "--checkpoint", str(trained), "--json"]) == 0
    rf = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert rf["receptive_field_bp"] == 1 + (9 - 1) + 2 * (1 + 2 + 4 + 8 + 16)
    assert rf["blind_fraction"] == 0

    interp = tmp_path / "interp"
    assert (
        main(
            [
                "interpret",
                "--checkpoint",
                str(trained),
                "--fasta",
                fasta,
                "--region",
                "c4:2000-2050",
                "--method",
                "ism",
                "--track",
                "all",
                "--out",
                str(interp),
                "--quiet",
            ]
        )
        == 0
    )
    ism = np.load(interp / "all" / "ism.npz")["arr_0"]
    assert ism.shape == (1, 4, 50 + 2 * 100)
    assert np.abs(ism).max() > 0


def test_cli_resume_continues_the_run(trained, tiny_config):
    code = main(
        [
            "train",
            "--config",
            str(tiny_config),
            "--out",
            str(trained),
            "--quiet",
            "--resume",
            "--train.max_epochs",
            "2",
            "--train.limit_train_batches",
            "3",
            "--train.limit_val_batches",
            "2",
        ]
    )
    assert code == 0
    import torch

    ckpt = torch.load(trained / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["global_step"] == 6


def test_cli_print_config_resolves_paths_and_overrides(tiny_config, tiny_data, capsys):
    assert (
        main(["train", "--config", str(tiny_config), "--print_config", "--model.channels", "12"])
        == 0
    )
    cfg = yaml.safe_load(capsys.readouterr().out)
    assert cfg["model"]["channels"] == 12
    assert cfg["data"]["tracks"][0]["path"] == str(tiny_data / "peak.bw")
    assert cfg["train"]["loss"] == "poisson"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            {"model": {"chanels": 8}},
            "unknown key 'chanels' in section 'model'; did you mean 'channels'",
        ),
        ({"train": {"los": "mse"}}, "did you mean 'loss'"),
        (
            {"data": {"tracks": [{"name": "a", "path": "peak.bw", "scael": 2}]}},
            "did you mean 'scale'",
        ),
        ({"trian": {}}, "unknown key 'trian' in the top level; did you mean 'train'"),
        ({"model": {"crop": 10}}, "derived from the data section"),
        ({"data": {"fasta": "missing.fa"}}, "missing.fa does not exist"),
        ({"train": {"loss": "huber"}}, "huber"),
        ({"model": {"dilations": {"schedule": "exponential", "rate": 0, "blocks": 3}}}, "rate"),
    ],
)
def test_cli_config_errors_exit_2_with_a_clear_message(tiny_data, tmp_path, capsys, edit, message):
    cfg = run_config(tiny_data)
    for section, values in edit.items():
        cfg.setdefault(section, {})
        cfg[section].update(values)
    path = tiny_data / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["train", "--config", str(path), "--out", str(tmp_path / "r"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_cli_unknown_override_names_nearest(tiny_config, capsys):
    assert main(["train", "--config", str(tiny_config), "--model.chanels", "4"]) == 2
    assert "did you mean --model.channels" in capsys.readouterr().err


def test_cli_gpu_without_gpu_is_an_error(tiny_config, tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    code = main(
        [
            "train",
            "--config",
            str(tiny_config),
            "--out",
            str(tmp_path / "r"),
            "--train.accelerator",
            "gpu",
            "--quiet",
        ]
    )
    assert code == 2
    assert "no CUDA GPU" in capsys.readouterr().err


def test_cli_bad_input_messages(tmp_path, tiny_data, capsys):
    assert (
        main(
            [
                "predict",
                "--checkpoint",
                str(tmp_path / "nope.ckpt"),
                "--fasta",
                "x.fa",
                "--region",
                "c1:0-10",
                "--out",
                str(tmp_path / "p"),
            ]
        )
        == 2
    )
    assert "nope.ckpt does not exist" in capsys.readouterr().err
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"not a checkpoint")
    assert main(["evaluate", "--checkpoint", str(junk)]) == 2
    assert "cannot read checkpoint" in capsys.readouterr().err
    assert main(["check", "--config", str(tmp_path / "missing.yaml")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["simulate", "--out", str(tmp_path / "s"), "--preset", "huge"]) == 2
    assert "tiny" in capsys.readouterr().err


def test_cli_simulate_quiet_drops_the_progress_lines_only(tmp_path, capsys):
    assert main(["simulate", "--out", str(tmp_path / "loud")]) == 0
    loud = capsys.readouterr().out
    assert main(["simulate", "--out", str(tmp_path / "quiet"), "--quiet"]) == 0
    quiet = capsys.readouterr().out
    assert "simulated chr1" in loud and "simulated chr1" not in quiet
    assert "written to" in quiet and "vcf_gz:" in quiet
    fa = (tmp_path / "quiet" / "genome.fa").read_bytes()
    assert fa == (tmp_path / "loud" / "genome.fa").read_bytes()


def test_cli_check_reports_vcf_chromosomes_absent_from_fasta(tiny_config, tmp_path, capsys):
    vcf = write_vcf(tmp_path / "v.vcf", [("chr1", 10, ".", "A", "C")])
    assert main(["check", "--config", str(tiny_config), "--vcf", str(vcf)]) == 2
    err = capsys.readouterr().err
    assert "chr1" in err and str(vcf) in err
    assert main(["check", "--config", str(tiny_config)]) == 0


def test_cli_help_has_examples(capsys):
    for cmd in (
        "train",
        "evaluate",
        "predict",
        "score-variants",
        "receptive-field",
        "demo",
        "simulate",
        "interpret",
        "check",
        "merge-bigwig",
    ):
        assert main([cmd, "--help"]) == 0
        assert "examples:" in capsys.readouterr().out


@pytest.mark.slow
def test_console_script_trains_with_tuned_allocator(tiny_config):
    import os
    import subprocess
    import sys
    from pathlib import Path

    exe = Path(sys.executable).parent / "genodil"
    env = {k: v for k, v in os.environ.items() if k != "GLIBC_TUNABLES"}
    env["GENODIL_LOG"] = "INFO"
    cmd = [str(exe), "train", "--config", str(tiny_config), "--print_config"]
    tuned = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    assert "GLIBC_TUNABLES=glibc.malloc.mmap_max=0" in tuned.stderr
    env["GENODIL_ALLOCATOR"] = "default"
    plain = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    assert "GLIBC_TUNABLES=(unset)" in plain.stderr
    assert tuned.stdout == plain.stdout


def test_console_script_gives_heavy_commands_the_tuned_allocator(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    exe = Path(sys.executable).parent / "genodil"
    env = {k: v for k, v in os.environ.items() if k != "GLIBC_TUNABLES"}
    env["GENODIL_LOG"] = "INFO"
    for argv in (
        ["predict", "--checkpoint", str(tmp_path / "none.ckpt"), "--region", "c1:1-9"],
        [
            "score-variants",
            "--checkpoint",
            str(tmp_path / "none.ckpt"),
            "--fasta",
            str(tmp_path / "g.fa"),
            "--vcf",
            str(tmp_path / "v.vcf"),
        ],
        ["evaluate", "--checkpoint", str(tmp_path / "none.ckpt")],
    ):
        res = subprocess.run(
            [str(exe), *argv, "--out", str(tmp_path / "o")],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert "GLIBC_TUNABLES=glibc.malloc.mmap_max=0" in res.stderr, (argv, res.stderr)
    res = subprocess.run(
        [str(exe), "receptive-field", "--help"], env=env, capture_output=True, text=True, check=True
    )
    assert "GLIBC_TUNABLES" not in res.stderr  # light commands are not restarted
