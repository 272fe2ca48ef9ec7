"""An interrupt that reaches the dbt step anywhere but inside dagster-dbt's read of dbt's output.

Dagster raises ``DagsterExecutionInterruptedError`` wherever the main thread is when Ctrl-C or
SIGTERM arrives. dagster-dbt stops dbt only when that is inside its own read; raised elsewhere
(a node listener, Dagster between two events, dagster-dbt's own loop), dbt ran on, and the
abandoned reader printed "Exception ignored in ... generator ignored GeneratorExit" with a
traceback — the intermittent traceback of ``test_killed_runs``'s Ctrl-C test. Here the timing is
forced: a node listener raises the interrupt (or dagster-dbt's loop fails) at a known event.

Real dbt on a DuckDB project whose slow Python model waits; real dagster-dbt ``DbtCliInvocation``.
"""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from floe.node_events import NodeEvent, listening
from tests.integration.test_killed_runs import MARKER_ENV, SLOW_MODEL

pytestmark = pytest.mark.integration

PATIENCE = 300.0  # dbt's start on a loaded machine: how long we wait, never how long it should take


@pytest.fixture
def unraisable() -> Iterator[list[Any]]:
    """Every unraisable exception reported while the test runs (what Python would print)."""
    seen: list[Any] = []
    previous = sys.unraisablehook
    sys.unraisablehook = lambda report: seen.append((report.exc_type, str(report.exc_value), report.object))
    try:
        yield seen
    finally:
        sys.unraisablehook = previous


@pytest.fixture
def slow_invocation(compiled_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``dbt build`` running through dagster-dbt on a project with a model that waits; dbt is
    killed at the end whatever the test did."""
    from floe.contract.project import open_compiled_project
    from floe.orchestration.builder import build_code_location
    from floe.orchestration.dbt_specs import dbt_translator, load_manifest

    (compiled_project / "dbt" / "models" / "slow.py").write_text(SLOW_MODEL)
    recompiled = subprocess.run([sys.executable, "-m", "floe", "compile"], cwd=compiled_project,
                                capture_output=True, text=True, timeout=PATIENCE)
    assert recompiled.returncode == 0, recompiled.stderr
    monkeypatch.setenv("FLOE_PROJECT_DIR", str(compiled_project))
    monkeypatch.setenv(MARKER_ENV, str(tmp_path / "dbt-running"))
    monkeypatch.delenv("DBT_TARGET_PATH", raising=False)
    compiled = open_compiled_project(compiled_project / ".floe" / "artifacts.json")
    location = build_code_location(compiled)
    manifest = load_manifest(compiled.manifest_path)
    invocation = location.dbt.cli_resource().cli(["build"], manifest=manifest,
                                                  dagster_dbt_translator=dbt_translator(manifest),
                                                  target_path=tmp_path / "target")
    # The slow model sleeps in one of dbt's threads, which SIGINT does not reach: dbt then waits
    # for it, and the step's SIGKILL after this grace is what ends it (25 s by default).
    invocation.termination_timeout_seconds = 3
    try:
        yield invocation
    finally:
        if invocation.process.poll() is None:
            invocation.process.kill()
            invocation.process.wait()


class Interrupt:
    """A node listener that raises Dagster's interrupt when the slow model starts, as Ctrl-C would
    had it arrived while floe published that event."""

    def __init__(self) -> None:
        self.raised_at: float | None = None

    def __call__(self, event: NodeEvent) -> None:
        if event.status == "started" and event.name == "slow" and self.raised_at is None:
            from dagster._core.errors import DagsterExecutionInterruptedError

            self.raised_at = time.monotonic()
            raise DagsterExecutionInterruptedError()


def test_an_interrupt_outside_dagster_dbts_read_stops_dbt_without_a_traceback(
        slow_invocation: Any, unraisable: list[Any]) -> None:
    from dagster._core.errors import DagsterExecutionInterruptedError

    from floe.orchestration.dbt_step import stream_invocation

    interrupt = Interrupt()
    with listening(interrupt), pytest.raises(DagsterExecutionInterruptedError):
        for _ in stream_invocation(slow_invocation, context=None):  # type: ignore[arg-type]
            pass
    assert interrupt.raised_at is not None
    # Stopped by the step, not left waiting out its 900 s model.
    assert slow_invocation.process.poll() is not None
    gc.collect()  # anything left suspended is closed now, and would report here
    assert unraisable == []


def test_a_failure_inside_dagster_dbts_own_loop_stops_dbt_and_the_reader_stays_quiet(
        slow_invocation: Any, unraisable: list[Any]) -> None:
    """The one place floe cannot reach the reader: an interrupt escaping ``stream_raw_events``'s
    own frame, which takes the suspended reader with it. Forced here by a stand-in for that loop
    that drives dagster-dbt's real reader and fails once the slow model runs."""
    from floe.orchestration.dbt_step import stream_invocation

    real_events = slow_invocation.stream_raw_events

    def events_then_a_broken_line() -> Iterator[Any]:
        reader = slow_invocation._stream_stdout()  # dagster-dbt's reader, suspended at its yield below
        for raw in reader:
            if isinstance(raw, dict) and raw.get("info", {}).get("name") == "LogStartLine" \
                    and raw.get("data", {}).get("node_info", {}).get("node_name") == "slow":
                raise KeyError("data")  # dagster-dbt's loop fails here, taking the suspended reader with it
            yield from ()
        yield from real_events()

    slow_invocation.stream_raw_events = events_then_a_broken_line
    with pytest.raises(KeyError):
        for _ in stream_invocation(slow_invocation, context=None):  # type: ignore[arg-type]
            pass
    assert slow_invocation.process.poll() is not None
    gc.collect()
    assert unraisable == []


def test_an_interrupt_inside_dagster_dbts_read_ends_the_step_interrupted_even_when_dbt_lingers(
        slow_invocation: Any, tmp_path: Path, unraisable: list[Any]) -> None:
    """A real SIGINT while the step waits on dbt's output, as Ctrl-C during a long model.
    dagster-dbt forwards it to dbt and waits ``termination_timeout_seconds``; this dbt does not
    end (its model sleeps in a thread SIGINT does not reach), so dagster-dbt raises
    ``TimeoutExpired``. The step must still stop dbt and end as interrupted."""
    from dagster import DagsterExecutionInterruptedError
    from dagster._utils.interrupts import raise_interrupts_as  # how Dagster runs a step's body

    from floe.orchestration.dbt_step import stream_invocation

    marker = tmp_path / "dbt-running"
    done = threading.Event()

    def interrupt_once_the_model_waits() -> None:
        deadline = time.monotonic() + PATIENCE
        while not done.is_set() and time.monotonic() < deadline:
            if marker.is_file() and marker.read_text().strip():
                time.sleep(1.0)  # dbt prints nothing more: the main thread now waits in the read
                os.kill(os.getpid(), signal.SIGINT)
                return
            time.sleep(0.1)

    # A signal that came late (after Dagster's handler is gone) must not end the test run.
    previous = signal.signal(signal.SIGINT, lambda *_: None)
    sender = threading.Thread(target=interrupt_once_the_model_waits, daemon=True)
    try:
        with raise_interrupts_as(DagsterExecutionInterruptedError), \
                pytest.raises(DagsterExecutionInterruptedError) as raised:
            sender.start()
            for _ in stream_invocation(slow_invocation, context=None):  # type: ignore[arg-type]
                pass
    finally:
        done.set()
        sender.join()
        signal.signal(signal.SIGINT, previous)
    assert raised.value.__cause__ is None
    assert slow_invocation.process.poll() is not None
    gc.collect()
    assert unraisable == []
