"""``python -m floe.daemon.guardian <store JSON> <pipe fd> -- <daemon command>``: the daemon's keeper.

Started by the wrapper (``floe daemon run``) between itself and ``dagster-daemon`` when the
lease can outlive its holder (a Kubernetes Lease). It runs the daemon and waits:

* the wrapper stops it (SIGTERM, or SIGINT from a terminal's Ctrl-C, while the wrapper lives):
  SIGTERM to the daemon, SIGKILL after the grace, exit with the daemon's status. The lease is
  the wrapper's business.
* the wrapper dies (even ``kill -9``): the pipe ``<pipe fd>``, whose only write end the wrapper
  holds, reports end of file once the whole wrapper process is gone. SIGKILL to the daemon at
  once, wait until it is reaped, then give the lease back on the wrapper's behalf — only if the
  wrapper still holds it — so a standby starts a daemon within its retry period, not a lease
  duration later. One JSON line on stdout tells when.

Not ``PR_SET_PDEATHSIG``: the kernel sends it when the wrapper's *thread* that started us ends,
and during a ``kill -9`` that comes while the wrapper's other threads still make it our parent,
so it looked like an orderly stop and the lease was left to expire.

If the guardian itself is killed, the daemon dies with it (its own ``PR_SET_PDEATHSIG``) and
the lease simply expires.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys

from floe.daemon.child import STOP_GRACE_S
from floe.processes import child_ends_with_parent, pipe_closed
from floe.signal_relay import event_on_signals

_RELEASE_TIMEOUT_S = 5.0
_USAGE = "usage: python -m floe.daemon.guardian <store JSON> <pipe fd> -- <command...>\n"


def main(argv: list[str]) -> int:
    if "--" not in argv or argv.index("--") != 2 or not argv[1].isdigit():
        sys.stderr.write(_USAGE)
        return 2
    store = json.loads(argv[0])
    command = argv[3:]
    stop = event_on_signals(signal.SIGTERM, signal.SIGINT)
    orphaned = pipe_closed(int(argv[1]))
    daemon = subprocess.Popen(command, preexec_fn=child_ends_with_parent(signal.SIGKILL))
    while not orphaned.wait(0.2):
        if stop.is_set():  # an orderly stop, asked by the living wrapper
            daemon.terminate()
            try:
                return daemon.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                daemon.kill()
                return daemon.wait()
        if daemon.poll() is not None:
            return daemon.returncode
    # The wrapper is gone: no grace for a daemon nobody leads any more.
    daemon.kill()
    code = daemon.wait()
    _emit(store, "daemon-stopped", f"dagster-daemon killed (pid {daemon.pid}): its wrapper died",
          {"reason": "the wrapper died", "pid": daemon.pid})
    _release(store)
    return code


def _release(store: dict[str, object]) -> None:
    from floe.daemon.stores import build_lock

    lock = build_lock(store)
    try:
        lock.release(_RELEASE_TIMEOUT_S)
    finally:
        lock.close()
    _emit(store, "lease-released", f"lease given back for {store.get('identity')}: its wrapper died",
          {"reason": "the wrapper died"})


def _emit(store: dict[str, object], kind: str, message: str, details: dict[str, object]) -> None:
    """One event, in the wrapper's format."""
    from floe.daemon.election import write_event

    write_event(kind, message, store.get("events") == "json", {"identity": store.get("identity"), **details})


def _exit_status(code: int) -> int:
    """A child's status as a shell reports it: killed by signal N is 128 + N (Popen says -N)."""
    return 128 - code if code < 0 else code


if __name__ == "__main__":
    sys.exit(_exit_status(main(sys.argv[1:])))
