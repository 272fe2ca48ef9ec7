"""Run checks at once, each within its time limit, and collect one result per check.

Every check runs in a daemon thread so that a client library stuck in a system call can
never hold the process past the deadline: the runner reports it as timed out and moves on.

Two limits. A check that waits on the network gets ``timeout_s`` (``--timeout``): all run at
once, so with every service down the whole run still ends within one timeout. A local check
(:attr:`Check.local`: DuckDB, a SQLite catalog, a folder) has no service to wait for; on a
loaded or cold machine it is merely slow, so it gets :data:`LOCAL_LIMIT_S` (or ``timeout_s``
when that is longer) and is never failed for the machine's load, only for a hang.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Mapping
from importlib import import_module
from pathlib import Path

from floe.contract.preflight_report import CheckResult
from floe.preflight.framework import Check, CheckContext, CheckFailed, SecretBook

# Time the runner grants beyond the limit before it gives a silent check up: clients honour
# their own timeouts a little late.
_GRACE_S = 0.25
LOCAL_LIMIT_S = 300.0
"""Limit of a local check: far beyond any load (the SQLite catalog took 4.3 s on a busy machine,
0.1 s idle), short enough that a hung file system (a dead network mount) still ends the run."""


def limit_of(check: Check, timeout_s: float) -> float:
    """The time limit of ``check`` when the run's limit is ``timeout_s``."""
    return max(timeout_s, LOCAL_LIMIT_S) if check.local else timeout_s


def run_checks(
    checks: list[Check],
    *,
    project_root: Path,
    timeout_s: float,
    secrets: SecretBook,
    fail_fast: bool = False,
    on_result: Callable[[CheckResult], None] | None = None,
) -> list[CheckResult]:
    """Run ``checks`` concurrently and return their results in the order given.

    Args:
        checks: What to run.
        project_root: Directory relative spec paths resolve against.
        timeout_s: Limit of each network check; a check still running then is an error. Local
            checks get :func:`limit_of` instead.
        secrets: Resolves secret references, and scrubs their values from every result.
        fail_fast: Stop waiting at the first error; checks not finished are reported skipped.
        on_result: Called (in the caller's thread) as each result arrives.
    """
    finished: queue.Queue[tuple[int, CheckResult]] = queue.Queue()
    _import_clients(checks)
    started = time.monotonic()
    limits = [limit_of(check, timeout_s) for check in checks]
    for index, check in enumerate(checks):
        context = CheckContext(project_root=project_root, timeout_s=limits[index], secrets=secrets)
        thread = threading.Thread(target=_run_one, args=(index, check, context, finished),
                                  name=f"preflight-{check.name}", daemon=True)
        thread.start()
    results: dict[int, CheckResult] = {}

    def report(index: int, result: CheckResult) -> None:
        results[index] = result
        if on_result is not None:
            on_result(result)

    stopped = False
    while len(results) < len(checks) and not stopped:
        pending = [index for index in range(len(checks)) if index not in results]
        deadline = started + min(limits[index] for index in pending) + _GRACE_S
        try:
            index, result = finished.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            now = time.monotonic()
            for late in pending:  # every check whose own deadline has passed
                if started + limits[late] + _GRACE_S <= now:
                    report(late, _timed_out(checks[late], limits[late]))
            continue
        if index in results:
            continue  # answered after it was reported as timed out
        report(index, result)
        stopped = fail_fast and result.status == "error"
    for index, check in enumerate(checks):
        if index not in results:  # only after --fail-fast stopped the run
            report(index, _result(check, "skipped", "not finished: stopped at the first error (--fail-fast)",
                                  None, 0.0))
    return [_scrubbed(results[index], secrets) for index in range(len(checks))]


def _timed_out(check: Check, limit: float) -> CheckResult:
    if check.local:
        remediation = ("a local file did not answer: check the disk or the file system it lives on (a hung "
                       "network mount, a full disk)")
    else:
        remediation = ("check that the service is reachable from here (firewall, security group, network "
                       "policy) or allow more time with --timeout")
    return _result(check, "error", f"no answer within {limit:g}s", remediation, limit)


def _import_clients(checks: list[Check]) -> None:
    """Load the checks' client libraries first, so the time limit measures the services alone."""
    for module in dict.fromkeys(name for check in checks for name in check.imports):
        try:
            import_module(module)
        except ImportError:
            pass  # the check itself reports the missing library, with how to install it


def _run_one(index: int, check: Check, context: CheckContext,
             finished: queue.Queue[tuple[int, CheckResult]]) -> None:
    begin = time.monotonic()
    try:
        outcome = check.run(context)
        result = _result(check, outcome.status, outcome.message, outcome.remediation,
                         time.monotonic() - begin, outcome.details)
    except CheckFailed as failure:
        result = _result(check, failure.status, failure.message, failure.remediation,
                         time.monotonic() - begin, failure.details)
    except Exception as exc:  # noqa: BLE001 - a check's bug must not hide the other results
        result = _result(check, "error", f"unexpected failure: {type(exc).__name__}: {exc}",
                         "this may be a bug in floe's check; run with FLOE_DEBUG=1 and report it",
                         time.monotonic() - begin)
    finished.put((index, result))


def _result(check: Check, status: str, message: str, remediation: str | None, duration_s: float,
            details: Mapping[str, object] | None = None) -> CheckResult:
    return CheckResult.model_validate({
        "service": check.service, "check": check.name, "target": check.target, "status": status,
        "message": message, "remediation": remediation, "duration_s": round(duration_s, 3),
        "details": dict(details or {}),
    })


def _scrubbed(result: CheckResult, secrets: SecretBook) -> CheckResult:
    """The result with no secret value left in any text."""
    details = {key: secrets.scrub(value) if isinstance(value, str) else value
               for key, value in result.details.items()}
    return result.model_copy(update={
        "message": secrets.scrub(result.message),
        "remediation": secrets.scrub(result.remediation) if result.remediation else None,
        "target": secrets.scrub(result.target),
        "details": details,
    })
