"""The messages between ``floe-dbt`` and the dbt worker, over a SOCK_STREAM Unix socket.

Each message is a 4-byte big-endian length and that many bytes of JSON; file descriptors ride
along as SCM_RIGHTS ancillary data. One conversation per worker:

1. worker -> floe-dbt: ``{"pid": N}`` (whom to forward signals to);
2. floe-dbt -> worker: ``{"args", "env", "cwd", "dbt"}`` with its stdin, stdout and stderr attached;
3. worker -> floe-dbt: ``{"exit": code}`` once dbt has finished.

Standard library only: ``floe-dbt`` imports this and must start in milliseconds.
"""

from __future__ import annotations

import array
import json
import socket
import struct
from typing import Any

# The worker's socket, announced to floe-dbt by the parent.
WORKER_ENV = "FLOE_DBT_WORKER"
# The real dbt executable, for floe-dbt's fallback and for the worker's argv[0].
DBT_ENV = "FLOE_DBT_EXECUTABLE"
# The process that runs floe-dbt (floe run): floe-dbt ends with it, even one gone before it looked.
PARENT_PID_ENV = "FLOE_DBT_PARENT_PID"
# The worker's end of a pipe from its parent: EOF means the parent is gone (floe.processes).
PARENT_FD_ENV = "FLOE_DBT_WORKER_PARENT_FD"

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
