"""dbt's JSON log events become node events as dbt counts them, with dbt's own messages attached.

The raw events are shaped as dbt-core 1.11 prints them with ``--log-format json`` (fields not
read here left out); the integration tests run the real thing.
"""

from __future__ import annotations

from typing import Any

import pytest

from floe.node_events import (
    INVOCATION,
    NodeEvent,
    clean_dbt_message,
    dbt_counts,
    listening,
    merge_dbt_messages,
    publish_raw_dbt_event,
)

PARSER_ERROR = ('Runtime Error in model bad (models/bad.sql)\n  Parser Error: syntax error at or near "where"\n'
                "  \n  LINE 10:       select from where\n                             ^")
UNIT_DIFF = ("\n\n\x1b[32mactual\x1b[0m differs from \x1b[31mexpected\x1b[0m:\n\n\x1b[0;1m@@\x1b[0m\x1b[33m,"
             "\x1b[0m\x1b[0;1mid\x1b[0m\r\n\x1b[31;1m\x1b[34;1m→\x1b[32;1m\x1b[0m \x1b[33m,\x1b[0m1\r\n\n")


def _node(unique_id: str, resource_type: str, status: str, name: str = "") -> dict[str, Any]:
    return {"unique_id": unique_id, "node_name": name or unique_id.split(".")[-1], "resource_type": resource_type,
            "node_status": status, "materialized": "table", "node_relation": {"relation_name": ""}}


def _event(name: str, level: str = "info", text: str = "", **data: Any) -> dict[str, Any]:
    return {"info": {"name": name, "level": level, "msg": text}, "data": data}


def _published(*raw: dict[str, Any]) -> list[NodeEvent]:
    events: list[NodeEvent] = []
    with listening(events.append):
        for event in raw:
            publish_raw_dbt_event(event)
    return events


def test_unit_tests_take_their_status_from_the_result_not_node_info() -> None:
    events = _published(
        # dbt leaves a unit test's node_info status at 'None'.
        _event("LogTestResult", status="pass", num_failures=0,
               node_info=_node("unit_test.p.good.ut_pass", "unit_test", "None")),
        _event("LogTestResult", "error", status="fail", num_failures=1,
               node_info=_node("unit_test.p.other.ut_fail", "unit_test", "None")),
    )
    assert [(e.name, e.status) for e in events] == [("ut_pass", "pass"), ("ut_fail", "fail")]


def test_skipped_nodes_are_reported() -> None:
    events = _published(_event("SkippingDetails", node_name="after_bad", resource_type="model",
                               node_info=_node("model.p.after_bad", "model", "skipped")))
    assert [(e.unique_id, e.resource_type, e.status) for e in events] == [("model.p.after_bad", "model", "skipped")]


def test_dbts_end_of_run_messages_attach_to_their_nodes() -> None:
    bad = _node("model.p.bad", "model", "error")
    warned = _node("test.p.accepted_values_good_id.ff", "test", "warn", "accepted_values_good_id")
    unit = _node("unit_test.p.other.ut_fail", "unit_test", "None")
    events = _published(
        _event("LogModelResult", "error", status="error", node_info=bad),
        _event("LogTestResult", "warn", status="warn", num_failures=1, node_info=warned),
        _event("LogTestResult", "error", status="fail", num_failures=1, node_info=unit),
        _event("RunResultFailure", "error", "Failure in model bad", node_info=bad),  # a heading only
        _event("RunResultError", "error", PARSER_ERROR, msg=PARSER_ERROR, node_info=bad),
        _event("RunResultError", "error", UNIT_DIFF, msg=UNIT_DIFF, node_info=unit),
        _event("RunResultWarningMessage", "warn", msg="Got 1 result, configured to warn if != 0", node_info=warned),
    )
    assert [e.resource_type for e in events[3:]] == [INVOCATION] * 3  # node listeners skip them
    nodes, invocation = merge_dbt_messages(events)
    assert invocation == []
    by_name = {n.name: n for n in nodes}
    assert list(by_name) == ["bad", "accepted_values_good_id", "ut_fail"]
    assert by_name["bad"].message == ("Runtime Error in model bad (models/bad.sql)\n"
                                      '  Parser Error: syntax error at or near "where"\n'
                                      "  LINE 10:       select from where\n                             ^")
    assert by_name["ut_fail"].message == "actual differs from expected:\n@@,id\n→ ,1"
    assert by_name["accepted_values_good_id"].message == "1 failing row\nGot 1 result, configured to warn if != 0"


def test_an_invocation_error_keeps_dbts_lines_without_the_traceback() -> None:
    lock = 'Encountered an error:\nIO Error: Could not set lock on file "w.duckdb": Conflicting lock'
    events = _published(
        _event("MainEncounteredError", "error", lock, exc=lock),
        _event("MainStackTrace", "error", "Traceback (most recent call last):\n  File x"),
    )
    nodes, invocation = merge_dbt_messages(events)
    assert nodes == []
    assert invocation == ['IO Error: Could not set lock on file "w.duckdb": Conflicting lock']


def test_a_node_reported_twice_is_one_node() -> None:
    """At dbt's debug log level a node's result comes as LogModelResult and again as NodeFinished."""
    bad = _node("model.p.bad", "model", "error")
    events = _published(
        _event("LogModelResult", "error", status="error", node_info=bad),
        _event("NodeFinished", "debug", run_result={"status": "error", "message": PARSER_ERROR}, node_info=bad),
        _event("RunResultError", "error", msg=PARSER_ERROR, node_info=bad),
    )
    nodes, _ = merge_dbt_messages(events)
    assert len(nodes) == 1 and nodes[0].message == clean_dbt_message(PARSER_ERROR)


@pytest.mark.parametrize(("status", "kind"), [
    ("success", "pass"), ("pass", "pass"), ("warn", "warn"), ("error", "error"), ("fail", "error"),
    ("partial success", "error"), ("skipped", "skip"), ("no-op", "noop"),
])
def test_counts_follow_dbts_summary_line(status: str, kind: str) -> None:
    nodes = [NodeEvent("model.p.a", "a", "model", status),
             NodeEvent("ingestion.s.t", "t", "ingestion", "success")]  # floe's own, not dbt's
    counts = dbt_counts(nodes)
    assert counts[kind] == 1 and counts["total"] == 1
    assert sum(v for k, v in counts.items() if k != "total") == 1


def test_clean_message_drops_colour_codes_tabs_and_blank_lines() -> None:
    assert clean_dbt_message("\x1b[31mDatabase Error\x1b[0m\r\n\n\tIs the server running?\n  \n") == (
        "Database Error\n    Is the server running?")
