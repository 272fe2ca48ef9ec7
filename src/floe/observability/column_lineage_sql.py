"""Column lineage of one SELECT statement: where every output column's value comes from.

The statement is parsed with sqlglot in the warehouse's dialect, qualified against the known
columns of the tables it reads (so ``select *`` expands and unqualified columns find their
table), and walked scope by scope (CTEs, derived tables, subqueries, set operations) down to
the columns of real tables. What each input column does to an output column follows the
OpenLineage transformation types:

* DIRECT IDENTITY: copied as is (``select a``, ``select a as b``, through any CTE chain);
* DIRECT TRANSFORMATION: computed from it (``coalesce(a, 0)``, ``a + b``, ``cast(a as int)``);
* DIRECT AGGREGATION: aggregated (``sum(a)``, ``max(a) over (...)``), whatever wraps it;
* INDIRECT CONDITIONAL: decides which value is taken (a ``case when`` condition, ``if``);
* INDIRECT WINDOW: partitions or orders the window of a window function;
* INDIRECT FILTER: an aggregate's ``filter (where ...)``, or a scalar subquery's filter.

What shapes the rows of the whole output rather than one column (``where``, ``having``,
``qualify``: FILTER; ``join ... on``: JOIN; ``group by``: GROUP_BY; ``order by``: SORT) is
reported once for the dataset, including such clauses of every CTE or derived table the
rows come through.

Nothing here guesses: a column that cannot be resolved (an unknown table's column in a join
of several unknown tables, a star over several unknown tables) is left out and logged at
debug level. Analyses are cached per process by the SQL's hash, dialect and input schema, so
a model costs one parse per run however many events mention it.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from sqlglot import exp
    from sqlglot.optimizer.scope import Scope

log = logging.getLogger(__name__)

TableKey = tuple[str, ...]
DIRECT, INDIRECT = "DIRECT", "INDIRECT"
IDENTITY, TRANSFORMATION, AGGREGATION = "IDENTITY", "TRANSFORMATION", "AGGREGATION"
JOIN, FILTER, GROUP_BY, SORT, WINDOW, CONDITIONAL = "JOIN", "FILTER", "GROUP_BY", "SORT", "WINDOW", "CONDITIONAL"
# sqlglot counts these window functions among aggregates, but each returns one row's value as is.
_PICKS = frozenset({"Lag", "Lead", "FirstValue", "LastValue", "NthValue"})
_DIRECT_RANK = {IDENTITY: 0, TRANSFORMATION: 1, AGGREGATION: 2}
# Clauses of a SELECT that shape the rows of its result, and what they do to them.
_ROW_CLAUSES = (("where", FILTER), ("prewhere", FILTER), ("having", FILTER), ("qualify", FILTER),
                ("group", GROUP_BY), ("order", SORT))
# Dialects floe's compute types speak; anything else is tried under its own name.
_DIALECTS = {"duckdb": "duckdb", "postgres": "postgres", "snowflake": "snowflake", "bigquery": "bigquery",
             "trino": "trino"}


class Kind(NamedTuple):
    """How an input column contributes: OpenLineage type, subtype and whether it is masked."""

    type: str
    subtype: str
    masking: bool = False


class Origin(NamedTuple):
    """A column of a table the statement reads (the table as its normalised name parts)."""

    table: TableKey
    column: str


Deps = dict[Origin, set[Kind]]
_COPY = Kind(DIRECT, IDENTITY)


@dataclass(frozen=True)
class SqlLineage:
    """Lineage of one statement.

    Attributes:
        columns: The output columns found, in order.
        fields: Per output column, its input columns and how each contributes.
        dataset: Input columns that shape the rows of the whole output (filters, joins...).
        complete: Whether ``columns`` is every output column (False when a ``*`` stayed unexpanded).
        partial: Output columns with an input that could not be traced (their ``fields`` entry
            holds only what could).
    """

    columns: tuple[str, ...]
    fields: Mapping[str, Mapping[Origin, frozenset[Kind]]]
    dataset: Mapping[Origin, frozenset[Kind]]
    complete: bool
    partial: frozenset[str] = frozenset()


def dialect_for(adapter: str) -> str | None:
    """sqlglot's dialect for a dbt adapter type (None: sqlglot does not know it)."""
    from sqlglot.dialects.dialect import Dialect

    name = _DIALECTS.get(adapter, adapter)
    try:
        Dialect.get_or_raise(name)
    except ValueError:
        return None
    return name


