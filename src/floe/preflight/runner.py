"""Run checks at once, each within the time limit, and collect one result per check.

Every check runs in a daemon thread so that a client library stuck in a system call can
never hold the process past the deadline: the runner reports it as timed out and moves on.
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
        timeout_s: Limit of each check; a check still running then is an error.
        secrets: Resolves secret references, and scrubs their values from every result.
        fail_fast: Stop waiting at the first error; checks not finished are reported skipped.
        on_result: Called (in the caller's thread) as each result arrives.
    """
    finished: queue.Queue[tuple[int, CheckResult]] = queue.Queue()
    _import_clients(checks)
    started = time.monotonic()
    for index, check in enumerate(checks):
        context = CheckContext(project_root=project_root, timeout_s=timeout_s, secrets=secrets)
        thread = threading.Thread(target=_run_one, args=(index, check, context, finished),
                                  name=f"preflight-{check.name}", daemon=True)
        thread.start()
    results: dict[int, CheckResult] = {}
    deadline = started + timeout_s + _GRACE_S
    stopped = False
    while len(results) < len(checks):
        try:
            index, result = finished.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            break
        results[index] = result
        if on_result is not None:
            on_result(result)
        if fail_fast and result.status == "error":
            stopped = True
            break
    for index, check in enumerate(checks):
        if index in results:
            continue
        if stopped:
            late = _result(check, "skipped", "not finished: stopped at the first error (--fail-fast)", None, 0.0)
        else:
            late = _result(check, "error", f"no answer within {timeout_s:g}s",
                           "check that the service is reachable from here (firewall, security group, "
                           "network policy) or allow more time with --timeout", timeout_s)
        results[index] = late
        if on_result is not None:
            on_result(late)
    return [_scrubbed(results[index], secrets) for index in range(len(checks))]


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
