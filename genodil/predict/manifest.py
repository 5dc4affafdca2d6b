"""``manifest.json`` beside predicted bigWigs: which model wrote them, for which regions.

``genodil predict`` refuses to write into a folder whose manifest names another checkpoint (or
that holds bigWigs and no manifest), unless ``--overwrite`` is given; then the bigWigs the old
manifest lists and the new run does not write are removed, so one folder never mixes models.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from genodil.errors import InputError
from genodil.outputs import remove_quietly, write_atomic

__all__ = [
    "MANIFEST_NAME",
    "check_prediction_folder",
    "checkpoint_identity",
    "regions_record",
    "write_manifest",
]

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1


def checkpoint_identity(path: str | os.PathLike) -> dict[str, Any]:
    """Path, size, modification time and SHA-256 of a checkpoint file."""
    path = Path(path).resolve()
    st = path.stat()
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return {
        "path": str(path),
        "size": st.st_size,
        "mtime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(st.st_mtime)),
        "sha256": digest.hexdigest(),
    }


def _read(manifest: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def check_prediction_folder(
    out_dir: str | os.PathLike, checkpoint: Mapping[str, Any], *, overwrite: bool = False
) -> dict[str, Any] | None:
    """Refuse to mix another model's predictions into ``out_dir``; return its old manifest.

    Parameters
    ----------
    out_dir : path
        The ``--out`` folder of ``genodil predict`` (may not exist yet).
    checkpoint : mapping
        :func:`checkpoint_identity` of the model about to predict.
    overwrite : bool
        Allow replacing another model's predictions.

    Raises
    ------
    InputError
        The folder's manifest names another checkpoint (different SHA-256), or the folder holds
        bigWigs but no readable manifest, and ``overwrite`` is False.
    """
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return None
    old = _read(out_dir / MANIFEST_NAME)
    if old is not None:
        before = old.get("checkpoint", {})
        if before.get("sha256") == checkpoint["sha256"] or overwrite:
            return old
        raise InputError(
            f"--out {out_dir} holds predictions of another model ({before.get('path', '?')}, "
            f"per {out_dir / MANIFEST_NAME}); this run uses {checkpoint['path']}. Choose another "
            "--out folder, or pass --overwrite to replace them"
        )
    found = sorted(p.name for p in out_dir.glob("*.bw"))
    if found and not overwrite:
        raise InputError(
            f"--out {out_dir} already holds bigWigs ({', '.join(found[:4])}) without a "
            f"{MANIFEST_NAME} saying which model wrote them. Choose another --out folder, or "
            "pass --overwrite to replace them"
        )
    return None


def _units(spec: Mapping[str, Any], units: str) -> dict[str, str]:
    """Per track, which units its bigWig holds (:func:`genodil.data.tracks.describe_units`)."""
    from genodil.data.tracks import describe_units, to_track_specs

    data = spec.get("data", {}) or {}
    tracks = [{"path": "", **t} for t in data.get("tracks", []) or [] if isinstance(t, Mapping)]
    if not tracks:
        return {}
    return describe_units(to_track_specs(tracks), units, int(data.get("bin_size", 1) or 1))


def write_manifest(
    out_dir: str | os.PathLike,
    *,
    checkpoint: Mapping[str, Any],
    spec: Mapping[str, Any],
    written: Mapping[str, Path],
    regions: Any,
    npz: str | os.PathLike | None = None,
    rc_average: bool = False,
    previous: Mapping[str, Any] | None = None,
    units: str = "track",
) -> Path:
    """Write ``out_dir/manifest.json`` after a successful prediction.

    Bigwigs listed in ``previous`` (the folder's old manifest) that this run did not write are
    removed, so the folder never mixes two runs' tracks.

    Parameters
    ----------
    out_dir : path
    checkpoint : mapping
        :func:`checkpoint_identity` of the model.
    spec : mapping
        The checkpoint's genodil spec (for track units).
    written : mapping of track name to bigWig path
    regions : JSON-serialisable
        What was predicted: a list of ``chr:start-end``, ``{"bed": path}``, ``"genome"`` or
        ``{"sequences": path}``.
    npz : path or None
    rc_average : bool
    previous : mapping or None
        The manifest found before the run (from :func:`check_prediction_folder`).
    units : {"track", "model"}
        Which units the bigWigs hold (recorded per track, with what was undone).
    """
    import genodil

    out_dir = Path(out_dir)
    described = _units(spec, units)
    tracks = [
        {"name": name, "file": Path(path).name, "units": described.get(name, "unknown")}
        for name, path in written.items()
    ]
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "genodil_version": genodil.__version__,
        "command": "predict",
        "checkpoint": dict(checkpoint),
        "units": units,
        "tracks": tracks,
        "regions": regions,
        "npz": str(Path(npz).resolve()) if npz else None,
        "rc_average": bool(rc_average),
    }
    path = write_atomic(out_dir / MANIFEST_NAME, json.dumps(manifest, indent=2) + "\n")
    if previous:
        keep = {Path(p).name for p in written.values()}
        for track in previous.get("tracks", []):
            name = str(track.get("file", "")) if isinstance(track, Mapping) else ""
            if name.endswith(".bw") and "/" not in name and name not in keep:
                remove_quietly(out_dir / name)
    return path


def regions_record(
    regions: Sequence[str] | None, bed: str | None, genome: bool, sequences: str | None
) -> Any:
    """What ``genodil predict`` was asked to predict, in the manifest's ``regions`` form."""
    if sequences:
        return {"sequences": str(Path(sequences).resolve())}
    if bed:
        return {"bed": str(Path(bed).resolve())}
    if genome:
        return "genome"
    return list(regions or [])
