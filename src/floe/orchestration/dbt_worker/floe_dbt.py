"""``floe-dbt``: run ``dbt`` in the dbt worker floe started early, or plain ``dbt`` when there is none.

dagster-dbt runs this in place of ``dbt`` while a worker waits (:mod:`floe.orchestration.dbt_worker`,
announced by ``FLOE_DBT_WORKER``). It passes the worker its
arguments, environment, working directory and its own standard streams, forwards SIGINT,
SIGTERM and SIGHUP to it, and exits with dbt's status. Without a reachable worker it becomes
plain dbt (``exec``), so it is never worse than ``dbt`` itself. It ends with its parent (the
process running the dbt step, ``floe.processes.die_with_parent``): a ``floe run`` killed with
``kill -9`` leaves no dbt building behind it.

Kept to the standard library: it starts in milliseconds.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
from types import FrameType

from floe.orchestration.dbt_worker.protocol import (
    DBT_ENV,
    PARENT_PID_ENV,
    WORKER_ENV,
    receive_message,
    send_message,
)
from floe.processes import die_with_parent


def real_dbt() -> str:
    """The dbt executable: $FLOE_DBT_EXECUTABLE, else ``dbt`` beside this interpreter, else PATH's."""
    configured = os.environ.get(DBT_ENV)
    if configured:
        return configured
    beside = os.path.join(os.path.dirname(sys.executable), "dbt")
    return beside if os.path.isfile(beside) else "dbt"


def exec_dbt(args: list[str]) -> None:
    """Replace this process with plain dbt."""
    dbt = real_dbt()
    os.execvp(dbt, [dbt, *args])


def main() -> None:
    """Entry point of ``floe-dbt``: never returns."""
    args = sys.argv[1:]
    # SIGTERM when the parent ends: forwarded to the worker below, or plain dbt's after exec.
    announced = os.environ.get(PARENT_PID_ENV, "")
    die_with_parent(signal.SIGTERM, parent=int(announced) if announced.isdigit() else None)
    path = os.environ.get(WORKER_ENV)
    if not path:
        exec_dbt(args)
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(path)  # type: ignore[arg-type]
        hello, _ = receive_message(conn)
    except OSError:
        hello = None
    if hello is None:
        # The worker is gone or already served someone: nothing has run yet, so plain dbt.
        conn.close()
        exec_dbt(args)
        return
    worker_pid = int(hello["pid"])

    def forward(signum: int, _frame: FrameType | None) -> None:
        try:
            os.kill(worker_pid, signum)
        except ProcessLookupError:
            pass

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, forward)
    environment = dict(os.environ)
    environment.pop(WORKER_ENV, None)
    send_message(conn, {"args": args, "env": environment, "cwd": os.getcwd(), "dbt": real_dbt()}, fds=[0, 1, 2])
    reply, _ = receive_message(conn)  # a forwarded signal does not interrupt this (PEP 475)
    if reply is None:
        sys.stderr.write("floe-dbt: the dbt worker ended without reporting its status\n")
        os._exit(2)
    os._exit(int(reply["exit"]))


if __name__ == "__main__":
    main()
