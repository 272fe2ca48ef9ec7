"""Preflight: prove every external service of an environment works before anything runs.

::

    plan         environment (artifacts or platform.yaml) -> the checks it needs
    checks/      one module per service kind: compute, storage (+ GCS/ADLS), catalog,
                 orchestrator (Dagster's PostgreSQL), observability; pg: shared libpq errors
    framework    Check, Outcome, CheckFailed, SecretBook (resolves and scrubs secrets)
    failures     network errors (DNS, refused, TLS, timeout, ...) -> message + remediation
    http         a small HTTP client whose every status is an answer
    runner       all checks at once, in daemon threads, each within its time limit (network
                 checks --timeout, local ones a generous fixed limit)
    report       CheckResult, PreflightReport: the ``--json`` document, schema-versioned

Python callers (the Helm hook's image, ``floe dev``) use :func:`run_preflight`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from floe.contract.preflight_report import SERVICES, CheckResult, PreflightReport, Service, summarise
from floe.preflight.framework import SecretBook
from floe.preflight.plan import PreflightTarget, plan_checks, target_from_artifacts, target_from_specs

DEFAULT_TIMEOUT_S = 10.0
"""Limit of each network check. Checks run at once, so a run with every service down ends in
about this long. 10 s, not less: a service's first answer after a cold start (a TLS handshake, a
token, a catalog waking up) on a loaded machine takes seconds. Local checks are never failed for
slowness (``floe.preflight.runner.LOCAL_LIMIT_S``)."""


def run_preflight(
    target: PreflightTarget,
    *,
    services: Sequence[Service] = SERVICES,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    fail_fast: bool = False,
    resolve_secret: Callable[[str], str | None] | None = None,
    on_result: Callable[[CheckResult], None] | None = None,
) -> PreflightReport:
    """Check the services of one environment, all at once, each network check within ``timeout_s``.

    Args:
        target: The environment (see :func:`target_from_artifacts`, :func:`target_from_specs`).
        services: Which service kinds to check (default: all).
        timeout_s: Limit of each network check, in seconds (local checks: see
            :func:`floe.preflight.runner.limit_of`).
        fail_fast: Stop at the first error; unfinished checks are reported as skipped.
        resolve_secret: Secret lookup by name (default: environment, then $FLOE_SECRETS_DIR).
        on_result: Called as each result arrives, for progress display.

    Returns:
        The report; ``report.ok`` is False when any check ended in error. Secret values never
        appear in it.
    """
    from floe import __version__
    from floe.preflight.runner import run_checks

    started = time.monotonic()
    checks = plan_checks(target, services)
    results = run_checks(checks, project_root=target.project_root, timeout_s=timeout_s,
                         secrets=SecretBook(resolve_secret), fail_fast=fail_fast, on_result=on_result)
    summary = summarise(results)
    return PreflightReport(
        schema_version=1, floe_version=__version__, environment=target.environment_name, source=target.source,
        ok=summary.error == 0, timeout_s=timeout_s, duration_s=round(time.monotonic() - started, 3),
        summary=summary, checks=results,
    )


__all__ = [
    "DEFAULT_TIMEOUT_S",
    "SERVICES",
    "CheckResult",
    "PreflightReport",
    "PreflightTarget",
    "run_preflight",
    "target_from_artifacts",
    "target_from_specs",
]
