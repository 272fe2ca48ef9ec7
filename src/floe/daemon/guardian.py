"""``python -m floe.daemon.guardian <store JSON> -- <daemon command>``: the daemon's keeper.

Started by the wrapper (``floe daemon run``) between itself and ``dagster-daemon`` when the
lease can outlive its holder (a Kubernetes Lease). It runs the daemon and waits:

* the wrapper stops it (SIGTERM while the wrapper lives): SIGTERM to the daemon, SIGKILL after
  the grace, exit with the daemon's status. The lease is the wrapper's business.
* the wrapper dies (the kernel sends SIGTERM through ``PR_SET_PDEATHSIG``; even ``kill -9``):
  SIGKILL to the daemon at once, wait until it is reaped, then give the lease back on the
  wrapper's behalf — only if the wrapper still holds it — so a standby starts a daemon within
  its retry period, not a lease duration later. One JSON line on stdout tells when.

If the guardian itself is killed, the daemon dies with it (its own ``PR_SET_PDEATHSIG``) and
the lease simply expires.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

from floe.daemon.child import STOP_GRACE_S
from floe.processes import child_ends_with_parent, die_with_parent
from floe.signal_relay import event_on_signals

_RELEASE_TIMEOUT_S = 5.0


def main(argv: list[str]) -> int:
    if "--" not in argv or argv.index("--") != 1:
        sys.stderr.write("usage: python -m floe.daemon.guardian <store JSON> -- <command...>\n")
        return 2
    store = json.loads(argv[0])
    command = argv[2:]
    wrapper = os.getppid()
    stop = event_on_signals(signal.SIGTERM, signal.SIGINT)
    die_with_parent(signal.SIGTERM, parent=wrapper)
    daemon = subprocess.Popen(command, preexec_fn=child_ends_with_parent(signal.SIGKILL))
    while not stop.wait(0.2):
        if daemon.poll() is not None:
            return daemon.returncode
    if os.getppid() == wrapper:  # an orderly stop, asked by the living wrapper
        daemon.terminate()
        try:
            return daemon.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            daemon.kill()
            return daemon.wait()
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


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
