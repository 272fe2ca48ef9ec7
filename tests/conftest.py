"""Shared fixtures: running the real CLI, fresh projects, and the PostgreSQL server."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED = REPO_ROOT.parent / "shared"
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
# Fails a test that starts a child process without the `process` (or integration) mark.
pytest_plugins = ["tests.support.process_tier"]


def pytest_configure(config: pytest.Config) -> None:
    """Ctrl-C reaches the floe processes the tests start, as it does in a terminal.

    A suite started in the background by a non-interactive shell (``make test &``, nohup, some
    CI runners) inherits SIGINT ignored, and an ignored signal stays ignored across fork and
    exec: every floe child, dbt worker and Cube server would ignore the tests' Ctrl-C (Python
    installs its KeyboardInterrupt handler only over the default). A foreground process has it
    at its default; so do the test runner's workers and their children, from here.
    """
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


# What an in-process floe run exports for dbt and Dagster (builder, dbt step): a floe started
# by a later test in the same worker must not inherit another project's target or log folder.
RUNTIME_ENV = ("DBT_TARGET_PATH", "DBT_LOG_PATH", "DBT_PROJECT_DIR", "DBT_PROFILES_DIR", "DBT_LOG_FORMAT_FILE")


def run_floe(*args: str, cwd: Path, env: dict[str, str] | None = None,
             timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run the real `floe` command in a child process and capture its output."""
    inherited = {k: v for k, v in os.environ.items() if k not in RUNTIME_ENV}
    full_env = {**inherited, **(env or {})}
    full_env.pop("FLOE_ENV", None) if env is None or "FLOE_ENV" not in env else None
    return subprocess.run(
        [sys.executable, "-m", "floe", *args], cwd=cwd, env=full_env, capture_output=True,
        text=True, timeout=timeout, check=False,
    )


@pytest.fixture(autouse=True)
def _environment_restored() -> Iterator[None]:
    """Each test ends with the environment it started with (in-process runs export variables)."""
    saved = dict(os.environ)
    yield
    if dict(os.environ) != saved:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(autouse=True)
def _fast_path_decided_per_test() -> Iterator[None]:
    """floe decides once per process whether its fast path is on; tests change what it reads."""
    from floe.orchestration import fastpath
    from floe.orchestration.fastpath import seams

    yield
    fastpath.reset()
    seams._verified.clear()


@pytest.fixture
def floe():
    """The CLI runner: floe(*args, cwd=...) -> CompletedProcess."""
    return run_floe


@pytest.fixture
def minimal_project(tmp_path: Path) -> Path:
    """A fresh project from the minimal template (not compiled)."""
    from floe.scaffold import init_project

    return init_project(tmp_path / "shop").root


@pytest.fixture(scope="session")
def _compiled_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from floe.compiler import compile_project
    from floe.scaffold import init_project
    from floe.spec.project import load_project

    root = init_project(tmp_path_factory.mktemp("compiled") / "shop").root
    compile_project(load_project(root / "floe.yaml"))
    return root


@pytest.fixture
def compiled_project(_compiled_template: Path, tmp_path: Path) -> Path:
    """A minimal project already compiled (a private copy; dbt parse runs once per session)."""
    target = tmp_path / "shop"
    shutil.copytree(_compiled_template, target)
    # The artifacts are relative, but dbt's partial-parse file records absolute paths; without
    # it (and the record of where dbt parsed) the copy runs as compiled, with no second compile.
    (target / ".floe" / "dbt" / "target" / "partial_parse.msgpack").unlink(missing_ok=True)
    (target / ".floe" / "dbt" / "target" / "parsed_root.txt").unlink(missing_ok=True)
    return target


def _postgres_dsn() -> str:
    return os.environ.get("FLOE_TEST_POSTGRES_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=test")


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """A DSN of the real PostgreSQL server; fails under CI=true when absent, else skips."""
    dsn = _postgres_dsn()
    try:
        import psycopg2

        psycopg2.connect(dsn, connect_timeout=3).close()
    except Exception as exc:  # the server is missing or refuses us
        message = f"PostgreSQL not reachable at '{dsn}' ({exc}); set FLOE_TEST_POSTGRES_DSN"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    yield dsn
