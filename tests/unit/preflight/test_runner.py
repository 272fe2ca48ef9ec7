"""The runner: concurrency, deadlines, fail-fast, scrubbing, and a check's own bug."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from floe.preflight.framework import Check, CheckContext, CheckFailed, Outcome, SecretBook
from floe.preflight.runner import run_checks
from floe.spec.secrets import SecretRef


def check(name: str, run, *, local: bool = False) -> Check:  # type: ignore[no-untyped-def]
    return Check("storage", name, "somewhere", run, local=local)


def sleeper(seconds: float):  # type: ignore[no-untyped-def]
    def run(_: CheckContext) -> Outcome:
        time.sleep(seconds)
        return Outcome("slept")
    return run


def test_checks_run_at_once_and_keep_their_order(tmp_path: Path) -> None:
    started = time.monotonic()
    results = run_checks([check(f"c{i}", sleeper(2)) for i in range(6)], project_root=tmp_path, timeout_s=30,
                         secrets=SecretBook())
    assert time.monotonic() - started < 8  # six 2 s checks at once, not 12 s one after another
    assert [r.check for r in results] == [f"c{i}" for i in range(6)]
    assert all(r.status == "ok" and r.duration_s >= 1.99 for r in results)


def test_a_hung_check_is_an_error_at_the_deadline(tmp_path: Path) -> None:
    forever = threading.Event()

    def hang(_: CheckContext) -> Outcome:
        forever.wait()
        return Outcome("never")

    started = time.monotonic()
    results = run_checks([check("hung", hang), check("quick", sleeper(0))], project_root=tmp_path, timeout_s=0.5,
                         secrets=SecretBook())
    assert time.monotonic() - started < 0.5 + 10  # the limit, plus slack for a loaded machine: not forever
    assert results[0].status == "error" and results[0].message == "no answer within 0.5s"
    assert "--timeout" in (results[0].remediation or "")
    assert results[1].status == "ok"
    forever.set()


def test_a_slow_local_check_is_not_failed_by_the_network_timeout(tmp_path: Path) -> None:
    forever = threading.Event()

    def hang(_: CheckContext) -> Outcome:
        forever.wait()
        return Outcome("never")

    # A local file on a loaded machine: slower than --timeout, still an answer, not a failure.
    results = run_checks([check("local", sleeper(1.0), local=True), check("network", hang)],
                         project_root=tmp_path, timeout_s=0.2, secrets=SecretBook())
    assert results[0].status == "ok", results[0]
    assert results[1].status == "error" and results[1].message == "no answer within 0.2s"
    forever.set()


def test_a_local_check_is_limited_generously_and_a_hang_still_ends() -> None:
    from floe.preflight.runner import LOCAL_LIMIT_S, limit_of

    assert limit_of(check("net", sleeper(0)), 2.0) == 2.0
    assert limit_of(check("disk", sleeper(0), local=True), 2.0) == LOCAL_LIMIT_S >= 60
    assert limit_of(check("disk", sleeper(0), local=True), 900.0) == 900.0  # a longer --timeout still applies


def test_fail_fast_reports_unfinished_checks_as_skipped(tmp_path: Path) -> None:
    def broken(_: CheckContext) -> Outcome:
        raise CheckFailed("broken", "fix it")

    results = run_checks([check("slow", sleeper(2)), check("broken", broken)], project_root=tmp_path, timeout_s=5,
                         secrets=SecretBook(), fail_fast=True)
    assert [r.status for r in results] == ["skipped", "error"]
    assert "--fail-fast" in results[0].message


def test_a_bug_in_a_check_does_not_hide_the_others(tmp_path: Path) -> None:
    def buggy(_: CheckContext) -> Outcome:
        raise KeyError("oops")

    results = run_checks([check("buggy", buggy), check("fine", sleeper(0))], project_root=tmp_path, timeout_s=5,
                         secrets=SecretBook())
    assert results[0].status == "error" and "unexpected failure: KeyError" in results[0].message
    assert results[1].status == "ok"


def test_secret_values_are_scrubbed_from_every_text(tmp_path: Path) -> None:
    def leaky(context: CheckContext) -> Outcome:
        value = context.secrets.get(SecretRef(secret_ref="TOKEN"), "x.token")
        raise CheckFailed(f"server said: bad token {value}", f"replace {value}", details={"echo": f"[{value}]"})

    results = run_checks([check("leaky", leaky)], project_root=tmp_path, timeout_s=5,
                         secrets=SecretBook({"TOKEN": "tok-123456"}.get))
    dumped = results[0].model_dump_json()
    assert "tok-123456" not in dumped
    assert results[0].message == "server said: bad token ***" and results[0].details == {"echo": "[***]"}


def test_a_missing_secret_names_where_to_put_it(tmp_path: Path) -> None:
    def needs(context: CheckContext) -> Outcome:
        context.secrets.get(SecretRef(secret_ref="DB_PASSWORD"), "compute.password")
        return Outcome("unreachable")

    result = run_checks([check("needs", needs)], project_root=tmp_path, timeout_s=5, secrets=SecretBook({}.get))[0]
    assert result.status == "error"
    assert result.message == "secret 'DB_PASSWORD' (compute.password) is not set"
    assert "export DB_PASSWORD=" in (result.remediation or "") and "FLOE_SECRETS_DIR" in (result.remediation or "")
