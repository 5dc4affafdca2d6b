# Workflow config: defaults, loading, validation and path resolution.
#
# Everything here runs when Snakemake parses the workflow, so a bad config (a missing file, an
# unknown key, a track listed twice, an unknown run config) stops the workflow before any job
# starts, with a message that names the key and the file.

import copy
import difflib
import os
import re
import shlex
import shutil
import sys
from pathlib import Path

import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import update_config

# genodil.simulate.PRESETS' names (the workflow does not import genodil; a test keeps them equal)
SIMULATE_PRESETS = ("tiny", "small", "longrange", "large")

DEFAULTS = {
    # Output folder, relative to the working directory (snakemake --directory).
    "outdir": "results",
    # The genodil command: a path to the console script, or a name looked up on PATH. null: the
    # `genodil` beside the Python running Snakemake (the same venv), else the one on PATH.
    "genodil": None,
    # tiny | small | longrange | large: simulate a demo dataset into {outdir}/data and use it; null: real data.
    "simulate": None,
    "simulate_seed": 0,
    # Folder that relative data paths (fasta, vcf, and the paths inside the run configs) resolve
    # against; passed to `genodil train --data_root`. null: the files' own folders.
    "data_root": None,
    # Reference FASTA that predictions and variant scores use.
    "fasta": None,
    # VCF to score; null: no variant scoring.
    "vcf": None,
    # Training runs: name -> {config: RUN.yaml, overrides: [--section.key, value, ...]}.
    "runs": {},
    # GPUs per train/evaluate/predict/score job (0: CPU only). Declared as the `gpu` resource.
    "gpus": 0,
    # Continue an interrupted run from its last.ckpt instead of training afresh.
    "resume": False,
    "evaluate": {"split": "test", "batch_size": 8},
    "predict": {"enabled": True, "chroms": "all", "batch_size": 8, "rc_average": False},
    "score_variants": {
        "shard_size": 500,
        "scores": "SAD,logFC,maxabs,JSD",
        "batch_size": 8,
        "extra_args": [],
    },
    # Per rule group: threads, memory (MB) and wall time (minutes) of one job.
    "resources": {
        "simulate": {"threads": 1, "mem_mb": 2000, "runtime": 10},
        "check": {"threads": 1, "mem_mb": 2000, "runtime": 10},
        "train": {"threads": 2, "mem_mb": 8000, "runtime": 240},
        "evaluate": {"threads": 1, "mem_mb": 4000, "runtime": 60},
        "predict": {"threads": 1, "mem_mb": 4000, "runtime": 120},
        "merge": {"threads": 1, "mem_mb": 2000, "runtime": 30},
        "score_variants": {"threads": 1, "mem_mb": 4000, "runtime": 120},
        "report": {"threads": 1, "mem_mb": 1000, "runtime": 10},
    },
}
RUN_KEYS = ("config", "overrides")
RESOURCE_KEYS = ("threads", "mem_mb", "runtime")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _config_error(message):
    return WorkflowError(f"workflow config ({CONFIG_SOURCE}): {message}")


def _check_keys(given, valid, where):
    """Raise on a key of ``given`` that ``valid`` lacks, naming the nearest valid key."""
    if not isinstance(given, dict):
        raise _config_error(f"{where} must be a mapping, got {given!r}")
    for key in given:
        if key not in valid:
            near = difflib.get_close_matches(str(key), list(valid), n=1, cutoff=0.5)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            raise _config_error(
                f"unknown key {key!r} in {where}{hint} Valid keys: {', '.join(sorted(valid))}"
            )


def _load_workflow_config():
    """The merged config dict and the folder relative paths in it resolve against.

    With ``--configfile F`` the config is F (several: merged, the last one's folder is the base);
    without, workflows/config.yaml. ``--config key=value`` pairs go on top in both cases. We do
    not use the ``configfile:`` directive: it would merge the default file's runs into the runs
    of a ``--configfile``.
    """
    if workflow.overwrite_configfiles:
        path = Path(workflow.overwrite_configfiles[-1]).resolve()
        return dict(config), path.parent, str(path)
    path = WORKFLOW_DIR / "config.yaml"
    loaded = yaml.safe_load(path.read_text()) or {}
    update_config(loaded, copy.deepcopy(dict(config)))
    return loaded, WORKFLOW_DIR, str(path)


RAW_CONFIG, CONFIG_DIR, CONFIG_SOURCE = _load_workflow_config()
_check_keys(RAW_CONFIG, DEFAULTS, "the top level")
for _section in ("evaluate", "predict", "score_variants", "resources"):
    _check_keys(RAW_CONFIG.get(_section) or {}, DEFAULTS[_section], f"section {_section!r}")
for _group, _res in (RAW_CONFIG.get("resources") or {}).items():
    _check_keys(_res or {}, RESOURCE_KEYS, f"resources.{_group}")
CFG = copy.deepcopy(DEFAULTS)
update_config(CFG, {k: v for k, v in RAW_CONFIG.items() if k != "runs"})
CFG["runs"] = RAW_CONFIG.get("runs") or {}
# Later rules see the resolved values through `config` too.
config.clear()
config.update(CFG)


