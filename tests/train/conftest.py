"""A run directory trained for a few steps, shared by the train/io and evaluate tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from genodil.cli import main
from tests.conftest import run_config, write_learnable_data


@pytest.fixture(scope="module")
def trained_data(tmp_path_factory) -> Path:
    """Folder with the learnable genome and tracks (tests/conftest.py) and run.yaml."""
    root = tmp_path_factory.mktemp("trained") / "data"
    write_learnable_data(root)
    (root / "run.yaml").write_text(yaml.safe_dump(run_config(root)))
    return root


@pytest.fixture(scope="module")
def trained_run(trained_data) -> Path:
    """A run directory trained through `genodil train` for 3 steps (one epoch, one validation).

    Shared by a module's tests, which only read it: training is most of their cost.
    """
    run = trained_data.parent / "run"
    args = ["train", "--config", str(trained_data / "run.yaml"), "--out", str(run), "--quiet"]
    args += ["--train.max_epochs", "1", "--train.limit_train_batches", "3"]
    args += ["--train.limit_val_batches", "2"]
    assert main(args) == 0
    return run
