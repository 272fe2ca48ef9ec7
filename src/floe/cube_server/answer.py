"""Cube's answers read by people: the query a user typed, checked, and the rows as a table."""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from floe.cube_server.errors import CubeServerError

_QUERY_KEYS = frozenset({"measures", "dimensions", "timeDimensions", "segments", "filters", "order", "limit",
                         "offset", "timezone", "renewQuery", "ungrouped", "total"})


def parse_query(text: str) -> dict[str, Any]:
    """The query a user gave as JSON text.

    Raises:
        CubeServerError: not JSON (with line and column), not an object, or a key Cube does not know.
    """
    try:
        query = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CubeServerError(f"the query is not valid JSON: line {exc.lineno}, column {exc.colno}: {exc.msg}",
                              hint='give one JSON object, e.g. \'{"measures": ["orders.order_count"]}\'') from None
    if not isinstance(query, dict):
        raise CubeServerError(f"the query must be a JSON object, not {type(query).__name__}",
                              hint='e.g. \'{"measures": ["orders.order_count"], "dimensions": ["orders.region"]}\'')
    unknown = sorted(set(query) - _QUERY_KEYS)
    if unknown:
        raise CubeServerError(f"the query has key(s) Cube does not know: {', '.join(unknown)}",
                              hint="a Cube query has " + ", ".join(sorted(_QUERY_KEYS)))
    if not query.get("measures") and not query.get("dimensions") and not query.get("timeDimensions"):
        raise CubeServerError("the query asks for nothing: no measures, dimensions or timeDimensions",
                              hint='name at least one member, e.g. \'{"measures": ["orders.order_count"]}\'')
    return query


def answer_columns(answer: dict[str, Any]) -> list[str]:
    """The members of the answer's rows, in the order Cube gave them.

    A time dimension comes twice (``orders.ordered_at.day`` and ``orders.ordered_at``, the same
    value): only the one with the granularity is kept.
    """
    rows = answer.get("data") or []
    keys: list[str] = []
    for row in rows:
        keys.extend(key for key in row if key not in keys)
    return [key for key in keys if not any(other.startswith(key + ".") for other in keys)]


def answer_table(answer: dict[str, Any]) -> list[str]:
    """The answer's rows as aligned text lines (a header, a rule, one line a row)."""
    columns = answer_columns(answer)
    rows = answer.get("data") or []
    if not columns:
        return ["(no rows)"]
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    numeric = [all(_is_number(row.get(column)) for row in rows if row.get(column) is not None)
               for column in columns]
    widths = [max([len(column)] + [len(line[i]) for line in cells]) for i, column in enumerate(columns)]

    def line(values: list[str]) -> str:
        parts = [value.rjust(widths[i]) if numeric[i] else value.ljust(widths[i]) for i, value in enumerate(values)]
        return "  ".join(parts).rstrip()

    lines = [line(columns), "  ".join("-" * width for width in widths)]
    lines.extend(line(values) for values in cells)
    lines.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return lines


def used_pre_aggregations(answer: dict[str, Any]) -> list[str]:
    """The rollup tables Cube answered from (reported in dev mode), empty when it read the tables."""
    used = answer.get("usedPreAggregations") or {}
    return sorted(used) if isinstance(used, dict) else []


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str) and "T" in value and value.endswith(".000"):
        return value.replace("T00:00:00.000", "")  # a day: the time part says nothing
    return str(value)


def _is_number(value: Any) -> bool:
    if isinstance(value, (int, float)):
        return True
    try:
        Decimal(str(value))
    except (InvalidOperation, ValueError):
        return False
    return True
