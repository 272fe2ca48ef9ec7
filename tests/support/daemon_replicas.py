"""Replicas of ``floe daemon run --json`` as child processes, their events read as they come.

Each replica is the real CLI. Its daemon command is given by the test: a stand-in process
(``sleep``) for the timing tests, or the real ``dagster-daemon`` for the tick tests.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from floe.processes import pid_alive


def ha_artifacts(template: Path, target: Path, *, host: str, port: int, database: str, user: str = "postgres",
                 daemon: dict[str, Any] | None = None) -> Path:
    """A copy of compiled artifacts whose Dagster storage is PostgreSQL and whose daemon is ``daemon``."""
    artifacts = json.loads(template.read_text(encoding="utf-8"))
    artifacts["environment"]["orchestrator"] = {
        "storage": {"type": "postgres", "host": host, "port": port, "user": user, "database": database},
        "daemon": daemon or {"mode": "ha"},
    }
    target.write_text(json.dumps(artifacts), encoding="utf-8")
    return target


@dataclass
class Replica:
    """One ``floe daemon run`` process and everything it printed."""

    name: str
    process: subprocess.Popen[str]
    events: list[dict[str, Any]] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    _changed: threading.Condition = field(default_factory=threading.Condition)

    @classmethod
    def start(cls, name: str, artifacts: Path, *extra: str, command: list[str] | None = None,
              env: dict[str, str] | None = None, cwd: Path | None = None) -> Replica:
        argv = [sys.executable, "-m", "floe", "daemon", "run", "--artifacts", str(artifacts), "--identity", name,
                "--json", *extra]
        if command is not None:
            argv += ["--", *command]
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   env={**os.environ, **(env or {})}, cwd=cwd)
        replica = cls(name, process)
        threading.Thread(target=replica._read_events, daemon=True).start()
        threading.Thread(target=replica._read_stderr, daemon=True).start()
        return replica

    def _read_events(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue  # the daemon's own output, not an event
            with self._changed:
                self.events.append(event)
                self._changed.notify_all()

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr.append(line)

    def kinds(self) -> list[str]:
        return [event["event"] for event in list(self.events)]

    def wait_for(self, kind: str, timeout: float, after: int = 0, **match: Any) -> dict[str, Any]:
        """The first event of ``kind`` (at index >= ``after``) matching ``match``; fails after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for event in self.events[after:]:
                    if event["event"] == kind and all(event.get(k) == v for k, v in match.items()):
                        return event
                left = deadline - time.monotonic()
                if self.process.poll() is not None and left > 0:
                    time.sleep(0.5)  # its last lines may still be on their way
                    left = 0
                if left <= 0:
                    raise AssertionError(f"{self.name}: no '{kind}' event within {timeout}s; events: "
                                         f"{self.kinds()}; stderr: {''.join(self.stderr)[-2000:]}")
                self._changed.wait(min(left, 0.5))

    def has(self, kind: str) -> bool:
        return kind in self.kinds()

    def daemon_pid(self) -> int | None:
        """The pid of the daemon this replica started last, while it runs."""
        started = [e for e in list(self.events) if e["event"] == "daemon-started"]
        if not started:
            return None
        pid = int(started[-1]["pid"])
        return pid if pid_alive(pid) and not _is_zombie(pid) else None

    def kill9(self) -> float:
        """kill -9 the wrapper; the time of the kill."""
        at = time.time()
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        return at

    def stop(self, timeout: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False


def wait_gone(pid: int, timeout: float) -> float:
    """Wait until process ``pid`` no longer runs; the time it was seen gone."""
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and not _is_zombie(pid):
        if time.monotonic() > deadline:
            raise AssertionError(f"process {pid} still runs after {timeout}s")
        time.sleep(0.05)
    return time.time()
