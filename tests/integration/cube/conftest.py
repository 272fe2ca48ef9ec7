"""A real Cube server over real marts: the ecommerce demo built into DuckDB and published to a
scratch PostgreSQL database that an environment of platform.yaml declares as its serving database.

The marts get there the way they do for a user: every ``floe demo run`` lands a batch, builds
the marts and publishes them (``floe_serving.*`` and the ledger ``floe_serving._floe_publish``,
which the generated rollups' refresh keys read).

npm ci of the Cube server takes a minute or more: it runs once into floe's cache
(``$FLOE_CUBE_CACHE``, else the user's cache), and every later session finds it there.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import RUNTIME_ENV, run_floe
from tests.support.demo_project import use_virtual_clock
from tests.support.postgres import scratch_database

SERVING_SCHEMA = "floe_serving"
LEDGER = "_floe_publish"
READY_S = 300  # a busy 2-core machine: Cube starts in ~5 s idle, much longer loaded


@dataclass(frozen=True)
class Shop:
    """The demo project, its serving database, and the tables the Cube model reads."""

    root: Path
    dsn: str  # the scratch serving database
    environment: str
    tables: dict[str, str]  # cube name -> schema-qualified table in PostgreSQL
    env: dict[str, str]  # what floe children get (the Cube package cache)

    def sql(self, statement: str, *params: Any) -> list[tuple[Any, ...]]:
        import psycopg2

        connection = psycopg2.connect(self.dsn)
        connection.autocommit = True
        try:
            with connection.cursor() as cursor:
                cursor.execute(statement, params or None)
                return cursor.fetchall() if cursor.description else []
        finally:
            connection.close()

    def floe(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        return run_floe(*args, cwd=self.root, env=self.env, timeout=timeout)

    def marts(self, statement: str) -> list[tuple[Any, ...]]:
        """``statement`` on the DuckDB warehouse the runs built (read-only; no run may be going on)."""
        import duckdb

        connection = duckdb.connect(str(self.root / ".floe" / "warehouse.duckdb"), read_only=True)
        try:
            return connection.execute(statement).fetchall()
        finally:
            connection.close()

    def query(self, query: dict[str, Any]) -> dict[str, Any]:
        result = self.floe("cube", "query", "--env", self.environment, "--json", json.dumps(query))
        assert result.returncode == 0, result.stderr[-3000:]
        answer: dict[str, Any] = json.loads(result.stdout)
        return answer


@pytest.fixture(scope="session")
def cube_cache() -> Path:
    """Where the Cube server's npm packages are installed (once for every session)."""
    from floe.cube_server.install import cache_root

    return cache_root()


@pytest.fixture(scope="session")
def cube_modules(cube_cache: Path) -> Path:
    """The installed node_modules of the Cube server (npm ci on the first session only)."""
    from floe.cube_server.install import ensure_installed

    environ = {**os.environ, "FLOE_CUBE_CACHE": str(cube_cache)}
    return ensure_installed(lambda line: print(line, file=sys.stderr), environ)


@pytest.fixture(scope="session")
def shop(tmp_path_factory: pytest.TempPathFactory, postgres_dsn: str, cube_modules: Path,
         cube_cache: Path) -> Iterator[Shop]:
    root = tmp_path_factory.mktemp("cube") / "shop"
    created = run_floe("init", root.name, "--template", "ecommerce", cwd=root.parent)
    assert created.returncode == 0, created.stderr
    # Every batch brings a thousand orders: on the wall clock a batch run seconds after the last
    # may bring none, and a run that changes nothing publishes no batch. A day per batch, so
    # the answers by day have several days.
    use_virtual_clock(root)
    spec = root / "floe.yaml"
    spec.write_text(spec.read_text().replace("    interval: 5m\n", "    interval: 1d\n", 1))
    with scratch_database(postgres_dsn, "floe_cube") as database:
        dsn = _dsn_of(postgres_dsn, database)
        declare_serving(root, "cube", dsn)
        env = {"FLOE_CUBE_CACHE": str(cube_cache)}
        # The whole path a user takes: each run lands a batch, builds the marts and publishes them.
        built = run_floe("demo", "run", "--env", "cube", "--batches", "2", cwd=root, env=env, timeout=1800)
        assert built.returncode == 0, built.stderr[-3000:]
        generated = run_floe("cube", "generate", "--env", "cube", cwd=root, env=env)
        assert generated.returncode == 0, generated.stderr[-3000:]
        tables = _model_tables(root / ".floe" / "cube" / "model" / "cubes")
        yield Shop(root=root, dsn=dsn, environment="cube", tables=tables, env=env)


def _dsn_of(dsn: str, database: str) -> str:
    parts = dict(part.split("=", 1) for part in dsn.split())
    parts["dbname"] = database
    return " ".join(f"{key}={value}" for key, value in parts.items())


def declare_serving(root: Path, name: str, dsn: str) -> None:
    """Add environment ``name``: the dev compute, with the scratch database as its serving database."""
    parts = dict(part.split("=", 1) for part in dsn.split())
    path = root / "platform.yaml"
    platform = yaml.safe_load(path.read_text())
    environment = dict(platform["environments"]["dev"])
    environment["serving"] = {"type": "postgres", "host": parts.get("host", "127.0.0.1"),
                              "port": int(parts.get("port", 5432)), "user": parts.get("user", "postgres"),
                              "database": parts["dbname"], "schema": SERVING_SCHEMA}
    platform["environments"][name] = environment
    path.write_text(yaml.safe_dump(platform, sort_keys=False))


def _model_tables(folder: Path) -> dict[str, str]:
    tables: dict[str, str] = {}
    for path in sorted(folder.glob("*.yml")):
        for cube in yaml.safe_load(path.read_text())["cubes"]:
            tables[cube["name"]] = cube["sql_table"]
    return tables


class Serve:
    """``floe cube serve`` in a child process, stopped like a user stops it (Ctrl-C)."""

    def __init__(self, shop: Shop, environment: str | None = None) -> None:
        self.shop = shop
        self.environment = environment or shop.environment
        inherited = {k: v for k, v in os.environ.items() if k not in RUNTIME_ENV}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "floe", "cube", "serve", "--env", self.environment, "--port", "0"],
            cwd=shop.root, env={**inherited, **shop.env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.url = self._wait_ready()

    def _wait_ready(self) -> str:
        deadline = time.monotonic() + READY_S
        assert self.process.stdout is not None
        for line in self.process.stdout:  # serve prints the URL once Cube's /readyz answers
            if line.startswith("Cube API ready at "):
                return line.split()[4].removesuffix("/cubejs-api/v1")
            assert time.monotonic() < deadline, "floe cube serve was not ready in time"
        _, stderr = self.process.communicate(timeout=60)
        raise AssertionError(f"floe cube serve ended ({self.process.returncode}) before it was ready:\n"
                             f"{stderr[-3000:]}")

    @property
    def record_path(self) -> Path:
        return self.shop.root / ".floe" / "cube" / f"server-{self.environment}.json"

    def record(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.record_path.read_text())
        return document

    def interrupt(self) -> tuple[int, str]:
        """Ctrl-C; the exit status and what it printed on stderr."""
        self.process.send_signal(signal.SIGINT)
        try:
            _, stderr = self.process.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, stderr = self.process.communicate()
        return self.process.returncode, stderr


@pytest.fixture(scope="module")
def serving(shop: Shop) -> Iterator[Serve]:
    server = Serve(shop)
    try:
        yield server
    finally:
        if server.process.poll() is None:
            server.interrupt()
