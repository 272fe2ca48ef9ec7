"""Failover of Dagster's daemon under floe's leader election (issue 21): how long without a daemon.

    .venv/bin/python benchmarks/bench_daemon_failover.py [--rounds 5] [--dsn "host=127.0.0.1 user=postgres"]

Real ``floe daemon run`` replicas (mode ha, the default lease: 15 s, renew deadline 10 s,
retry 2 s). Each case starts a leader and a standby, makes the leader fail, and times from
the failure to the standby starting its daemon. The goal: within 15 s (the issue aims for 10).
The daemon is a stand-in process unless said otherwise; the last case runs real
``dagster-daemon`` processes and also times until the new daemon's heartbeats are written.

Each pair is measured side by side, interleaved round by round:

1. **PostgreSQL advisory lock** (Compose, VMs, floe dev): ``kill -9`` of the leader (its session
   ends, the lock is free at once) against the leader cut off from the database by a TCP proxy
   (the server frees the lock only when it ends the silent session, a lease after the last
   renewal) — the baseline every lease-based failover waits for.
2. **Kubernetes Lease** (against floe's test double of the Lease API): ``kill -9`` of the
   wrapper (its guardian kills the daemon and gives the lease back) against ``kill -9`` of the
   wrapper and its guardian together (the lease must expire: the baseline).
3. **Real dagster-daemon on PostgreSQL**: ``kill -9`` of the leader, until the new daemon runs
   and until every daemon it runs has written a heartbeat.

Nothing is asserted; the script prints figures (median, worst) and the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from _timing import REPO, machine_line, note, table

sys.path.insert(0, str(REPO))  # the replicas, the proxy and the Lease double are the tests' own

from tests.support.daemon_replicas import Replica, ha_artifacts, wait_gone
from tests.support.tcp_proxy import TcpProxy
from tests.support.tick_project import write_tick_project

STAND_IN = ["sleep", "100000"]
SLOW = 180.0


def _template(folder: Path) -> Path:
    """Compiled artifacts of a fresh minimal project (the daemon block is replaced per case)."""
    from floe.compiler import compile_project
    from floe.scaffold import init_project
    from floe.spec.project import load_project

    root = init_project(folder / "shop").root
    compile_project(load_project(root / "floe.yaml"))
    return root / ".floe" / "artifacts.json"


class Database:
    """A scratch database on the server, dropped at the end."""

    def __init__(self, dsn: str) -> None:
        import psycopg2

        self.dsn = dsn
        self.name = f"floe_bench_daemon_{uuid.uuid4().hex[:8]}"
        self.params = psycopg2.extensions.parse_dsn(dsn)
        admin = psycopg2.connect(dsn)
        admin.autocommit = True
        admin.cursor().execute(f'CREATE DATABASE "{self.name}"')
        admin.close()

    def drop(self) -> None:
        import psycopg2

        admin = psycopg2.connect(self.dsn)
        admin.autocommit = True
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        admin.close()


def _pair(start: Callable[[str], Replica]) -> tuple[Replica, Replica]:
    leader = start("leader")
    leader.wait_for("daemon-started", SLOW)
    standby = start("standby")
    standby.wait_for("standby", SLOW)
    return leader, standby


def _takeover(standby: Replica, since: float) -> float:
    return float(standby.wait_for("daemon-started", SLOW)["at"]) - since


def pg_kill(template: Path, db: Database, work: Path) -> float:
    host, port = db.params.get("host", "127.0.0.1"), int(db.params.get("port", 5432))
    artifacts = ha_artifacts(template, work / "pg.json", host=host, port=port, database=db.name,
                             user=db.params.get("user", "postgres"))
    leader, standby = _pair(lambda name: Replica.start(name, artifacts, command=STAND_IN))
    try:
        killed = leader.kill9()
        return _takeover(standby, killed)
    finally:
        standby.stop()


def pg_cut_off(template: Path, db: Database, work: Path) -> float:
    host, port = db.params.get("host", "127.0.0.1"), int(db.params.get("port", 5432))
    with TcpProxy((host, port)) as proxy:
        user = db.params.get("user", "postgres")
        cut = ha_artifacts(template, work / "cut.json", host="127.0.0.1", port=proxy.port, database=db.name,
                           user=user)
        direct = ha_artifacts(template, work / "direct.json", host=host, port=port, database=db.name, user=user)
        leader, standby = _pair(lambda name: Replica.start(name, cut if name == "leader" else direct,
                                                           command=STAND_IN))
        try:
            proxy.partition()
            return _takeover(standby, time.time())
        finally:
            for replica in (standby, leader):
                replica.stop()


def kube_cases(template: Path, work: Path) -> tuple[Callable[[], float], Callable[[], float]] | None:
    """The Lease cases, or None when the Lease double is not available."""
    try:
        from tests.support.lease_api_double import LeaseApiDouble  # noqa: F401
    except ImportError:
        return None
    from tests.support.kube_replicas import kube_pair_kill

    return (lambda: kube_pair_kill(template, work, guardian_too=False),
            lambda: kube_pair_kill(template, work, guardian_too=True))


def real_daemon(template: Path, db: Database, work: Path) -> tuple[float, float]:
    """kill -9 of a real leader: (until the new daemon started, until its heartbeats are all written)."""
    host, port = db.params.get("host", "127.0.0.1"), int(db.params.get("port", 5432))
    user = db.params.get("user", "postgres")
    project = work / f"ticks-{uuid.uuid4().hex[:6]}"
    home = write_tick_project(project, db.name, host=host, port=port, user=user)
    artifacts = ha_artifacts(template, work / "real.json", host=host, port=port, database=db.name, user=user)
    env = {"DAGSTER_HOME": str(home)}
    leader, standby = _pair(lambda name: Replica.start(name, artifacts, "--workspace", "workspace.yaml", env=env,
                                                       cwd=project))
    try:
        _heartbeats_after(home, 0.0)
        pid = leader.daemon_pid()
        killed = leader.kill9()
        if pid is not None:
            wait_gone(pid, SLOW)
        started = _takeover(standby, killed)
        beating = _heartbeats_after(home, killed) - killed
        return started, beating
    finally:
        standby.stop()


def _heartbeats_after(home: Path, since: float) -> float:
    from dagster import DagsterInstance

    os.environ["DAGSTER_HOME"] = str(home)
    deadline = time.monotonic() + SLOW
    while time.monotonic() < deadline:
        with DagsterInstance.get() as instance:
            beats = instance.get_daemon_heartbeats()
            needed = instance.get_required_daemon_types()
            if all(kind in beats and beats[kind].timestamp > since for kind in needed):
                return time.time()
        time.sleep(0.25)
    raise SystemExit(f"no heartbeats within {SLOW}s")


def _stats(values: list[float]) -> tuple[str, str]:
    return f"{statistics.median(values):.2f}", f"{max(values):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dsn", default=os.environ.get("FLOE_TEST_POSTGRES_DSN",
                                                        "host=127.0.0.1 port=5432 user=postgres dbname=test"))
    args = parser.parse_args()
    print(machine_line())
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    db = Database(args.dsn)
    results: dict[str, list[float]] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="floe-bench-daemon-") as tmp:
            work = Path(tmp)
            template = _template(work)
            kube = kube_cases(template, work)
            for round_ in range(1, args.rounds + 1):
                note(f"round {round_}/{args.rounds}")
                results.setdefault("pg: kill -9 leader", []).append(pg_kill(template, db, work))
                results.setdefault("pg: leader cut off (baseline)", []).append(pg_cut_off(template, db, work))
                if kube is not None:
                    results.setdefault("lease: kill -9 wrapper", []).append(kube[0]())
                    results.setdefault("lease: kill -9 wrapper+guardian (baseline)", []).append(kube[1]())
            real_started, real_beating = [], []
            for _ in range(max(1, args.rounds // 2)):
                started, beating = real_daemon(template, db, work)
                real_started.append(started)
                real_beating.append(beating)
            results["real dagster-daemon: kill -9 -> new daemon started"] = real_started
            results["real dagster-daemon: kill -9 -> all heartbeats fresh"] = real_beating
    finally:
        db.drop()
    rows = [[name, *_stats(values), str(len(values))] for name, values in results.items()]
    print(table(["case (seconds from the failure)", "median", "worst", "n"], rows))
    for fast, slow in (("pg: kill -9 leader", "pg: leader cut off (baseline)"),
                       ("lease: kill -9 wrapper", "lease: kill -9 wrapper+guardian (baseline)")):
        if fast in results and slow in results:
            ratio = statistics.median(results[fast]) / statistics.median(results[slow])
            print(f"{fast} / {slow}: {ratio:.2f}")
    worst = max(max(v) for k, v in results.items() if "heartbeats" not in k and "baseline" not in k)
    print(f"worst takeover after kill -9: {worst:.2f}s (goal <= 15 s, aim 10 s)")
    print(json.dumps({k: [round(x, 3) for x in v] for k, v in results.items()}))


if __name__ == "__main__":
    main()