def table_key(relation: str, dialect: str | None) -> TableKey | None:
    """A relation name as dbt writes it (``"db"."schema"."table"``), as normalised name parts."""
    from sqlglot import exp
    from sqlglot.errors import SqlglotError
    from sqlglot.optimizer.normalize_identifiers import normalize_identifiers

    try:
        table = normalize_identifiers(exp.to_table(relation, dialect=dialect), dialect=dialect)
    except SqlglotError:
        return None
    return _key(table, dialect)


def _key(table: exp.Table, dialect: str | None) -> TableKey:
    parts = [p.name for p in table.parts]
    if dialect == "bigquery":  # `project.dataset.table` may be one quoted identifier
        parts = [piece for part in parts for piece in part.split(".")]
    return tuple(parts)


_CACHE: dict[tuple[str, str | None, Any], SqlLineage | None] = {}
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 4096


def analyse(sql: str, dialect: str | None, schema: Mapping[TableKey, Sequence[str]],
            wanted: Sequence[str] = ()) -> SqlLineage | None:
    """Lineage of a SELECT (None when it cannot be parsed or is not a query).

    Args:
        sql: The statement, e.g. a dbt model's compiled SQL.
        dialect: sqlglot dialect name (see :func:`dialect_for`).
        schema: Known columns of the tables it may read, by :func:`table_key`.
        wanted: Output columns to look for behind a ``*`` that cannot be expanded (a model's
            declared columns); ignored when every output column is explicit.
    """
    frozen_schema = tuple(sorted((key, tuple(columns)) for key, columns in schema.items()))
    key = (hashlib.sha256(sql.encode()).hexdigest(), dialect, (frozen_schema, tuple(wanted)))
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
    result = _analyse(sql, dialect, frozen_schema, tuple(wanted))
    with _CACHE_LOCK:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = result
    return result


def _analyse(sql: str, dialect: str | None, schema: tuple[tuple[TableKey, tuple[str, ...]], ...],
             wanted: tuple[str, ...]) -> SqlLineage | None:
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError
    from sqlglot.optimizer.normalize_identifiers import normalize_identifiers
    from sqlglot.optimizer.qualify import qualify
    from sqlglot.optimizer.scope import build_scope

    try:
        statements = [s for s in sqlglot.parse(sql, dialect=dialect) if s is not None]
    except (SqlglotError, RecursionError) as exc:
        log.debug("column lineage: cannot parse the SQL: %s", exc)
        return None
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        log.debug("column lineage: not a single query (%d statements)", len(statements))
        return None
    # Qualify with the known columns; failing that (a schema sqlglot cannot use, a correlated
    # subquery over a table of unknown columns), without them; failing that, tables only: the
    # walk then resolves an unqualified column where one table alone is in scope.
    attempts: list[dict[str, Any]] = [{"schema": _nested(schema)}, {},
                                      {"qualify_columns": False, "expand_stars": False}]
    expression: exp.Expr = statements[0]
    for number, options in enumerate(attempts):
        if number:  # qualify changes the tree in place: start again from the text
            expression = sqlglot.parse_one(sql, dialect=dialect)
        try:
            expression = qualify(expression, dialect=dialect, validate_qualify_columns=False, identify=False,
                                 **options)
            break
        except (SqlglotError, ValueError, KeyError) as exc:
            log.debug("column lineage: qualify (%s) failed: %s", ", ".join(options) or "no schema", exc)
    else:
        return None
    try:
        root = build_scope(expression)
        if root is None:
            return None
        normalised = tuple(normalize_identifiers(exp.to_identifier(name), dialect=dialect).name for name in wanted)
        return _Walker(root, dialect).lineage(normalised)
    except (SqlglotError, RecursionError, ValueError, KeyError, AttributeError, TypeError) as exc:
        log.debug("column lineage: cannot trace the SQL: %s", exc)
        return None


