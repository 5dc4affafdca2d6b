"""README's commands, exactly as written, in a clean environment whose PATH lacks the venv.

The commands are read from README.md (the ``bash`` blocks under "Quick start" and
"Pipelines"), so editing README changes what runs here. Each runs in a copy of the checkout
whose ``.venv`` stands for the environment running these tests: the same interpreter and
site-packages, reached through ``.venv/bin``, with PYTHONPATH at the copy so the copy's code
is what runs. PATH holds only the system folders: nothing can work by finding the venv there.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers import YEAST

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
BIN = Path(sys.executable).parent
# Outputs and caches (git-ignored) stay behind; a copy of the checkout takes the rest.
SKIP = {".git", ".venv", "results", "demo_out", "runs", ".snakemake", "__pycache__"}
SKIP_PATHS = {REPO / "data" / name for name in ("demo", "small", "longrange", "large")} | {
    REPO / "benchmarks" / "out"
}
SYSTEM_PATH = os.pathsep.join(
    p for p in ("/usr/local/bin", "/usr/bin", "/bin") if Path(p).is_dir() and BIN != Path(p)
)
in_venv = pytest.mark.skipif(
    sys.prefix == sys.base_prefix or not (Path(sys.prefix) / "pyvenv.cfg").exists(),
    reason="needs the tests to run in a virtual environment (make install makes .venv)",
)
needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="no make on this machine")


def readme_commands(heading: str) -> list[str]:
    """Commands of the ``bash`` blocks in README's section ``heading`` (comments dropped)."""
    text = README.read_text()
    level = "#" * (len(heading) - len(heading.lstrip("#")))
    start = text.index(f"\n{heading}\n")
    end = re.search(rf"\n#{{1,{len(level)}}} ", text[start + 1 :])
    section = text[start : start + 1 + end.start()] if end else text[start:]
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", section, flags=re.DOTALL):
        for line in block.splitlines():
            command = line.split(" #", 1)[0].strip()
            if command and not command.startswith("#"):
                commands.append(command)
    return commands


QUICK_START = readme_commands("## Quick start")
PIPELINES = readme_commands("### Pipelines")


def _fake_venv(venv: Path) -> None:
    """``venv`` as a second entry point into the running environment.

    ``bin/python`` with a ``pyvenv.cfg`` beside ``bin`` and ``lib`` linked to the real one is
    the same environment to Python; the console scripts link to the real ones (their shebang
    names the real interpreter, as in any venv).
    """
    real = Path(sys.prefix)
    (venv / "bin").mkdir(parents=True)
    shutil.copy(real / "pyvenv.cfg", venv / "pyvenv.cfg")
    (venv / "lib").symlink_to(real / "lib", target_is_directory=True)
    for name in ("python", "python3", "genodil", "snakemake"):
        if (BIN / name).exists():
            (venv / "bin" / name).symlink_to(BIN / name)
    # `make` would install into .venv; this stamp says that is done.
    (venv / ".genodil-installed").touch()


@pytest.fixture
def checkout(tmp_path) -> Path:
    """A copy of the checkout with a ``.venv`` that is the running environment."""
    root = tmp_path / "genodil"

    def ignore(folder: str, names: list[str]) -> list[str]:
        return [
            n for n in names if n in SKIP or n.endswith("_cache") or Path(folder, n) in SKIP_PATHS
        ]

    shutil.copytree(REPO, root, ignore=ignore)
    _fake_venv(root / ".venv")
    os.utime(root / ".venv" / ".genodil-installed")  # newer than the copied pyproject.toml
    # config_yeast.yaml reaches the real data as ../../shared/data/real/... from workflows/
    if (REPO.parent / "shared").exists():
        (tmp_path / "shared").symlink_to((REPO.parent / "shared").resolve())
    return root


def clean_env(root: Path) -> dict[str, str]:
    """The environment a new user's shell has: system PATH, no venv; the copy's code."""
    keep = ("HOME", "LANG", "LC_ALL", "TMPDIR", "USER")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env.update(PATH=SYSTEM_PATH, PYTHONPATH=str(root))
    return env


