"""How long ``floe preflight --all`` takes when every configured service is down.

    .venv/bin/python benchmarks/bench_preflight.py [--repeat 5]

A project whose ``prod`` environment configures every service kind remotely — PostgreSQL
compute, S3 storage, a REST catalog with OAuth2, Dagster on PostgreSQL, OTLP traces and
OpenLineage over HTTP — with every address pointing at 127.0.0.1 where either nothing
listens (refused: the cheap failure) or a server accepts connections and never answers
(hung: the expensive failure, each check runs into its time limit). Whole process, default
timeout (``floe.preflight.DEFAULT_TIMEOUT_S``, 10 s per network check), median of
``--repeat``, interleaved with the baseline: the same six checks run one after another in one
process (what a tool without concurrency does).

Goal (issue 5, with issue 19's default): every service down ends within one timeout plus 1 s
of start-up, not six timeouts; the original requirement was under 30 s. Nothing is asserted;
the script prints figures.
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import threading
from pathlib import Path

import yaml

from _timing import Command, bench_env, machine_line, note, seconds, table, time_interleaved, tool
from floe.preflight import DEFAULT_TIMEOUT_S

SECRETS = {"PG_PASSWORD": "pw", "S3_KEY": "key", "S3_SECRET": "secret", "CATALOG_SECRET": "cs",
           "OTLP_AUTH": "Bearer x", "OL_KEY": "ol"}

# The baseline: the same checks, one after another, in one process.
SEQUENTIAL = """
import sys
from pathlib import Path
from floe.preflight import DEFAULT_TIMEOUT_S, target_from_specs
from floe.preflight.framework import SecretBook
from floe.preflight.plan import plan_checks
from floe.preflight.runner import run_checks
target = target_from_specs(Path("floe.yaml"), environment="prod")
for check in plan_checks(target):
    run_checks([check], project_root=target.project_root, timeout_s=DEFAULT_TIMEOUT_S, secrets=SecretBook())
"""


def environment(port: int) -> dict[str, object]:
    local = f"http://127.0.0.1:{port}"
    postgres = {"host": "127.0.0.1", "port": port, "user": "floe", "database": "floe",
                "password": {"secret_ref": "PG_PASSWORD"}}
    return {
        "compute": {"type": "postgres", **postgres},
        "storage": {"type": "s3", "bucket": "floe-lake", "endpoint": local, "path_style": True,
                    "access_key_id": {"secret_ref": "S3_KEY"}, "secret_access_key": {"secret_ref": "S3_SECRET"}},
        "catalog": {"type": "rest", "uri": f"{local}/api/catalog", "warehouse": "lake", "client_id": "floe",
                    "client_secret": {"secret_ref": "CATALOG_SECRET"}},
        "orchestrator": {"storage": {"type": "postgres", **postgres}},
        "observability": {"tracing": {"type": "otlp", "endpoint": local, "insecure": True,
                                      "headers": {"authorization": {"secret_ref": "OTLP_AUTH"}}},
                          "lineage": {"type": "http", "url": local, "api_key": {"secret_ref": "OL_KEY"}}},
    }


def silent_server() -> int:
    """A port that accepts connections and never answers (kept open for the process's life)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(256)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            connection, _ = listener.accept()
            held.append(connection)

    threading.Thread(target=accept, daemon=True).start()
    return int(listener.getsockname()[1])


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def project(root: Path, port: int) -> Path:
    root.mkdir(parents=True)
    (root / "dbt").mkdir()
    (root / "dbt" / "dbt_project.yml").write_text("name: bench\nversion: '1.0'\nprofile: bench\n")
    (root / "floe.yaml").write_text("name: bench\ntransforms:\n  - type: dbt\n    path: dbt\n")
    (root / "platform.yaml").write_text(yaml.safe_dump({"environments": {"prod": environment(port)}}))
    return root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each command [5]")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="floe-bench-preflight-"))
    env = bench_env(SECRETS)
    commands = []
    for label, port in (("refused", closed_port()), ("hung", silent_server())):
        root = project(work / label, port)
        commands.append(Command(f"floe preflight --all ({label})",
                                [tool("floe"), "preflight", "--env", "prod", "--all", "--json"], cwd=root, env=env,
                                forbidden_output='"status": "ok"'))
        commands.append(Command(f"one after another ({label})", [sys.executable, "-c", SEQUENTIAL], cwd=root, env=env))
    note("every preflight run exits 1 (all checks fail); the timing wrapper expects 0, so it runs through sh")
    commands = [Command(c.label, ["sh", "-c", '"$0" "$@"; test $? -le 1', *c.argv], cwd=c.cwd, env=c.env,
                        forbidden_output=c.forbidden_output) for c in commands]
    stats = time_interleaved(commands, repeat=args.repeat, warmup=1)
    rows = []
    goal = DEFAULT_TIMEOUT_S + 1
    for kind in ("refused", "hung"):
        floe = stats[f"floe preflight --all ({kind})"]
        serial = stats[f"one after another ({kind})"]
        rows.append([f"every service {kind}", seconds(floe.median), seconds(floe.minimum), seconds(serial.median),
                     f"{floe.median / serial.median:.2f}x",
                     f"met (< {goal:g} s)" if floe.median < goal else f"not met (< {goal:g} s)"])
    print(f"## Preflight with every service down\n\n{machine_line()}\n")
    print("Six checks (compute, storage, catalog, postgres, traces, lineage), default timeout "
          f"{DEFAULT_TIMEOUT_S:g} s per network check; whole process, median of {args.repeat}, interleaved.\n")
    print(table(["case", "floe preflight", "min", "one after another", "floe / sequential", "goal"], rows))
    print(f"\n(finished {machine_line()})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
