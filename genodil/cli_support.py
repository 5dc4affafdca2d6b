"""Argument parsing and exit codes shared by every ``genodil`` command.

* :class:`Parser` accepts ``--flag-name`` and ``--flag_name`` for every option and names the
  nearest option for an unknown one.
* ``add_checkpoint``, ``add_fasta``, ``add_out``, ``add_device``, ``add_batch_size`` and
  ``add_quiet`` add the options that several commands share, with one wording.
* :func:`check_paths` refuses, before any work, an ``--out`` (or another output path) of the
  wrong kind: a file where a folder is written, or the reverse.
* :func:`run_command` maps outcomes to exit codes: 0 success, 2 :class:`InputError` (one
  paragraph), 130 interrupted, 1 anything else (an internal error: one line, the traceback in a
  log file; ``GENODIL_DEBUG=1`` prints it).
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

from genodil.errors import InputError

__all__ = [
    "Formatter",
    "Parser",
    "add_batch_size",
    "add_checkpoint",
    "add_device",
    "add_fasta",
    "add_out",
    "add_path",
    "add_quiet",
    "check_paths",
    "declare_path",
    "nearest_option",
    "positive_float",
    "positive_int",
    "run_command",
    "unknown_options",
]

PathKind = Literal["file", "folder"]


class Formatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Examples keep their layout; defaults are shown only where there is a real one."""

    def _get_help_string(self, action: argparse.Action) -> str:
        help_ = action.help or ""
        default = action.default
        if action.required or default is None or default is False or default == []:
            return help_
        return super()._get_help_string(action) or help_


class Parser(argparse.ArgumentParser):
    """An ArgumentParser that reads ``--a_b`` as ``--a-b`` (and the reverse)."""

    def _spelling(self, token: str) -> str:
        if not token.startswith("--") or token in self._option_string_actions:
            return token
        name, eq, value = token.partition("=")
        for alt in (name.replace("_", "-"), name[:2] + name[2:].replace("-", "_")):
            if alt in self._option_string_actions:
                return alt + eq + value
        return token

    def parse_known_args(self, args=None, namespace=None):
        """Parse as argparse does, after normalising the spelling of known options."""
        if args is not None:
            args = [self._spelling(a) if isinstance(a, str) else a for a in args]
        return super().parse_known_args(args, namespace)


def nearest_option(parser: argparse.ArgumentParser, token: str) -> str | None:
    """The option of ``parser`` closest to ``token`` (``--batchsize`` -> ``--batch-size``)."""
    name = token.split("=", 1)[0]
    options = [o for o in parser._option_string_actions if o.startswith("--")]
    near = difflib.get_close_matches(name.replace("_", "-"), options, n=1, cutoff=0.6)
    return near[0] if near else None


