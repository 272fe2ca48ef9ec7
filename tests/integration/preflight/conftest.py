"""Run preflight against an environment written as a dict, with secrets from a dict."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from floe.contract.preflight_report import CheckResult
from floe.preflight import PreflightReport, PreflightTarget, run_preflight
from floe.spec.platform import EnvironmentSpec

Preflight = Callable[..., PreflightReport]


@pytest.fixture
def preflight(tmp_path: Path) -> Preflight:
    """preflight(environment_dict, services=[...], secrets={...}, timeout_s=..., ingests=...) -> report."""

    def run(environment: dict[str, Any], *, services: list[str], secrets: dict[str, str] | None = None,
            timeout_s: float = 60.0, ingests: bool = False, root: Path | None = None) -> PreflightReport:
        target = PreflightTarget(environment_name="test", environment=EnvironmentSpec.model_validate(environment),
                                 project_root=root or tmp_path, source="test", ingests=ingests)
        return run_preflight(target, services=services,  # type: ignore[arg-type]
                             timeout_s=timeout_s, resolve_secret=(secrets or {}).get)

    return run


def only(report: PreflightReport, service: str) -> CheckResult:
    """The one result of ``service`` in the report."""
    matching = [result for result in report.checks if result.service == service]
    assert len(matching) == 1, report.checks
    return matching[0]


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """A real S3-compatible server (moto) on 127.0.0.1 (no authentication)."""
    from tests.support.servers import moto_server

    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def scratch_database(postgres_dsn: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, empty database on the shared PostgreSQL server, dropped afterwards."""
    from tests.support.postgres import scratch_database

    with scratch_database(postgres_dsn, f"floe_pf_{request.node.name.lower()[:30]}") as name:
        yield name
