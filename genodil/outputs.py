"""The one place that writes output files: temp name, then rename; errors a person can act on.

Every command writes through :func:`atomic_output` (or :func:`atomic_outputs` for a group of
files, :func:`write_atomic` for a small text or bytes payload). The contract:

- the work happens on a hidden temporary file beside the target, ``.<name>.tmp-<pid>``, so a
  kill never leaves a complete-looking output; the temp is renamed onto the target only when
  the block finishes, and removed on any exception, Ctrl-C (``KeyboardInterrupt``), SIGTERM or
  ``SystemExit``;
- temporaries left by earlier *killed* runs of the same output (``.<name>.tmp-<pid>`` and
  ``.<name>.parts-<pid>`` whose process is gone) are removed the next time it is written;
- the destination folder is created and checked to be writable *before* anything is written
  (``pyBigWig.open(path, "w")`` segfaults on an unwritable folder), and an unwritable folder, a
  full disk, a read-only file system, a directory where a file should go and the like raise
  :class:`~genodil.errors.InputError` naming the path and what to do (exit 2);
- :func:`check_outputs` looks at every output a command will write, before any heavy work, and
  refuses two that coincide, a file output that is an existing directory (or the reverse), and
  existing files the user did not ask to overwrite.

:func:`scratch_dir` gives streamed parts (e.g. the ``.npy`` files of
:mod:`genodil.predict.npz`) a hidden staging folder that never outlives the command.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from genodil.errors import InputError

__all__ = [
    "atomic_output",
    "atomic_outputs",
    "check_outputs",
    "clean_stale_temps",
    "ensure_writable_dir",
    "output_error",
    "remove_quietly",
    "scratch_dir",
    "temp_path",
    "write_atomic",
]

PathLike = str | os.PathLike

# Errors that only writing can cause: mapped whatever file they name.
_SPACE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
# Errors that reading could cause too: mapped only when they name an output path.
_PATH_ERRNOS = {
    errno.EACCES,
    errno.EPERM,
    errno.EROFS,
    errno.EISDIR,
    errno.ENOTDIR,
    errno.ENAMETOOLONG,
    errno.ENOENT,
    errno.EEXIST,
    errno.ETXTBSY,
}
_ADVICE = {
    errno.ENOSPC: "no space left on the device; free some space or write elsewhere",
    errno.EDQUOT: "disk quota exceeded; free some space or write elsewhere",
    errno.EFBIG: "file too large for this file system; write elsewhere",
    errno.EROFS: "the file system is read-only; choose a writable location for the output",
    errno.EACCES: "permission denied; choose a folder you can write to",
    errno.EPERM: "operation not permitted; choose a folder you can write to",
    errno.EISDIR: "it is an existing directory; give a file name, or remove the directory",
    errno.ENOTDIR: "a part of the path is a regular file, not a folder; choose another location",
    errno.ENAMETOOLONG: "the name is too long; choose a shorter path",
    errno.ENOENT: "its folder disappeared while writing; check the path",
    errno.EEXIST: "a file of that name exists where a folder is needed; choose another location",
}


def temp_path(path: PathLike, *, kind: str = "tmp", suffix: str = "") -> Path:
    """The hidden temporary name beside ``path``: ``.<name>.<kind>-<pid><suffix>``.

    Parameters
    ----------
    path : path
        The final output.
    kind : {"tmp", "parts"}
        ``tmp`` for a file renamed onto ``path``; ``parts`` for a staging folder.
    suffix : str
        Appended after the pid, for writers that insist on an extension.
    """
    path = Path(path)
    return path.with_name(f".{path.name}.{kind}-{os.getpid()}{suffix}")


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def clean_stale_temps(path: PathLike) -> list[Path]:
    """Remove temporaries of ``path`` left by killed runs; return what was removed.

    Only ``.<name>.tmp-<pid>*`` and ``.<name>.parts-<pid>*`` whose process no longer exists are
    touched, so a run writing the same output concurrently keeps its files.
    """
    path = Path(path)
    folder = path.parent
    pattern = re.compile(rf"^\.{re.escape(path.name)}\.(?:tmp|parts)-(\d+)(?:\..*)?$")
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        m = pattern.match(entry.name)
        if m and not _pid_alive(int(m.group(1))):
            remove_quietly(Path(entry.path))
            removed.append(Path(entry.path))
    return removed


def remove_quietly(path: PathLike | None) -> None:
    """Delete a file or folder if present; never raises."""
    if path is None:
        return
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


def output_error(exc: OSError, path: PathLike, what: str = "output") -> InputError:
    """An :class:`InputError` for an ``OSError`` met while writing ``path``.

    Parameters
    ----------
    exc : OSError
    path : path
        The output the user named (not the temporary name).
    what : str
        How the user knows this output, e.g. ``"--npz"``; used in the message.
    """
    advice = _ADVICE.get(exc.errno or 0, f"{exc.strerror or exc}; check the location")
    return InputError(f"cannot write {what} {path}: {advice}")


def _names_output(exc: OSError, paths: Sequence[Path]) -> bool:
    """True when an error can only come from writing, or names one of ``paths``/their folders."""
    if exc.errno in _SPACE_ERRNOS:
        return True
    if exc.errno not in _PATH_ERRNOS:
        return False
    named = [os.fspath(f) for f in (exc.filename, exc.filename2) if f is not None]
    if not named:
        return False
    targets = {os.path.abspath(p) for p in paths} | {os.path.abspath(p.parent) for p in paths}
    return any(os.path.abspath(n) in targets for n in named)


def _nearest_existing(folder: Path) -> Path:
    probe = folder
    while not os.path.lexists(probe) and probe != probe.parent:
        probe = probe.parent
    return probe


def ensure_writable_dir(
    folder: PathLike, what: str = "output folder", *, create: bool = True
) -> Path:
    """Prove ``folder`` writable by creating (and removing) a hidden file in it.

    ``os.access`` is not enough (it says yes to root on a read-only mount). Call this before
    opening a writer that crashes on an unwritable folder (``pyBigWig.open(path, "w")``
    segfaults).

    Parameters
    ----------
    folder : path
    what : str
        How the user knows the folder, for the message.
    create : bool
        Create ``folder`` (and its parents) if missing. When False nothing is created: the
        nearest existing ancestor is probed instead, so a later ``mkdir`` will succeed.

    Raises
    ------
    InputError
        The folder (or its nearest existing ancestor) is a file, or cannot be written.
    """
    folder = Path(folder)
    where = _nearest_existing(folder)
    if not where.is_dir():
        if where == folder:
            raise InputError(f"cannot write into {what} {folder}: it is a file, not a folder")
        raise InputError(
            f"cannot create {what} {folder}: {where} is a regular file, not a folder; choose "
            "another location"
        )
    try:
        if create:
            folder.mkdir(parents=True, exist_ok=True)
            where = folder
        fd, probe = tempfile.mkstemp(prefix=".genodil-probe-", dir=where)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise output_error(e, folder, what) from None
    return folder


@contextlib.contextmanager
def _sigterm_as_exit() -> Iterator[None]:
    """While active in the main thread, SIGTERM raises ``SystemExit(143)`` so cleanup runs.

    Only when SIGTERM has its default action: a handler someone else installed is left alone.
    """
    previous = None
    if threading.current_thread() is threading.main_thread():
        with contextlib.suppress(ValueError, OSError):
            if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
                previous = signal.signal(signal.SIGTERM, _raise_exit)
    try:
        yield
    finally:
        if previous is not None:
            with contextlib.suppress(ValueError, OSError):
                signal.signal(signal.SIGTERM, previous)


def _raise_exit(signum, frame) -> None:
    raise SystemExit(128 + signum)


def _disk_full(folder: Path) -> bool:
    try:
        st = os.statvfs(folder)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < (1 << 20)


@contextlib.contextmanager
def atomic_outputs(
    paths: Sequence[PathLike], *, what: Sequence[str] | None = None, suffix: str = ""
) -> Iterator[list[Path]]:
    """Write several outputs through hidden temporaries; rename them all only on success.

    Parameters
    ----------
    paths : list of path
        Final outputs; must be distinct. Their folders are created and checked writable.
    what : list of str or None
        How the user names each output (``"--out"``, ``"track dnase"``), for messages.
    suffix : str
        Extension appended to every temporary name (for writers that add their own).

    Yields
    ------
    list of Path
        One empty temporary file per output, created already, in the same order.

    Raises
    ------
    InputError
        Two outputs coincide, a folder is not writable, the disk fills up, an output path is an
        existing directory; every temporary is removed first.
    """
    finals = [Path(p) for p in paths]
    labels = list(what) if what is not None else ["output"] * len(finals)
    check_outputs(dict(zip(_unique_labels(labels, finals), finals, strict=True)))
    temps = [temp_path(p, suffix=suffix) for p in finals]
    try:
        with _sigterm_as_exit():
            for final, label in zip(finals, labels, strict=True):
                ensure_writable_dir(final.parent, f"folder of {label}")
                clean_stale_temps(final)
            for tmp, final, label in zip(temps, finals, labels, strict=True):
                try:
                    tmp.touch()
                except OSError as e:
                    raise output_error(e, final, label) from None
            yield temps
            for tmp, final, label in zip(temps, finals, labels, strict=True):
                try:
                    os.replace(tmp, final)
                except OSError as e:
                    raise output_error(e, final, label) from None
    except OSError as e:
        if _names_output(e, [*finals, *temps]):
            index = _which(e, finals, temps)
            raise output_error(e, finals[index], labels[index]) from None
        raise
    except InputError:
        raise
    except Exception:
        full = [i for i, f in enumerate(finals) if _disk_full(f.parent)]
        if full:  # a C writer (pyBigWig, libzip) failing on a full disk says little
            err = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            raise output_error(err, finals[full[0]], labels[full[0]]) from None
        raise
    finally:
        for tmp in temps:
            remove_quietly(tmp)


def _which(exc: OSError, finals: list[Path], temps: list[Path]) -> int:
    named = {os.path.abspath(f) for f in (exc.filename, exc.filename2) if f is not None}
    for i, (final, tmp) in enumerate(zip(finals, temps, strict=True)):
        if {os.path.abspath(final), os.path.abspath(tmp)} & named:
            return i
    return 0


def _unique_labels(labels: list[str], paths: list[Path]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for label, path in zip(labels, paths, strict=True):
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} ({path.name})")
    return out


@contextlib.contextmanager
def atomic_output(path: PathLike, *, what: str = "output", suffix: str = "") -> Iterator[Path]:
    r"""Yield a hidden temporary path beside ``path``; rename it onto ``path`` on success.

    The temporary (``.<name>.tmp-<pid><suffix>``, created empty) is removed on any exception,
    ``KeyboardInterrupt``, ``SystemExit`` or SIGTERM; leftovers of earlier killed runs of the
    same output are removed first. OS errors that come from writing (full disk, read-only or
    unwritable folder, a directory in the way) become :class:`~genodil.errors.InputError`
    naming ``path`` and ``what``.

    Examples
    --------
    >>> with atomic_output("scores.tsv", what="--out") as tmp:  # doctest: +SKIP
    ...     table.to_csv(tmp, sep="\t")
    """
    with atomic_outputs([path], what=[what], suffix=suffix) as (tmp,):
        yield tmp


def write_atomic(path: PathLike, data: bytes | str, *, what: str = "output") -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` through :func:`atomic_output`."""
    path = Path(path)
    with atomic_output(path, what=what) as tmp:
        if isinstance(data, str):
            tmp.write_text(data, encoding="utf-8")
        else:
            tmp.write_bytes(data)
    return path


