"""A process that imports genodil once, then forks one child per CLI call.

Each child is a fresh process running ``genodil.cli.main(argv)``, exactly what the console
script runs, with its own working folder, environment, file-size limit and stdout/stderr
files. Importing torch and Lightning costs seconds of CPU per process; forking from a
process that already holds them makes a catalogue of a hundred calls affordable. The
zygote never runs a model itself, so its children start with clean thread pools.

Protocol: one JSON request per stdin line (argv, cwd, env, fsize, out, err); one JSON reply
per stdout line (``{"code": exit status}``).
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
import traceback


def _child(req: dict) -> None:
    os.chdir(req["cwd"])
    os.environ.update(req.get("env") or {})
    if req.get("fsize") is not None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (req["fsize"], req["fsize"]))
    out = os.open(req["out"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    err = os.open(req["err"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
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
        pid = os.fork()
        if pid == 0:
            _child(req)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        reply.write(json.dumps({"code": code}) + "\n")
        reply.flush()


if __name__ == "__main__":
    serve()
