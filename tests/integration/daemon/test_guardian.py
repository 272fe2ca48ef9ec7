"""The guardian between a wrapper and its daemon, driven by a real parent process.

The parent is a small multi-threaded Python program that starts the guardian through floe's
own ``DaemonChild``, as ``floe daemon run`` does. The Lease is served by the API double
(tests/support/lease_api_double.py); the processes, the pipe and the signals are real.

What these tests pin down: a guardian must tell its wrapper's death from an orderly stop. With
``PR_SET_PDEATHSIG`` it could not — the kernel signals the death of the *thread* that started
the guardian, and during a ``kill -9`` that arrives while the wrapper's other threads still
make it the guardian's parent — so the lease was left to expire (16 s instead of ~2 s).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from floe.daemon.kube_lease import KubeLease
from tests.support.daemon_replicas import wait_gone
from tests.support.lease_api_double import LeaseApiDouble

pytestmark = [pytest.mark.integration, pytest.mark.process]

NS, NAME = "floe", "floe-dagster-daemon"
PATIENCE = 60.0  # how long a test waits for what must happen, never how long it should take

# The wrapper's part: start the guardian from a thread that ends a little later, while the
# parent lives on (a parent-death signal, had the guardian asked for one, would come then: the
# kernel ties it to the starting thread), say the guardian's pid once that thread is gone, and
# live on with a second thread, as floe daemon run lives with its signal and reader threads.
PARENT = textwrap.dedent("""
    import json, sys, threading, time
    from floe.daemon.child import DaemonChild
    children = []
    def start():
        children.append(DaemonChild(["sleep", "100000"], {}, guardian_args=[sys.argv[1]]))
        time.sleep(1.5)  # the guardian is set up by now
    starter = threading.Thread(target=start)
    starter.start(); starter.join()
    threading.Thread(target=time.sleep, args=(100000,), daemon=True).start()
    print(children[0].pid, flush=True)
    if sys.argv[2] == "stop":
        time.sleep(1.0)
        print(children[0].stop(), flush=True)
    time.sleep(100000)
""")


@pytest.fixture
def api():
    with LeaseApiDouble() as double:
        yield double


@pytest.fixture
def parents() -> Iterator[list[subprocess.Popen[str]]]:
    """The parents a test starts, killed at its end whatever it asserted (their guardians then end too)."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for parent in started:
        if parent.poll() is None:
            parent.kill()
        parent.wait()


def _holder(api: LeaseApiDouble) -> str | None:
    lease = api.lease(NS, NAME)
    return lease["spec"].get("holderIdentity") if lease else None


def _start(api: LeaseApiDouble, tmp_path: Path, then: str,
           parents: list[subprocess.Popen[str]]) -> tuple[subprocess.Popen[str], int, int, KubeLease]:
    """The lease held by 'a', and a parent that started a's guardian; (parent, guardian, daemon, a's lease)."""
    token = api.register()
    token_file = tmp_path / "token"
    token_file.write_text(token, encoding="utf-8")
    held = KubeLease(api_url=api.url, name=NAME, namespace=NS, identity="a", lease_duration_s=15, token=token)
    assert held.try_acquire(30)
    store = {"kind": "kubernetes", "identity": "a", "name": NAME, "namespace": NS, "lease_duration_s": 15,
             "api_url": api.url, "token_file": str(token_file), "ca_file": None, "events": "json"}
    parent = subprocess.Popen([sys.executable, "-c", PARENT, json.dumps(store), then], stdout=subprocess.PIPE,
                              text=True)
    parents.append(parent)
    assert parent.stdout is not None
    guardian = int(parent.stdout.readline())
    daemon = _only_child(guardian)
    return parent, guardian, daemon, held


def _only_child(pid: int) -> int:
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text(encoding="utf-8").split()
        except FileNotFoundError:
            raise AssertionError(f"process {pid} ended before it started a daemon") from None
        if children:
            return int(children[0])
        time.sleep(0.05)
    raise AssertionError(f"process {pid} started no daemon within {PATIENCE}s")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_kill_9_of_a_multithreaded_wrapper_kills_the_daemon_and_gives_the_lease_back(
        api: LeaseApiDouble, tmp_path: Path, parents: list[subprocess.Popen[str]]) -> None:
    parent, guardian, daemon, _ = _start(api, tmp_path, "live", parents)
    time.sleep(0.5)  # the thread that started the guardian has ended: that must not have stopped anything
    assert _alive(guardian) and _alive(daemon)
    assert _holder(api) == "a"
    parent.kill()
    assert parent.stdout is not None
    events = [json.loads(line) for line in parent.stdout]  # EOF once the guardian, its last writer, exits
    parent.wait()
    wait_gone(guardian, PATIENCE)
    assert not _alive(daemon)
    assert [e["event"] for e in events] == ["daemon-stopped", "lease-released"], events
    assert _holder(api) is None  # given back: a standby takes it on its next try


def test_an_orderly_stop_leaves_the_lease_to_the_living_wrapper(
        api: LeaseApiDouble, tmp_path: Path, parents: list[subprocess.Popen[str]]) -> None:
    parent, guardian, daemon, held = _start(api, tmp_path, "stop", parents)
    assert parent.stdout is not None
    code = int(parent.stdout.readline())  # DaemonChild.stop(): SIGTERM to the guardian, reaped
    assert code == 128 + signal.SIGTERM, code  # the daemon's status, passed on (sleep ends on SIGTERM)
    assert not _alive(guardian) and not _alive(daemon)
    assert _holder(api) == "a"  # not the guardian's to free while its wrapper lives
    held.renew(30)