def _nested(schema: tuple[tuple[TableKey, tuple[str, ...]], ...]) -> dict[str, Any]:
    """``{catalog: {db: {table: {column: type}}}}`` as sqlglot's MappingSchema takes it."""
    nested: dict[str, Any] = {}
    for key, columns in schema:
        level = nested
        for part in key[:-1]:
            level = level.setdefault(part, {})
        level[key[-1]] = {column: "UNKNOWN" for column in columns}
    return nested


def _compose(outer: Kind, inner: Kind) -> Kind:
    """What an input column is to a value computed, in ``outer`` fashion, from a value it is ``inner`` to."""
    if outer.type == INDIRECT:
        return outer
    if inner.type == INDIRECT:
        return inner
    subtype = max(outer.subtype, inner.subtype, key=_DIRECT_RANK.__getitem__)
    return Kind(DIRECT, subtype, outer.masking or inner.masking)


def _merge(into: Deps, deps: Deps, outer: Kind = _COPY) -> None:
    for origin, kinds in deps.items():
        into.setdefault(origin, set()).update(_compose(outer, kind) for kind in kinds)


class _Walker:
    """Traces columns through the scope tree of one qualified statement."""

    def __init__(self, root: Scope, dialect: str | None) -> None:
        self._root = root
        self._dialect = dialect
        self._scopes = {id(scope.expression): scope for scope in root.traverse()}
        self._projections: dict[tuple[int, str], tuple[Deps | None, bool]] = {}
        self._rows: dict[int, Deps] = {}
        self._misses = 0  # inputs that could not be traced so far

    def lineage(self, wanted: tuple[str, ...]) -> SqlLineage:
        names = [n for n in _names(self._root) if n != "*"]
        complete = len(names) == len(_names(self._root))
        if not complete:
            names += [n for n in wanted if n not in names]
        fields: dict[str, Mapping[Origin, frozenset[Kind]]] = {}
        partial: set[str] = set()
        for name in names:
            misses = self._misses
            deps = self.projection(self._root, name)
            if deps is None:
                log.debug("column lineage: output column %s not found", name)
                continue
            fields[name] = {origin: frozenset(kinds) for origin, kinds in deps.items()}
            if self._misses != misses:
                partial.add(name)
        dataset = {origin: frozenset(kinds) for origin, kinds in self.rows(self._root).items()}
        return SqlLineage(tuple(fields), fields, dataset, complete, frozenset(partial))

    # -- one output column of a scope ------------------------------------------------------

    def projection(self, scope: Scope, name: str) -> Deps | None:
        """The inputs of output column ``name`` of ``scope`` (None: it has no such column)."""
        key = (id(scope), name)
        if key in self._projections:
            deps, missed = self._projections[key]
            self._misses += missed  # a reused trace that missed an input misses it here too
            return deps
        self._projections[key] = (None, False)  # a self-reference (recursive CTE) ends here
        misses = self._misses
        deps = self._projection(scope, name)
        self._projections[key] = (deps, self._misses != misses)
        return deps

    def _projection(self, scope: Scope, name: str) -> Deps | None:
        from sqlglot import exp

        if scope.outer_columns and name in scope.outer_columns:  # `cte(a, b) as (...)`, `t(a, b)`
            return self._projection_at(scope, scope.outer_columns.index(name))
        expression = scope.expression
        if isinstance(expression, exp.SetOperation):
            if not expression.args.get("by_name"):
                names = _names(scope)
                return self._projection_at(scope, names.index(name)) if name in names else None
            found = [self.projection(branch, name) for branch in scope.set_operation_scopes]
            return _union([d for d in found if d is not None]) if any(d is not None for d in found) else None
        if not isinstance(expression, exp.Select):
            return None
        for select in expression.selects:
            if select.alias_or_name == name and not isinstance(select, exp.Star):
                return self.expression(scope, select)
        return self._behind_star(scope, name)

    def _projection_at(self, scope: Scope, index: int) -> Deps | None:
        from sqlglot import exp

        if isinstance(scope.expression, exp.SetOperation):
            found = [self._projection_at(branch, index) for branch in scope.set_operation_scopes]
            return _union([d for d in found if d is not None]) if any(d is not None for d in found) else None
        if not isinstance(scope.expression, exp.Select) or index >= len(scope.expression.selects):
            return None
        select = scope.expression.selects[index]
        return None if _is_star(select) else self.expression(scope, select)

    def _behind_star(self, scope: Scope, name: str) -> Deps | None:
        """A column of an unexpanded ``*``: found when exactly one source can hold it."""
        from sqlglot import exp

        query = scope.expression
        stars = [s for s in query.selects if _is_star(s)] if isinstance(query, exp.Select) else []
        candidates: list[str] = []
        for star in stars:
            table = star.table if isinstance(star, exp.Column) else ""
            candidates += [table] if table else list(scope.selected_sources)
        if len(candidates) != 1:
            if stars:
                log.debug("column lineage: %s behind a * over %d sources is ambiguous", name, len(candidates))
            return None
        return self.source_column(scope, candidates[0], name)

    # -- expressions -----------------------------------------------------------------------

    def expression(self, scope: Scope, node: exp.Expr, kind: Kind = _COPY) -> Deps:
        """Inputs of a value computed in ``scope``; ``kind`` is how the value is used."""
        from sqlglot import exp

        deps: Deps = {}
        pending: list[tuple[exp.Expr, Kind]] = [(node, kind)]
        while pending:
            current, context = pending.pop()
            if isinstance(current, exp.Column):
                if not _is_star(current):
                    _merge(deps, self.column(scope, current), context)
                continue
            if isinstance(current, exp.Query) and id(current) in self._scopes and current is not scope.expression:
                child = self._scopes[id(current)]
                for select_index in range(len(_names(child))):
                    _merge(deps, self._projection_at(child, select_index) or {}, context)
                _merge(deps, self.rows(child), context if context.type == INDIRECT else Kind(INDIRECT, FILTER))
                continue
            if isinstance(current, exp.Subquery) and id(current.this) in self._scopes:
                pending.append((current.this, context))
                continue
            pending.extend(_children(current, context))
        return deps

    def column(self, scope: Scope, column: exp.Column) -> Deps:
        """Inputs of a column reference, through the scope it belongs to (or an enclosing one)."""
        table = column.table
        if not table:
            sources = list(scope.selected_sources)
            if len(sources) != 1:
                log.debug("column lineage: unqualified column %s among %d sources", column.name, len(sources))
                self._misses += 1
                return {}
            table = sources[0]
        owner: Scope | None = scope
        while owner is not None and table not in owner.sources:
            owner = owner.parent  # a correlated reference to an enclosing query
        if owner is None:
            log.debug("column lineage: column %s.%s has no source", table, column.name)
            self._misses += 1
            return {}
        return self.source_column(owner, table, column.name)

    def source_column(self, scope: Scope, source_name: str, name: str) -> Deps:
        from sqlglot import exp
        from sqlglot.optimizer.scope import Scope

        source = scope.sources.get(source_name)
        if isinstance(source, exp.Table):
            if not isinstance(source.this, exp.Identifier):  # a table function: no dataset behind it
                return {}
            return {Origin(_key(source, self._dialect), name): {_COPY}}
        if isinstance(source, Scope):
            if isinstance(source.expression, exp.Unnest):
                deps: Deps = {}
                for value in source.expression.expressions:
                    _merge(deps, self.expression(source, value), Kind(DIRECT, TRANSFORMATION))
                return deps
            found = self.projection(source, name)
            if found is not None:
                return found
        log.debug("column lineage: %s of source %s cannot be traced", name, source_name)
        self._misses += 1
        return {}

    # -- what shapes the rows --------------------------------------------------------------

    def rows(self, scope: Scope) -> Deps:
        """Inputs that decide which rows ``scope`` yields and in what order."""
        if id(scope) not in self._rows:
            self._rows[id(scope)] = {}
            self._rows[id(scope)] = self._rows_of(scope)
        return self._rows[id(scope)]

    def _rows_of(self, scope: Scope) -> Deps:
        from sqlglot import exp
        from sqlglot.optimizer.scope import Scope

        deps: Deps = {}
        expression = scope.expression
        if isinstance(expression, exp.SetOperation):
            for branch in scope.set_operation_scopes:
                _merge(deps, self.rows(branch))
            return deps
        if not isinstance(expression, exp.Select):
            return deps
        for clause, subtype in _ROW_CLAUSES:
            node = expression.args.get(clause)
            if node is not None:
                _merge(deps, self.expression(scope, node, Kind(INDIRECT, subtype)))
        for join in expression.args.get("joins") or []:
            for part in ("on", "using", "match_condition"):
                node = join.args.get(part)
                for item in node if isinstance(node, list) else [node] if node is not None else []:
                    _merge(deps, self.expression(scope, item, Kind(INDIRECT, JOIN)))
        for _, source in scope.selected_sources.values():
            if isinstance(source, Scope):
                _merge(deps, self.rows(source))
        return deps


