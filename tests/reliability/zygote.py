"""A process that imports genodil once, then forks one child per CLI call.

Each child is a fresh process running ``genodil.cli.main(argv)``, exactly what the console
script runs, with its own working folder, environment, file-size limit and stdout/stderr
files. Importing torch and Lightning costs seconds of CPU per process; forking from a
process that already holds them makes a catalogue of a hundred calls affordable. The
zygote never runs a model itself, so its children start with clean thread pools.

Protocol: one JSON request per stdin line (argv, cwd, env, fsize, out, err); the child's
stdout and stderr go through pipes into the files ``out`` and ``err``; one JSON reply per
stdout line (``{"code": exit status}``).
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
import traceback


def _child(req: dict, out: int, err: int) -> None:
    os.chdir(req["cwd"])
    os.environ.update(req.get("env") or {})
    if req.get("fsize") is not None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (req["fsize"], req["fsize"]))
    # Pipes, as for a subprocess: the file-size limit must not cut the messages short.
    os.dup2(out, 1)
    os.dup2(err, 2)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    code = 1
    try:
        from genodil.cli import main

        code = main(req["argv"])
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:  # noqa: BLE001 - print what the interpreter prints, exit 1
        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(int(code or 0))


def _drain(pipes: dict[int, str]) -> None:
    """Copy each pipe to its file until every writer has closed it."""
    import select

    files = {fd: open(path, "wb") for fd, path in pipes.items()}  # noqa: SIM115
    try:
        while files:
            ready, _, _ = select.select(list(files), [], [])
            for fd in ready:
                chunk = os.read(fd, 65536)
                if chunk:
                    files[fd].write(chunk)
                else:
                    files.pop(fd).close()
                    os.close(fd)
    finally:
        for f in files.values():
            f.close()


def serve() -> None:
    """Answer requests from stdin until it closes."""
    # the imports every child shares
    import genodil.cli
    import genodil.data.datamodule
    import genodil.predict.tiles
    import genodil.train.run  # noqa: F401

    reply = sys.stdout
    sys.stdout = sys.stderr  # nothing but replies on the reply channel
    for line in sys.stdin:
        req = json.loads(line)
        (out_r, out_w), (err_r, err_w) = os.pipe(), os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(out_r)
            os.close(err_r)
            _child(req, out_w, err_w)
        os.close(out_w)
        os.close(err_w)
        _drain({out_r: req["out"], err_r: req["err"]})
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        reply.write(json.dumps({"code": code}) + "\n")
        reply.flush()


if __name__ == "__main__":
    serve()
