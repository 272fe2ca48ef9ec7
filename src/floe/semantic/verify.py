"""Check a Cube data model against the warehouse it will query, without running Cube.

Every member's SQL is resolved the way Cube resolves it (``{CUBE}``, ``{member}``,
``{cube.member}``) and run on the built DuckDB database, opened read-only:

- the cube's table exists;
- each dimension selects (``SELECT <sql> FROM <table> LIMIT 1``) and its warehouse type fits
  the declared type (time, number, boolean); a primary key is unique and never null;
- each measure aggregates (``SELECT sum(<sql>) FROM <table>``, a number measure with its
  referenced measures expanded) over a numeric input where the type needs one;
- each join's ON clause runs, targets a cube with a primary key, and a many_to_one or
  one_to_one join does not multiply the rows of the cube declaring it;
- each pre-aggregation names existing members, additive measures and a time dimension.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from floe.errors import FloeError
from floe.semantic.cube import ADDITIVE_MEASURE_TYPES, DIMENSION_TYPES, JOIN_RELATIONSHIPS, CubeModel
from floe.semantic.generate import cube_type

if TYPE_CHECKING:
    import duckdb

    from floe.serving import ServingConnection

_REFERENCE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?:\.([A-Za-z_][A-Za-z0-9_]*))?\}")
_AGGREGATE = {"count": "count({})", "count_distinct": "count(distinct {})", "count_distinct_approx":
              "approx_count_distinct({})", "sum": "sum({})", "avg": "avg({})", "min": "min({})", "max": "max({})"}
_NUMERIC_INPUT = frozenset({"sum", "avg"})
_GRANULARITIES = frozenset({"second", "minute", "hour", "day", "week", "month", "quarter", "year"})
_MAX_DEPTH = 20


@dataclass(frozen=True)
class Problem:
    """One thing in the Cube model that would fail or mislead at query time."""

    cube: str
    member: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.cube}.{self.member}" if self.member else self.cube
        return f"{where}: {self.message}"


def verify_cube_model(cubes: CubeModel | Sequence[Mapping[str, Any]], database: Path, *,
                      serving: ServingConnection | None = None, project_root: Path | None = None) -> list[Problem]:
    """Run every member of the Cube model against a DuckDB database; return what fails.

    Args:
        cubes: The generated model, or cube documents as read back by ``read_cube_model``.
        database: The DuckDB file the marts were built into (opened read-only).
        serving: The serving PostgreSQL the marts are published to: the members then run on
            the published tables (what Cube reads) through DuckDB's postgres extension, not on
            ``database``.
        project_root: The project folder, whose ``.floe/duckdb_extensions`` the postgres
            extension is installed into (default: the database's folder).

    Returns:
        The problems found; empty when every member works.

    Raises:
        FloeError: the database file does not exist; the serving database cannot be reached.
    """
    documents = ([cube.to_document()["cubes"][0] for cube in cubes.cubes] if isinstance(cubes, CubeModel)
                 else [dict(cube) for cube in cubes])
    resolver = _Resolver({str(document.get("name")): document for document in documents})
    problems: list[Problem] = []
    with _connection(database, serving, project_root or database.parent) as connection:
        for document in documents:
            problems.extend(_CubeCheck(connection, resolver, document).run())
    return problems


@contextlib.contextmanager
def _connection(database: Path, serving: ServingConnection | None,
                project_root: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    import duckdb

    from floe.targets.duckdb_lock import explained_lock_errors

    if serving is not None:
        from floe.serving import serving_session

        with serving_session(project_root, serving) as connection:
            yield connection
        return
    if not database.is_file():
        raise FloeError(f"{database}: no DuckDB database here", hint="build the marts first (floe run)")
    with explained_lock_errors(database), duckdb.connect(str(database), read_only=True) as connection:
        yield connection


class _Resolver:
    """Expands Cube references into plain SQL, with each cube's table aliased by its name."""

    def __init__(self, cubes: Mapping[str, Mapping[str, Any]]) -> None:
        self.cubes = cubes

    @staticmethod
    def alias(cube: str) -> str:
        return '"' + cube.replace('"', '""') + '"'

    def members(self, cube: str) -> dict[str, tuple[str, Mapping[str, Any]]]:
        """Member name -> ('dimension' | 'measure', its document)."""
        document = self.cubes.get(cube, {})
        found: dict[str, tuple[str, Mapping[str, Any]]] = {}
        for kind in ("dimension", "measure"):
            for member in document.get(kind + "s") or []:
                if isinstance(member, Mapping) and "name" in member:
                    found[str(member["name"])] = (kind, member)
        return found

    def expand(self, sql: str, cube: str, depth: int = 0) -> str:
        if depth > _MAX_DEPTH:
            raise ValueError("references nest too deeply (a cycle?)")

        def replace(match: re.Match[str]) -> str:
            first, second = match.group(1), match.group(2)
            if second is None:
                if first == "CUBE":
                    return self.alias(cube)
                if first in self.cubes:
                    return self.alias(first)
                return self.member_sql(cube, first, depth + 1)
            owner = cube if first == "CUBE" else first
            if owner not in self.cubes:
                raise ValueError(f"unknown cube '{first}' in {match.group(0)}")
            return self.member_sql(owner, second, depth + 1)

        return _REFERENCE.sub(replace, sql)

    def member_sql(self, cube: str, name: str, depth: int = 0) -> str:
        """A dimension's expression, or a measure's aggregate expression, fully expanded."""
        found = self.members(cube).get(name)
        if found is None:
            raise ValueError(f"unknown member '{cube}.{name}'")
        kind, member = found
        sql = member.get("sql")
        if kind == "dimension":
            if not isinstance(sql, str):
                raise ValueError(f"dimension '{cube}.{name}' has no sql")
            return f"({self.expand(sql, cube, depth)})"
        measure_type = str(member.get("type"))
        if measure_type == "count" and sql is None:
            return "count(*)"
        if not isinstance(sql, str):
            raise ValueError(f"measure '{cube}.{name}' has no sql")
        expanded = self.expand(sql, cube, depth)
        if measure_type in _AGGREGATE:
            return _AGGREGATE[measure_type].format(expanded)
        return f"({expanded})"


class _CubeCheck:
    """The checks of one cube."""

    def __init__(self, connection: duckdb.DuckDBPyConnection, resolver: _Resolver,
                 document: Mapping[str, Any]) -> None:
        self.connection = connection
        self.resolver = resolver
        self.document = document
        self.name = str(document.get("name") or "?")
        self.source = f"{document.get('sql_table')} as {resolver.alias(self.name)}"

    def run(self) -> Iterator[Problem]:
        table = self.document.get("sql_table")
        if not isinstance(table, str) or not table:
            yield Problem(self.name, None, "no sql_table")
            return
        error = self._error(f"select * from {self.source} limit 0")
        if error:
            yield Problem(self.name, None, f"table {table} cannot be read: {error}")
            return
        names = [str(m.get("name")) for kind in ("dimensions", "measures") for m in self.document.get(kind) or []]
        for duplicate in sorted({n for n in names if names.count(n) > 1}):
            yield Problem(self.name, duplicate, "more than one member has this name")
        yield from self._dimensions()
        yield from self._measures()
        yield from self._joins()
        yield from self._pre_aggregations()

    def _dimensions(self) -> Iterator[Problem]:
        for dimension in self.document.get("dimensions") or []:
            name = str(dimension.get("name"))
            declared = dimension.get("type")
            if declared not in DIMENSION_TYPES:
                yield Problem(self.name, name, f"unknown dimension type '{declared}'")
                continue
            try:
                sql = self.resolver.member_sql(self.name, name)
            except ValueError as exc:
                yield Problem(self.name, name, str(exc))
                continue
            error = self._error(f"select {sql} from {self.source} limit 1")
            if error:
                yield Problem(self.name, name, f"SQL fails: {error}")
                continue
            actual = self._type_of(sql)
            if declared != "string" and cube_type(actual, default="string") != declared:
                yield Problem(self.name, name, f"declared {declared}, but the warehouse type is {actual}")
            if dimension.get("primary_key"):
                row = self.connection.execute(
                    f"select count(*), count(distinct {sql}), count({sql}) from {self.source}").fetchone()
                if row is not None and not (row[0] == row[1] == row[2]):
                    yield Problem(self.name, name, f"primary key is not unique and non-null "
                                                   f"({row[0]} rows, {row[1]} distinct, {row[2]} non-null)")

    def _measures(self) -> Iterator[Problem]:
        for measure in self.document.get("measures") or []:
            name = str(measure.get("name"))
            kind = measure.get("type")
            if kind not in _AGGREGATE and kind != "number":
                yield Problem(self.name, name, f"measure type '{kind}' is not checked by floe")
                continue
            try:
                sql = self.resolver.member_sql(self.name, name)
            except ValueError as exc:
                yield Problem(self.name, name, str(exc))
                continue
            error = self._error(f"select {sql} from {self.source}")
            if error:
                yield Problem(self.name, name, f"SQL fails: {error}")
                continue
            if kind in _NUMERIC_INPUT:
                inner = self.resolver.expand(str(measure.get("sql")), self.name)
                actual = self._type_of(inner)
                if cube_type(actual) != "number":
                    yield Problem(self.name, name, f"{kind} over a non-numeric input ({actual})")

    def _joins(self) -> Iterator[Problem]:
        joins = self.document.get("joins") or []
        if joins and not self._primary_keys(self.name):
            yield Problem(self.name, None, "declares joins but has no primary key (Cube needs one to deduplicate)")
        for join in joins:
            target = str(join.get("name"))
            relationship = join.get("relationship")
            if target not in self.resolver.cubes:
                yield Problem(self.name, f"joins.{target}", "joins a cube that does not exist")
                continue
            if relationship not in JOIN_RELATIONSHIPS:
                yield Problem(self.name, f"joins.{target}", f"unknown relationship '{relationship}'")
                continue
            if not self._primary_keys(target):
                yield Problem(self.name, f"joins.{target}", f"cube '{target}' has no primary key")
            try:
                condition = self.resolver.expand(str(join.get("sql")), self.name)
            except ValueError as exc:
                yield Problem(self.name, f"joins.{target}", str(exc))
                continue
            table = self.resolver.cubes[target].get("sql_table")
            joined = f"{self.source} left join {table} as {self.resolver.alias(target)} on {condition}"
            error = self._error(f"select count(*) from {joined}")
            if error:
                yield Problem(self.name, f"joins.{target}", f"SQL fails: {error}")
                continue
            if relationship in ("many_to_one", "one_to_one"):
                before = self._scalar(f"select count(*) from {self.source}")
                after = self._scalar(f"select count(*) from {joined}")
                if before != after:
                    yield Problem(self.name, f"joins.{target}",
                                  f"{relationship} join multiplies rows ({before} before, {after} after)")

    def _pre_aggregations(self) -> Iterator[Problem]:
        members = self.resolver.members(self.name)
        for pre_aggregation in self.document.get("pre_aggregations") or []:
            label = f"pre_aggregations.{pre_aggregation.get('name')}"
            for reference in pre_aggregation.get("measures") or []:
                found = members.get(str(reference).removeprefix("CUBE."))
                if found is None or found[0] != "measure":
                    yield Problem(self.name, label, f"{reference} is not a measure of this cube")
                elif pre_aggregation.get("type", "rollup") == "rollup" and \
                        found[1].get("type") not in ADDITIVE_MEASURE_TYPES:
                    yield Problem(self.name, label, f"{reference} is not additive; a rollup cannot re-aggregate it")
            for reference in pre_aggregation.get("dimensions") or []:
                found = members.get(str(reference).removeprefix("CUBE."))
                if found is None or found[0] != "dimension":
                    yield Problem(self.name, label, f"{reference} is not a dimension of this cube")
            time_dimension = pre_aggregation.get("time_dimension")
            if time_dimension is not None:
                found = members.get(str(time_dimension).removeprefix("CUBE."))
                if found is None or found[1].get("type") != "time":
                    yield Problem(self.name, label, f"{time_dimension} is not a time dimension of this cube")
                if pre_aggregation.get("granularity") not in _GRANULARITIES:
                    yield Problem(self.name, label, f"granularity '{pre_aggregation.get('granularity')}' is unknown")

    def _primary_keys(self, cube: str) -> list[str]:
        return [name for name, (kind, member) in self.resolver.members(cube).items()
                if kind == "dimension" and member.get("primary_key")]

    def _error(self, sql: str) -> str | None:
        import duckdb

        try:
            self.connection.execute(sql).fetchall()
        except duckdb.Error as exc:
            return str(exc).splitlines()[0]
        return None

    def _type_of(self, sql: str) -> str:
        rows = self.connection.execute(f"describe select {sql} as value from {self.source}").fetchall()
        return str(rows[0][1]) if rows else "unknown"

    def _scalar(self, sql: str) -> object:
        row = self.connection.execute(sql).fetchone()
        return row[0] if row else None