def _children(node: exp.Expr, context: Kind) -> Iterator[tuple[exp.Expr, Kind]]:
    """The operands of ``node`` and how each one's value is used by it."""
    from sqlglot import exp

    masking = context.masking or isinstance(node, (exp.MD5, exp.MD5Digest, exp.SHA, exp.SHA1Digest, exp.SHA2,
                                                    exp.SHA2Digest, exp.StandardHash))
    for key, value in node.args.items():
        for child in value if isinstance(value, list) else [value]:
            if not isinstance(child, exp.Expr):
                continue
            if context.type == INDIRECT:
                yield child, context
            elif isinstance(node, exp.Window) and key in ("partition_by", "order", "spec"):
                yield child, Kind(INDIRECT, WINDOW)
            elif (isinstance(node, exp.If) and key == "this") or (isinstance(node, exp.Case) and key == "this"):
                yield child, Kind(INDIRECT, CONDITIONAL)
            elif isinstance(node, exp.Filter) and key == "expression":
                yield child, Kind(INDIRECT, FILTER)
            elif isinstance(node, exp.AggFunc) and type(node).__name__ not in _PICKS:
                yield child, Kind(DIRECT, AGGREGATION, masking)
            elif isinstance(node, (exp.Alias, exp.Paren, exp.Window, exp.Filter, exp.Order, exp.Ordered,
                                   exp.Group, exp.Where, exp.Having, exp.Qualify)):
                yield child, Kind(context.type, context.subtype, masking)
            else:
                subtype = AGGREGATION if context.subtype == AGGREGATION else TRANSFORMATION
                yield child, Kind(DIRECT, subtype, masking)


def _names(scope: Scope) -> list[str]:
    from sqlglot import exp

    expression = scope.expression
    if isinstance(expression, exp.Query):
        return list(expression.named_selects)
    return []


def _is_star(node: exp.Expr) -> bool:
    from sqlglot import exp

    return isinstance(node, exp.Star) or (isinstance(node, exp.Column) and isinstance(node.this, exp.Star))


def _union(found: list[Deps]) -> Deps:
    deps: Deps = {}
    for one in found:
        _merge(deps, one)
    return deps