def positive_int(text: str) -> int:
    """Argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def positive_float(text: str) -> float:
    """Argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, not {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, not {text}")
    return value


def _device(text: str) -> str:
    ok = text in ("auto", "cpu", "cuda") or (text.startswith("cuda:") and text[5:].isdigit())
    if not ok:
        raise argparse.ArgumentTypeError(f"must be auto, cpu, cuda or cuda:N, not {text!r}")
    return text


# --------------------------------------------------------------------------- shared options


def _register_path(p: argparse.ArgumentParser, dest: str, kind: PathKind) -> None:
    paths = dict(p.get_default("_paths") or {})
    paths[dest] = kind
    p.set_defaults(_paths=paths)


def declare_path(p: argparse.ArgumentParser, flag: str, kind: PathKind) -> None:
    """Mark an existing path option as a file or a folder: said in its help, checked early."""
    action = p._option_string_actions[flag]
    if not (action.help or "").endswith(f"(a {kind})"):
        action.help = f"{action.help} (a {kind})" if action.help else f"(a {kind})"
    action.metavar = action.metavar or ("FOLDER" if kind == "folder" else "FILE")
    _register_path(p, action.dest, kind)


def add_path(
    p: argparse.ArgumentParser,
    flag: str,
    kind: PathKind,
    help_: str,
    required: bool = False,
    default: str | None = None,
) -> None:
    """An output path option; its help says whether it is a file or a folder."""
    action = p.add_argument(
        flag,
        required=required,
        default=default,
        metavar="FOLDER" if kind == "folder" else "FILE",
        help=f"{help_} (a {kind})",
    )
    _register_path(p, action.dest, kind)


def add_out(
    p: argparse.ArgumentParser,
    kind: PathKind,
    help_: str,
    required: bool = True,
    default: str | None = None,
) -> None:
    """``--out``: a folder (train, predict, interpret, ...) or a file (evaluate, scores)."""
    add_path(p, "--out", kind, help_, required=required, default=default)


def add_checkpoint(p: argparse.ArgumentParser) -> None:
    """``--checkpoint``: a checkpoint file or a run directory."""
    p.add_argument(
        "--checkpoint",
        required=True,
        metavar="CKPT",
        help="checkpoint file, or a run directory (its checkpoints/best.ckpt)",
    )


def add_fasta(
    p: argparse.ArgumentParser, required: bool = True, help_: str = "reference genome FASTA"
) -> None:
    """``--fasta``: the reference genome."""
    p.add_argument("--fasta", required=required, metavar="FASTA", help=help_)


def add_device(p: argparse.ArgumentParser) -> None:
    """``--device``: where the model runs."""
    p.add_argument(
        "--device",
        default="auto",
        type=_device,
        help="auto (a GPU if one is visible), cpu, cuda or cuda:N",
    )


def add_batch_size(p: argparse.ArgumentParser, default: int = 8, minimum: int = 1) -> None:
    """``--batch-size``: windows per forward pass."""

    def at_least(text: str) -> int:
        value = positive_int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {minimum} or more, not {value}")
        return value

    p.add_argument(
        "--batch-size",
        type=at_least,
        default=default,
        metavar="N",
        help="windows per forward pass (lower it if memory runs out)",
    )


def add_quiet(p: argparse.ArgumentParser) -> None:
    """``--quiet``: no progress display."""
    p.add_argument("--quiet", action="store_true", help="no progress bar or progress lines")


def check_paths(args: argparse.Namespace) -> None:
    """Refuse output paths of the wrong kind, or two outputs on one path, before any work.

    The options come from :func:`add_path`/:func:`declare_path`; the checks are
    :func:`genodil.outputs.check_outputs`'.

    Raises
    ------
    InputError
        A folder option names an existing file, a file option an existing folder, or two
        options name the same path.
    """
    from genodil.outputs import check_outputs

    declared = getattr(args, "_paths", None) or {}
    given = {d: getattr(args, d, None) for d in declared}
    label = {d: "--" + d.replace("_", "-") for d in declared}
    files = {label[d]: v for d, v in given.items() if v and declared[d] == "file"}
    dirs = {label[d]: v for d, v in given.items() if v and declared[d] == "folder"}
    check_outputs(files, dirs)


# --------------------------------------------------------------------------- exit codes


def _log_traceback(command: str) -> Path | None:
    """Write the current exception's traceback to a log file; None if that fails."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    try:
        fd, name = tempfile.mkstemp(prefix=f"genodil-{command}-{stamp}-", suffix=".log")
        with os.fdopen(fd, "w") as fh:
            fh.write(f"genodil {command} (argv: {sys.argv!r})\n")
            fh.write(traceback.format_exc())
        return Path(name)
    except OSError:
        return None


def _one_line(text: str, limit: int = 200) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def run_command(command: str, func: Callable[[], int]) -> int:
    """Run ``func`` and map its outcome to an exit code, printing one message on failure."""
    try:
        return func()
    except InputError as e:
        print(f"genodil {command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        detail = f"; {e}" if str(e) else ""
        print(f"genodil {command}: interrupted{detail}", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        return 0
    except Exception as e:  # noqa: BLE001 - every other exception is a bug, reported as one
        if os.environ.get("GENODIL_DEBUG", "") not in ("", "0"):
            traceback.print_exc()
        log = _log_traceback(command)
        where = f"the traceback is in {log}" if log else "no log file could be written"
        print(
            f"genodil {command}: internal error ({type(e).__name__}: {_one_line(e)}); this is "
            f"a bug in genodil, not a problem with your input: {where} (set GENODIL_DEBUG=1 to "
            "print it)",
            file=sys.stderr,
        )
        return 1


def unknown_options(parser: argparse.ArgumentParser, extra: Sequence[str]) -> InputError:
    """An error for tokens ``parser`` does not know, naming the nearest option."""
    tok = next((t for t in extra if t.startswith("-")), extra[0])
    if not tok.startswith("-"):
        return InputError(f"unexpected argument {tok!r} (see {parser.prog} --help)")
    near = nearest_option(parser, tok)
    hint = f"; did you mean {near}?" if near else ""
    return InputError(f"unknown option {tok.split('=', 1)[0]}{hint} (see {parser.prog} --help)")