def run(command: str, root: Path, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        command,
        shell=True,
        cwd=root,
        env=clean_env(root),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_readme_lists_the_commands_this_file_runs():
    assert QUICK_START == ["make demo", "make test"]
    assert PIPELINES[0] == "make workflow"
    assert PIPELINES[1] == ".venv/bin/snakemake -s workflows/Snakefile -c 2"
    assert all(c.startswith(".venv/bin/snakemake -s workflows/Snakefile") for c in PIPELINES[1:])


@in_venv
@needs_make
def test_make_targets_of_readme_exist(checkout):
    # `make test` is what CI runs (.ci/run); here only its plan is checked, as running the
    # whole suite inside itself would recurse.
    for command in [*QUICK_START, PIPELINES[0]]:
        res = run(command.replace("make ", "make -n ", 1), checkout, timeout=60)
        assert res.returncode == 0, res.stderr
        assert "pip install" not in res.stdout  # the stamp holds: nothing reinstalls


@in_venv
def test_workflow_finds_genodil_beside_its_python_without_path(checkout):
    """README's Snakemake command, as a dry run: every job calls the venv's genodil by path."""
    res = run(f"{PIPELINES[1]} -n -p", checkout, timeout=300)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    # The console script next to the interpreter running Snakemake, by absolute path.
    assert f"{BIN / 'genodil'} simulate" in out or f"{checkout}/.venv/bin/genodil simulate" in out
    assert re.search(r"(^|\s)genodil (train|simulate)", out) is None  # never a bare PATH lookup


@pytest.mark.slow
@in_venv
@needs_make
def test_quick_start_make_demo_as_written(checkout):
    # README's command with a smaller step budget (a make variable the Makefile passes on):
    # the full 1,320 steps cost minutes and prove nothing more here (test_demo checks outputs).
    res = run(f'{QUICK_START[0]} DEMO_ARGS="--steps 40"', checkout, timeout=1800)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    out = checkout / "demo_out"
    assert (out / "metrics.json").stat().st_size > 0
    assert list((out / "predictions").glob("*.bw"))


@pytest.mark.slow
@in_venv
@needs_make
def test_pipelines_commands_as_written(checkout):
    """``make workflow`` and the demo Snakemake command run the workflow to its end.

    The yeast command trains on real data for longer than a test may take; it runs as a dry
    run (every input found, every job planned) when that data is present.
    """
    # README's command with 30 training steps per run: a config file that Snakemake merges over
    # workflows/config.yaml (the base folder of relative paths stays workflows/), passed
    # through the Makefile's WORKFLOW_ARGS.
    steps = ["--train.max_steps", "30"]
    runs = {
        "demo": {"overrides": steps},
        "demo_narrow": {"overrides": [*steps, "--model.channels", "16"]},
    }
    (checkout / "workflows" / "short.yaml").write_text(yaml.safe_dump({"runs": runs}))
    short = "--configfile workflows/config.yaml workflows/short.yaml"
    res = run(f'{PIPELINES[0]} WORKFLOW_ARGS="{short}"', checkout, timeout=1800)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    report = (checkout / "results" / "report.md").read_text()
    assert "## Run `demo`" in report and "## Run `demo_narrow`" in report
    # the README's Snakemake line is the same workflow: nothing left to do
    again = run(f"{PIPELINES[1]} {short}", checkout, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Nothing to be done" in again.stdout + again.stderr
    for command in PIPELINES[2:]:
        if "config_yeast" in command and not YEAST.exists():
            continue
        dry = run(f"{command} -n", checkout, timeout=600)
        assert dry.returncode == 0, dry.stdout[-3000:] + dry.stderr[-3000:]


def test_readme_commands_parse_as_shell():
    for command in [*QUICK_START, *PIPELINES]:
        assert shlex.split(command)
