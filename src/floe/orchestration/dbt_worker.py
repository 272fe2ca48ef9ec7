"""A dbt process started before it is needed, so a run does not wait for dbt to import.

``floe run`` spends its first seconds importing Dagster and setting up the run; a fresh
``dbt`` process then spends over a second importing dbt-core before it reads its arguments.
The two are independent, so floe starts this worker first: it imports dbt-core and the
adapter of the compute target on the other core, then waits on a Unix socket. When the dbt
step invokes ``dbt`` through dagster-dbt, the executable it runs is ``floe-dbt``
(``floe.orchestration.dbt_launcher``), which hands this worker its arguments, environment,
working directory and its own stdin, stdout and stderr (file descriptors passed over the
socket), and exits with the worker's exit status. From dagster-dbt's side nothing differs
from a ``dbt`` child: same arguments, same JSON lines on the same pipe, same exit code.

The worker serves one invocation and exits; its socket is renamed when it is taken, so a
second invocation (or one after the worker ended) runs plain ``dbt``. The parent binds the
socket and hands it over, so a launcher never arrives before the worker listens. Nothing runs
before the invocation arrives except imports: no file is read, no connection opened.

Protocol, over a SOCK_STREAM Unix socket (``send_message``/``receive_message``): worker ->
launcher ``{"pid": N}``; launcher -> worker ``{"args", "env", "cwd", "dbt"}`` with the three
descriptors attached; worker -> launcher ``{"exit": code}`` once dbt has finished.
"""

from __future__ import annotations

import array
import io
import json
import os
import socket
import struct
import sys
from typing import Any

from floe.process_exit import exit_status, run_exit_handlers

MAX_MESSAGE = 16 * 1024 * 1024
_LENGTH = struct.Struct("!I")


def send_message(conn: socket.socket, message: dict[str, Any], fds: list[int] | None = None) -> None:
    """Send one length-prefixed JSON message, with file descriptors attached if given."""
    body = json.dumps(message).encode()
    data = _LENGTH.pack(len(body)) + body
    if fds:
        ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds).tobytes())]
        sent = conn.sendmsg([data], ancillary)
        if sent < len(data):
            # Only the rest: an empty send after a fast peer has already answered and closed
            # (e.g. dbt refusing an unknown command at once) fails with EPIPE.
            conn.sendall(data[sent:])
    else:
        conn.sendall(data)


def receive_message(conn: socket.socket, max_fds: int = 0) -> tuple[dict[str, Any] | None, list[int]]:
    """One message and the descriptors that came with it; (None, []) when the peer closed."""
    fds: list[int] = []
    header = b""
    while len(header) < _LENGTH.size:
        if max_fds and not fds:
            chunk, ancillary, _flags, _addr = conn.recvmsg(_LENGTH.size - len(header),
                                                          socket.CMSG_SPACE(max_fds * array.array("i").itemsize))
            for level, kind, payload in ancillary:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    received = array.array("i")
                    received.frombytes(payload[: len(payload) - len(payload) % received.itemsize])
                    fds.extend(received)
        else:
            chunk = conn.recv(_LENGTH.size - len(header))
        if not chunk:
            return None, fds
        header += chunk
    (length,) = _LENGTH.unpack(header)
    if length > MAX_MESSAGE:
        raise ValueError(f"message of {length} bytes is over the limit")
    body = b""
    while len(body) < length:
        chunk = conn.recv(length - len(body))
        if not chunk:
            return None, fds
        body += chunk
    return json.loads(body), fds


def taken_path(socket_path: str) -> str:
    """Where the socket file is moved once an invocation has taken the worker."""
    return socket_path + ".taken"


def preload(adapter_type: str | None) -> None:
    """Import what every dbt invocation imports: the CLI and the target's adapter."""
    import dbt.cli.main  # noqa: F401 - the import is the point

    if adapter_type:
        try:
            __import__(f"dbt.adapters.{adapter_type}")
        except ImportError:
            pass  # dbt reports a missing adapter itself, with its own message, when it runs


def listen(socket_path: str) -> socket.socket:
    """The worker's listening socket. The parent makes it and hands it over (pass_fds), so a
    launcher that comes before the worker has even started waits in the backlog."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(socket_path)
    server.listen(1)
    return server


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


def main(argv: list[str] | None = None) -> int:
    """``python -m floe.orchestration.dbt_worker FD SOCKET [ADAPTER]`` (FD: the listening socket)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) < 2:
        sys.stderr.write("usage: python -m floe.orchestration.dbt_worker FD SOCKET [ADAPTER]\n")
        return 2
    server = socket.socket(fileno=int(args[0]))
    return serve(server, args[1], args[2] if len(args) > 2 else None)


if __name__ == "__main__":
    # os._exit: exit handlers already ran before the status was sent; running them twice
    # could print after the launcher has gone.
    os._exit(main())