def _resolve(path, root):
    """``path`` as given when absolute, else under ``root``; keeps relative roots relative."""
    p = Path(str(path)).expanduser()
    return os.path.normpath(p if p.is_absolute() else Path(root) / p)


def _as_args(value, where):
    """A list of command-line tokens from a YAML list or one shell-quoted string."""
    if value is None:
        return []
    if isinstance(value, str):
        return shlex.split(value)
    if isinstance(value, list) and all(isinstance(v, (str, int, float, bool)) for v in value):
        return [str(v).lower() if isinstance(v, bool) else str(v) for v in value]
    raise _config_error(f"{where} must be a list of strings or one string, got {value!r}")


def _positive_int(value, where, allow_zero=False):
    if isinstance(value, bool) or not isinstance(value, int) or value < (0 if allow_zero else 1):
        lowest = 0 if allow_zero else 1
        raise _config_error(f"{where} must be an integer >= {lowest}, got {value!r}")
    return value


def _find_genodil(given):
    """Shell text of the genodil command: ``given``, else the one beside this Python, else PATH.

    Running ``.venv/bin/snakemake`` without activating the venv leaves the venv's ``bin`` off
    PATH; the ``genodil`` installed beside that Python is then the one that belongs with it.
    """
    if given:
        return str(given)  # shell text, used as written
    beside = Path(sys.executable).parent / "genodil"
    if beside.is_file() and os.access(beside, os.X_OK):
        return shlex.quote(str(beside))
    on_path = shutil.which("genodil")
    if on_path:
        return shlex.quote(on_path)
    raise _config_error(
        f"no genodil command: none beside {sys.executable} and none on PATH. Install genodil "
        "into the environment that runs Snakemake (make install; or pip install "
        "'genodil[workflow]'), or set genodil: /path/to/genodil in the workflow config"
    )


OUTDIR = str(CFG["outdir"]).rstrip("/") or "."
GENODIL = _find_genodil(CFG["genodil"])
PYTHON = sys.executable
SCRIPTS = WORKFLOW_DIR / "scripts"

SIMULATE = CFG["simulate"]
if SIMULATE is not None and SIMULATE not in SIMULATE_PRESETS:
    raise _config_error(
        f"simulate must be one of {', '.join(SIMULATE_PRESETS)} or null, got {SIMULATE!r}"
    )
if SIMULATE:
    if CFG["data_root"] is not None:
        raise _config_error(
            "give either simulate (the data is simulated into {outdir}/data) or data_root, not both"
        )
    DATA_ROOT = f"{OUTDIR}/data"
elif CFG["data_root"] is not None:
    DATA_ROOT = _resolve(CFG["data_root"], CONFIG_DIR)
    if not Path(DATA_ROOT).is_dir():
        raise _config_error(f"data_root {DATA_ROOT} is not a folder: check the path")
else:
    DATA_ROOT = None
DATA_ROOT_ARGS = ["--data_root", DATA_ROOT] if DATA_ROOT else []
_FILE_ROOT = DATA_ROOT or CONFIG_DIR

if not CFG["fasta"]:
    raise _config_error("fasta is required: the reference FASTA for predictions and variants")
FASTA = _resolve(CFG["fasta"], _FILE_ROOT)
VCF = _resolve(CFG["vcf"], _FILE_ROOT) if CFG["vcf"] else None
if not SIMULATE:
    for _what, _path in (("fasta", FASTA), ("vcf", VCF)):
        if _path and not Path(_path).is_file():
            raise _config_error(f"{_what} file {_path} does not exist: check the path")

GPUS = _positive_int(CFG["gpus"], "gpus", allow_zero=True)
DEVICE_ARGS = ["--device", "cuda" if GPUS else "cpu"]
TRAIN_DEVICE_ARGS = (
    ["--train.accelerator", "gpu", "--train.devices", str(GPUS)]
    if GPUS
    else ["--train.accelerator", "cpu"]
)

RES = CFG["resources"]
for _group, _res in RES.items():
    for _key, _value in _res.items():
        _positive_int(_value, f"resources.{_group}.{_key}")

if CFG["evaluate"]["split"] not in ("train", "valid", "test"):
    raise _config_error(
        f"evaluate.split must be train, valid or test, got {CFG['evaluate']['split']!r}"
    )
_positive_int(CFG["evaluate"]["batch_size"], "evaluate.batch_size")
_positive_int(CFG["predict"]["batch_size"], "predict.batch_size")
if _positive_int(CFG["score_variants"]["batch_size"], "score_variants.batch_size") < 2:
    raise _config_error(
        "score_variants.batch_size must be >= 2: a batch holds a reference and an "
        "alternative window"
    )
_positive_int(CFG["simulate_seed"], "simulate_seed", allow_zero=True)
SHARD_SIZE = _positive_int(CFG["score_variants"]["shard_size"], "score_variants.shard_size")
SCORE_EXTRA_ARGS = _as_args(CFG["score_variants"]["extra_args"], "score_variants.extra_args")
PREDICT = bool(CFG["predict"]["enabled"])
PREDICT_CHROMS = CFG["predict"]["chroms"]
if PREDICT_CHROMS != "all" and not (
    isinstance(PREDICT_CHROMS, list)
    and PREDICT_CHROMS
    and all(isinstance(c, str) for c in PREDICT_CHROMS)
):
    raise _config_error(
        f"predict.chroms must be 'all' or a list of chromosome names, got {PREDICT_CHROMS!r}"
    )


