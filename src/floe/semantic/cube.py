"""The parts of a Cube data model that floe generates, and their YAML documents.

One cube per file, ``cubes: [...]`` at the top, keys in the order of Cube's style guide
(name, table, description, pre-aggregations, joins, dimensions, measures). Member SQL uses
Cube's reference syntax: ``{CUBE}`` for the cube's own table, ``{member}`` and
``{cube.member}`` for members.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DIMENSION_TYPES = frozenset({"string", "number", "time", "boolean"})
MEASURE_TYPES = frozenset({"count", "count_distinct", "sum", "avg", "min", "max", "number"})
# Measures a rollup can re-aggregate across coarser groupings.
ADDITIVE_MEASURE_TYPES = frozenset({"count", "sum", "min", "max"})
JOIN_RELATIONSHIPS = frozenset({"many_to_one", "one_to_many", "one_to_one"})


@dataclass(frozen=True)
class CubeDimension:
    """A dimension: a column (or expression) to group and filter by."""

    name: str
    sql: str
    type: str
    description: str | None = None
    primary_key: bool = False

    def to_document(self) -> dict[str, Any]:
        document: dict[str, Any] = {"name": self.name, "sql": self.sql, "type": self.type}
        if self.primary_key:
            document["primary_key"] = True
        if self.description:
            document["description"] = self.description
        return document


@dataclass(frozen=True)
class CubeMeasure:
    """A measure: an aggregation, or (type ``number``) arithmetic over other measures."""

    name: str
    type: str
    sql: str | None
    description: str | None = None
    title: str | None = None

    def to_document(self) -> dict[str, Any]:
        document: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.sql is not None:
            document["sql"] = self.sql
        if self.title:
            document["title"] = self.title
        if self.description:
            document["description"] = self.description
        return document


@dataclass(frozen=True)
class CubeJoin:
    """A join to another cube (always a LEFT JOIN in Cube, from the cube declaring it)."""

    name: str
    relationship: str
    sql: str

    def to_document(self) -> dict[str, Any]:
        return {"name": self.name, "relationship": self.relationship, "sql": self.sql}


@dataclass(frozen=True)
class CubeRollup:
    """A rollup pre-aggregation by a time dimension, built in the database Cube reads (``external: false``).

    Refreshed whole whenever its refresh key changes. With a serving database the key is the
    publish ledger's newest batch (``refresh_sql``): every published batch rebuilds the rollup,
    no batch leaves it stale. It is not partitioned or incremental on purpose: an incremental
    refresh only rebuilds the partitions inside its ``update_window``, so a late arrival for an
    older day (the demo delivers some) would never reach its partition; rebuilding the whole
    rollup per batch is always right, and cheap at a day's granularity. Without a ledger (a
    server compute, which Cube reads directly) the key is time: every ``refresh_every``.
    """

    name: str
    measures: tuple[str, ...]
    dimensions: tuple[str, ...]
    time_dimension: str
    granularity: str = "day"
    refresh_sql: str | None = None
    refresh_every: str = "1 hour"

    def to_document(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": "rollup",
            "measures": [f"CUBE.{name}" for name in self.measures],
            "dimensions": [f"CUBE.{name}" for name in self.dimensions],
            "time_dimension": f"CUBE.{self.time_dimension}",
            "granularity": self.granularity,
            # Built and stored in the source database by Cube's refresh worker: no Cube Store here.
            "external": False,
            "refresh_key": {"sql": self.refresh_sql} if self.refresh_sql else {"every": self.refresh_every},
        }


@dataclass
class Cube:
    """One cube over one table."""

    name: str
    sql_table: str
    description: str | None = None
    dimensions: list[CubeDimension] = field(default_factory=list)
    measures: list[CubeMeasure] = field(default_factory=list)
    joins: list[CubeJoin] = field(default_factory=list)
    pre_aggregations: list[CubeRollup] = field(default_factory=list)

    def member_names(self) -> set[str]:
        """Names of every dimension and measure (Cube requires them unique per cube)."""
        return {d.name for d in self.dimensions} | {m.name for m in self.measures}

    def to_document(self) -> dict[str, Any]:
        """The cube as Cube's YAML reads it, under the top-level ``cubes`` key."""
        cube: dict[str, Any] = {"name": self.name, "sql_table": self.sql_table}
        if self.description:
            cube["description"] = self.description
        if self.pre_aggregations:
            cube["pre_aggregations"] = [p.to_document() for p in self.pre_aggregations]
        if self.joins:
            cube["joins"] = [j.to_document() for j in self.joins]
        cube["dimensions"] = [d.to_document() for d in self.dimensions]
        cube["measures"] = [m.to_document() for m in self.measures]
        return {"cubes": [cube]}


@dataclass
class CubeModel:
    """The generated cubes, and what could not be carried over (never dropped silently)."""

    cubes: list[Cube] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def cube(self, name: str) -> Cube:
        """The cube called ``name`` (KeyError when there is none)."""
        for cube in self.cubes:
            if cube.name == name:
                return cube
        raise KeyError(name)
