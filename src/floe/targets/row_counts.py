"""Row counts of many relations in few statements, for the run summary.

A summary of a 1,000-model run counts 1,000 tables after dbt has finished, so the counting
is time the user waits for. One ``count(*)`` statement per relation pays the round trip,
the parse and the plan a thousand times; one ``UNION ALL`` statement per chunk pays them a
few times and lets the database count the tables in parallel. A chunk that fails (a relation
dropped meanwhile, no permission on one) is counted relation by relation, so one bad
relation loses only its own count.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

CHUNK = 250

# Runs one SQL statement and returns its rows.
Execute = Callable[[str], Sequence[Sequence[Any]]]


def count_relations(execute: Execute, relations: Sequence[str], *, chunk: int = CHUNK) -> dict[str, int]:
    """Row counts of ``relations`` (already quoted, as dbt reports them); failures are left out."""
    counts: dict[str, int] = {}
    for start in range(0, len(relations), chunk):
        part = relations[start:start + chunk]
        try:
            rows = execute(_union_of_counts(part))
        except Exception:  # noqa: BLE001 - one bad relation: count the chunk one by one
            for relation in part:
                counts.update(_count_one(execute, relation))
            continue
        for index, count in rows:
            counts[part[int(index)]] = int(count)
    return counts


def _union_of_counts(relations: Sequence[str]) -> str:
    return "\nunion all\n".join(f"select {index}, count(*) from {relation}" for index, relation in enumerate(relations))


def _count_one(execute: Execute, relation: str) -> dict[str, int]:
    try:
        rows = execute(f"select count(*) from {relation}")
    except Exception:  # noqa: BLE001 - counting is a courtesy; the relation is just left out
        return {}
    return {relation: int(rows[0][0])} if rows else {}
