"""A failed dbt step reads as dbt's own error, not as dagster-dbt's 'The dbt CLI process ...' wrapper."""

from __future__ import annotations

from dataclasses import dataclass

from floe.orchestration.runner import _step_error


@dataclass(frozen=True)
class SerializableErrorInfo:
    """The fields of Dagster's record of a step's error that floe reads (the real one is private API)."""

    message: str
    stack: list[str]
    cls_name: str | None
    cause: SerializableErrorInfo | None = None

_WRAPPER = ("dagster_dbt.errors.DagsterDbtCliRuntimeError: The dbt CLI process with command\n\n`dbt build`\n\n"
            "failed with exit code `2`. Check the stdout in the Dagster compute logs for the full information "
            "about the error, or view the dbt debug log: /p/.floe/dbt/target/run-1/dbt.log.{parsed}")


def _failed(message: str, cls_name: str = "DagsterDbtCliRuntimeError") -> SerializableErrorInfo:
    cause = SerializableErrorInfo(message, [], cls_name)
    return SerializableErrorInfo("Error occurred while executing op", [], "DagsterExecutionStepExecutionError",
                                 cause=cause)


def test_dbts_own_error_lines_replace_the_wrapper() -> None:
    lock = 'IO Error: Could not set lock on file "w.duckdb"'
    assert _step_error(_failed(_WRAPPER.format(parsed="")), [lock], nodes_failed=False) == [lock]


def test_failed_nodes_explain_the_exit_alone() -> None:
    assert _step_error(_failed(_WRAPPER.format(parsed="")), [], nodes_failed=True) == []


def test_without_dbt_events_the_parsed_errors_then_the_exit_code_are_shown() -> None:
    parsed = ("\n\nErrors parsed from dbt logs:\n\nEncountered an error:\n\x1b[31mRuntime Error\x1b[0m\n  bad\n\n"
              "Traceback (most recent call last):\n  x")
    assert _step_error(_failed(_WRAPPER.format(parsed=parsed)), [], nodes_failed=False) == ["Runtime Error\n  bad"]
    assert _step_error(_failed(_WRAPPER.format(parsed="")), [], nodes_failed=False) == [
        "dbt failed (exit code 2); its log: /p/.floe/dbt/target/run-1/dbt.log"]


def test_other_steps_keep_what_they_raised() -> None:
    assert _step_error(_failed("ValueError: schema drift", "ValueError"), ["x"], nodes_failed=True) == [
        "ValueError: schema drift"]