def _run_config_tracks(run, path):
    """Track names of a run config, checking the config's data files exist."""
    try:
        raw = yaml.safe_load(Path(path).read_text()) or {}
    except yaml.YAMLError as e:
        raise _config_error(f"runs.{run}.config: {path} is not valid YAML: {e}") from None
    data = raw.get("data") if isinstance(raw, dict) else None
    tracks = (data or {}).get("tracks") if isinstance(data, dict) else None
    if not isinstance(tracks, list) or not tracks:
        raise _config_error(
            f"runs.{run}.config: {path} lists no tracks (data.tracks: [{{name, path}}, ...])"
        )
    names = []
    for i, track in enumerate(tracks):
        name = track.get("name") if isinstance(track, dict) else None
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise _config_error(
                f"runs.{run}.config: {path}: data.tracks[{i}] needs a name of letters, digits, "
                f"'_', '.' or '-', got {name!r}"
            )
        if name in names:
            raise _config_error(
                f"runs.{run}.config: {path}: track {name!r} is listed twice in data.tracks; "
                "give each track a distinct name"
            )
        names.append(name)
    if not SIMULATE:
        # The same rule as `genodil train`: --data_root, else the file's data_root, else its folder.
        root = DATA_ROOT or _resolve(raw.get("data_root") or ".", Path(path).parent)
        wanted = [("data.fasta", data.get("fasta"))]
        wanted += [(f"data.tracks[{i}] ({t['name']})", t.get("path")) for i, t in enumerate(tracks)]
        wanted += [(f"data.{k}", data.get(k)) for k in ("blacklist", "regions")]
        for what, rel in wanted:
            if rel and not Path(_resolve(rel, root)).exists():
                raise _config_error(
                    f"runs.{run}.config: {path}: {what} file {_resolve(rel, root)} does not exist "
                    "(check the path, or the workflow's data_root)"
                )
    return names


if not isinstance(CFG["runs"], dict) or not CFG["runs"]:
    raise _config_error("runs must name at least one training run: {name: {config: RUN.yaml}}")
RUNS = {}
for _run, _spec in CFG["runs"].items():
    if not NAME_RE.match(str(_run)):
        raise _config_error(f"run name {_run!r} must be letters, digits, '_', '.' or '-'")
    if isinstance(_spec, str):
        _spec = {"config": _spec}
    _check_keys(_spec or {}, RUN_KEYS, f"runs.{_run}")
    if not (_spec or {}).get("config"):
        raise _config_error(f"runs.{_run} needs a config: the genodil run config YAML it trains")
    _path = _resolve(_spec["config"], CONFIG_DIR)
    if not Path(_path).is_file():
        raise _config_error(
            f"runs.{_run}.config: run config {_path} does not exist (relative paths resolve "
            f"against {CONFIG_DIR})"
        )
    RUNS[str(_run)] = {
        "config": _path,
        "overrides": _as_args(_spec.get("overrides"), f"runs.{_run}.overrides"),
        "tracks": _run_config_tracks(_run, _path),
    }
ALL_TRACKS = sorted({t for spec in RUNS.values() for t in spec["tracks"]})


wildcard_constraints:
    run="|".join(re.escape(r) for r in RUNS),
    track="|".join(re.escape(t) for t in ALL_TRACKS),
    chrom=r"[^/]+",
    shard=r"shard_\d+",


def logged(command):
    """Shell text that runs ``command`` into {log} and, on failure, shows the log's end."""
    return command + " > {log} 2>&1 || {{ status=$?; tail -n 25 {log} >&2; exit $status; }}"


def quoted(args):
    """Command-line tokens joined for the shell, each quoted as needed."""
    return " ".join(shlex.quote(a) for a in args)


def run_ckpt(run):
    return f"{OUTDIR}/runs/{run}/checkpoints/best.ckpt"


def chrom_sizes_file(run):
    return f"{OUTDIR}/checks/{run}.chrom.sizes"


def read_chrom_sizes(path):
    sizes = {}
    for line in Path(path).read_text().splitlines():
        if line.strip():
            name, length = line.split("\t")[:2]
            sizes[name] = int(length)
    return sizes


def final_outputs():
    """Every file the workflow ends with: per run metrics, plots, bigWigs, scores; the report."""
    out = [f"{OUTDIR}/report.md"]
    for run, spec in RUNS.items():
        out += [f"{OUTDIR}/eval/{run}/metrics.json", f"{OUTDIR}/eval/{run}/plots"]
        if PREDICT:
            out += [f"{OUTDIR}/predict/{run}/{track}.bw" for track in spec["tracks"]]
        if VCF:
            out += [
                f"{OUTDIR}/variants/{run}/scores.tsv",
                f"{OUTDIR}/variants/{run}/scores.skipped.tsv",
            ]
    return out
