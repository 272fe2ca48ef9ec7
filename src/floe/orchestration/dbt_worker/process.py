"""The dbt worker process: import dbt, take one invocation from ``floe-dbt``, run it, report its status.

See :mod:`floe.orchestration.dbt_worker` for why; :mod:`.protocol` for the messages.
"""

from __future__ import annotations

import io
import os
import socket
import sys

from floe.orchestration.dbt_worker.protocol import PARENT_FD_ENV, receive_message, send_message, taken_path
from floe.process_exit import exit_status, run_exit_handlers
from floe.processes import die_with_parent, watch_parent_pipe
from floe.signal_relay import relay_to_main_thread


def preload(adapter_type: str | None) -> None:
    """Import what every dbt invocation imports: the CLI and the target's adapter."""
    import dbt.cli.main  # noqa: F401 - the import is the point

    if adapter_type:
        try:
            __import__(f"dbt.adapters.{adapter_type}")
        except ImportError:
            pass  # dbt reports a missing adapter itself, with its own message, when it runs


def serve(server: socket.socket, socket_path: str, adapter_type: str | None) -> int:
    """Import dbt, take one invocation on ``server`` and run it; return dbt's exit status."""
    preload(adapter_type)
    conn, _ = server.accept()
    # One invocation only: later ones find no socket and run plain dbt. The new name tells the
    # parent the worker was taken (and is running dbt) rather than never used.
    os.rename(socket_path, taken_path(socket_path))
    server.close()
    send_message(conn, {"pid": os.getpid()})
    request, fds = receive_message(conn, max_fds=3)
    if request is None or len(fds) != 3:
        return 2
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):  # as dbt's own process would with PYTHONUNBUFFERED
            stream.reconfigure(line_buffering=True, write_through=True)
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    code = run_dbt(request["dbt"], request["args"])
    run_exit_handlers()  # before the status goes out, as in a process that exits
    send_message(conn, {"exit": code})
    conn.close()
    return code


def run_dbt(dbt_path: str, args: list[str]) -> int:
    """Run dbt's command line exactly as its console script does; return the exit status."""
    from dbt.cli.main import cli

    sys.argv = [dbt_path, *args]
    try:
        cli.main(args=args, prog_name="dbt")
    except SystemExit as stop:
        return exit_status(stop.code)
    except KeyboardInterrupt:
        return 130
    return 0


def end_with_parent() -> None:
    """The worker (and the dbt it runs in-process) ends when ``floe run`` does, ``kill -9`` included.

    Two ways, as either may be missing: the kernel's parent-death signal (Linux), and EOF on
    the pipe whose write end only the parent holds (``$FLOE_DBT_WORKER_PARENT_FD``).
    """
    die_with_parent()
    fd = os.environ.pop(PARENT_FD_ENV, None)
    if fd and fd.isdigit():
        watch_parent_pipe(int(fd))


def main(argv: list[str] | None = None) -> int:
    """``python -m floe.orchestration.dbt_worker.process FD SOCKET [ADAPTER]`` (FD: the listening socket)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 2:
        sys.stderr.write("usage: python -m floe.orchestration.dbt_worker.process FD SOCKET [ADAPTER]\n")
        return 2
    end_with_parent()
    # floe-dbt forwards Ctrl-C here while dbt's main thread waits, without a timeout, for its
    # model threads: the relay makes sure the interrupt wakes it whichever thread it reaches.
    relay_to_main_thread()
    server = socket.socket(fileno=int(args[0]))
    return serve(server, args[1], args[2] if len(args) > 2 else None)


if __name__ == "__main__":
    # os._exit: exit handlers already ran before the status was sent; running them twice
    # could print after the launcher has gone.
    os._exit(main())
