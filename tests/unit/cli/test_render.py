"""The run summary and progress show dbt's message (first lines), dbt's counts and skipped nodes."""

from __future__ import annotations

import pytest

from floe.cli.render import NodeProgress, message_lines, outcome_document, print_summary
from floe.node_events import INVOCATION, NodeEvent
from floe.orchestration.runner import RunOutcome

PARSER_ERROR = ('Runtime Error in model bad (models/bad.sql)\n  Parser Error: syntax error at or near "where"\n'
                "  LINE 10:       select from where\n                             ^")


def _outcome(errors: list[str] | None = None) -> RunOutcome:
    nodes = [
        NodeEvent("seed.p.raw", "raw", "seed", "success", 0.1, rows=2),
        NodeEvent("model.p.bad", "bad", "model", "error", 0.2, message=PARSER_ERROR),
        NodeEvent("model.p.after_bad", "after_bad", "model", "skipped", 0.0),
        NodeEvent("unit_test.p.good.ut_pass", "ut_pass", "unit_test", "pass", 0.1),
        NodeEvent("test.p.w", "w", "test", "warn", 0.1,
                  message="1 failing row\nGot 1 result, configured to warn if != 0"),
    ]
    return RunOutcome("0123456789", False, 3.0, nodes, errors or [])


def test_summary_lists_skipped_nodes_counts_like_dbt_and_shows_dbts_message(capsys: pytest.CaptureFixture[str]) -> None:
    print_summary(_outcome())
    lines = capsys.readouterr().out.splitlines()
    assert next(line for line in lines if line.startswith("after_bad")).split() == ["after_bad", "model", "skipped",
                                                                                   "-", "-"]
    assert "tests: 1 passed, 1 not passed" in lines
    assert "dbt: PASS=2 WARN=1 ERROR=1 SKIP=1 NO-OP=0 TOTAL=5" in lines
    failure = lines.index("  ✗ model bad: Runtime Error in model bad (models/bad.sql)")
    # The message's own indentation is kept relative to its first line below the heading.
    assert lines[failure + 1:failure + 4] == ['      Parser Error: syntax error at or near "where"',
                                              "      LINE 10:       select from where",
                                              "                                 ^"]
    assert "  • test w: 1 failing row" in lines
    assert "run 01234567 FAILED in 3.0s" in lines


def test_a_run_that_failed_before_any_node_shows_dbts_error_alone(capsys: pytest.CaptureFixture[str]) -> None:
    outcome = RunOutcome("0123456789", False, 1.0, [], ["Database Error\n  connection to server failed"])
    print_summary(outcome)
    out = capsys.readouterr().out
    assert "asset" not in out and "tests:" not in out and "dbt: PASS" not in out
    assert "  ✗ Database Error\n      connection to server failed\n" in out


def test_long_messages_keep_their_first_lines() -> None:
    lines = message_lines("\n".join(f"line {i}" for i in range(12)))
    assert lines == ["line 0", "line 1", "line 2", "line 3", "… 8 more lines in the run log"]
    assert message_lines("a\n\nb") == ["a", "b"]


def test_progress_prints_each_node_and_dbts_later_message_under_its_kind(capsys: pytest.CaptureFixture[str]) -> None:
    progress = NodeProgress()
    progress(NodeEvent("", "dbt", INVOCATION, "started", relation="/tmp/target"))
    progress(NodeEvent("model.p.bad", "bad", "model", "started"))
    progress(NodeEvent("model.p.bad", "bad", "model", "error", 0.2))
    progress(NodeEvent("model.p.after_bad", "after_bad", "model", "skipped", 0.0))
    progress(NodeEvent("model.p.bad", "bad", INVOCATION, "error", message=PARSER_ERROR))
    progress(NodeEvent("", "dbt", INVOCATION, "error", message="IO Error: Could not set lock"))
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "  ✗ [  1] model     bad  (0.20s)  ERROR"
    assert err[1] == "  • [  2] model     after_bad  SKIPPED"
    assert err[2] == "  ✗ model bad: Runtime Error in model bad (models/bad.sql)"
    assert err[3] == '    Parser Error: syntax error at or near "where"'
    assert err[-1] == "  ✗ dbt: IO Error: Could not set lock"
    assert progress.finished == 2


def test_json_outcome_has_dbts_counts_and_messages() -> None:
    document = outcome_document(_outcome())
    assert document["counts"] == {"pass": 2, "warn": 1, "error": 1, "skip": 1, "noop": 0, "total": 5}
    assert next(n for n in document["nodes"] if n["name"] == "bad")["message"] == PARSER_ERROR