@contextlib.contextmanager
def scratch_dir(path: PathLike, *, what: str = "output") -> Iterator[Path]:
    """A hidden staging folder ``.<name>.parts-<pid>`` beside ``path``, always removed after.

    Leftover staging folders of killed runs of the same output are removed first.
    """
    path = Path(path)
    ensure_writable_dir(path.parent, f"folder of {what}")
    clean_stale_temps(path)
    folder = temp_path(path, kind="parts")
    try:
        with _sigterm_as_exit():
            try:
                folder.mkdir()
            except OSError as e:
                raise output_error(e, path, what) from None
            yield folder
    finally:
        remove_quietly(folder)


def _kind_error(label: str, path: Path, kind: str) -> InputError | None:
    if kind == "file" and path.is_dir():
        return InputError(
            f"{label} {path} is an existing directory, but a file is written there; give a "
            "file name (or remove the directory)"
        )
    if kind == "dir" and path.exists() and not path.is_dir():
        return InputError(
            f"{label} {path} is an existing file, but an output folder is written there; give "
            "a folder name (or remove the file)"
        )
    return None


def check_outputs(
    files: Mapping[str, PathLike | None],
    dirs: Mapping[str, PathLike | None] | None = None,
    *,
    overwrite: bool = True,
    writable: bool = False,
) -> None:
    """Check, before any work, every output a command will write.

    Parameters
    ----------
    files : mapping of label to path or None
        File outputs, labelled as the user knows them (``"--out"``, ``"--npz"``,
        ``"bigWig of track dnase"``); ``None`` entries are ignored.
    dirs : mapping of label to path or None
        Folder outputs.
    overwrite : bool
        When False, an existing file output is an error telling the user to pass
        ``--overwrite`` (or remove it).
    writable : bool
        Also prove each output's folder writable (or, if it does not exist yet, its nearest
        existing ancestor); nothing is created (:func:`ensure_writable_dir`).

    Raises
    ------
    InputError
        Two outputs are the same file (or one is another's temporary name), a file output is an
        existing directory or a folder output an existing file, an output exists and
        ``overwrite`` is False, or (with ``writable``) a folder cannot be written.
    """
    items = [(k, Path(v), "file") for k, v in files.items() if v is not None]
    items += [(k, Path(v), "dir") for k, v in (dirs or {}).items() if v is not None]
    seen: dict[str, str] = {}
    for label, path, kind in items:
        err = _kind_error(label, path, kind)
        if err is not None:
            raise err
        key = os.path.realpath(path)
        if key in seen:
            raise InputError(
                f"{label} and {seen[key]} are the same file ({path}); give each output its own path"
            )
        seen[key] = label
    for label, path, _kind in items:
        for kind in ("tmp", "parts"):
            hit = seen.get(os.path.realpath(temp_path(path, kind=kind)))
            if hit is not None:
                raise InputError(
                    f"{hit} is the temporary name genodil uses while writing {label} {path}; "
                    "choose another name"
                )
    if not overwrite:
        existing = [(k, p) for k, p, kind in items if kind == "file" and p.exists()]
        if existing:
            shown = ", ".join(f"{k} {p}" for k, p in existing[:4])
            raise InputError(
                f"{shown} already exist{'s' if len(existing) == 1 else ''}; pass --overwrite "
                "to replace, or choose another path"
            )
    if writable:
        for label, path, kind in items:
            folder = path if kind == "dir" else path.parent
            ensure_writable_dir(folder, f"folder of {label}", create=False)
