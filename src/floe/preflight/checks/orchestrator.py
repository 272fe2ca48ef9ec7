"""postgres: Dagster's metadata database — reachable, which server, and whether migrated.

Dagster records its schema revision in ``alembic_version``. The revision this Dagster
expects is read from its migration scripts on disk (without importing Dagster, which is
slow): the script no other script names as its ``down_revision`` is the head.
"""

from __future__ import annotations

import ast
import importlib.util
import re
from functools import lru_cache
from pathlib import Path

from floe.preflight.checks.pg import PgAddress, connect, server_version
from floe.preflight.framework import CheckContext, CheckFailed, Outcome
from floe.spec.platform import PostgresOrchestratorStorage

FIELD = "orchestrator.storage"
DAGSTER_TABLES = ("runs", "event_logs", "jobs")
_ASSIGNMENT = re.compile(r"^(revision|down_revision)\s*(?::[^=]*)?=\s*(.+)$", re.MULTILINE)


@lru_cache(maxsize=1)
def dagster_schema_revisions() -> tuple[frozenset[str], frozenset[str]]:
    """(every known revision, the head revisions) of the installed Dagster's migration scripts.

    Both are empty when Dagster is not installed.
    """
    spec = importlib.util.find_spec("dagster")
    if spec is None or not spec.submodule_search_locations:
        return frozenset(), frozenset()
    versions = Path(next(iter(spec.submodule_search_locations))) / "_core" / "storage" / "alembic" / "versions"
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in versions.glob("*.py"):
        found = dict(_ASSIGNMENT.findall(script.read_text(encoding="utf-8")))
        if "revision" not in found:
            continue
        revisions.add(str(ast.literal_eval(found["revision"])))
        down = ast.literal_eval(found.get("down_revision", "None"))
        parents.update([down] if isinstance(down, str) else list(down or ()))
    return frozenset(revisions), frozenset(revisions - parents)


def dagster_schema_heads() -> frozenset[str]:
    """Alembic head revision(s) of the installed Dagster; empty when Dagster is not installed."""
    return dagster_schema_revisions()[1]


def dagster_storage(storage: PostgresOrchestratorStorage, context: CheckContext, *,
                    migration_follows: bool = False) -> Outcome:
    """Connect, read the server version, and compare Dagster's schema revision with this Dagster's.

    With ``migration_follows`` (the Helm pre-upgrade hook, followed by floe's migrate hook) a
    schema *older* than this Dagster's is expected and reported as a warning; a schema this
    Dagster does not know (written by a newer Dagster: a downgrade) is an error either way.
    """
    connection = connect(PgAddress.of(storage, context, FIELD), context, "Dagster's PostgreSQL")
    try:
        version = server_version(connection)
        with connection.cursor() as cursor:
            cursor.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")
            tables = {str(row[0]) for row in cursor.fetchall()}
            revision = None
            if "alembic_version" in tables:
                cursor.execute("SELECT version_num FROM alembic_version")
                row = cursor.fetchone()
                revision = str(row[0]) if row else None
    finally:
        connection.close()
    details: dict[str, str | None] = {"server_version": version, "schema_revision": revision}
    if not tables & set(DAGSTER_TABLES):
        return Outcome(f"connected (PostgreSQL {version}); database '{storage.database}' holds no Dagster schema "
                       "yet", status="warning", details=dict(details),
                       remediation="nothing to do for a new install: Dagster creates its tables when the webserver "
                       "or daemon first starts (or run 'dagster instance migrate' now)")
    known, heads = dagster_schema_revisions()
    if heads and revision not in heads and migration_follows and revision in known:
        return Outcome(f"connected (PostgreSQL {version}); Dagster's schema is at revision {revision}, this Dagster "
                       f"expects {', '.join(sorted(heads))}: the migrate hook that runs next migrates it",
                       status="warning", details={**details, "migration": "pending"},
                       remediation="nothing to do: 'dagster instance migrate' runs as the next hook of this release")
    if heads and revision not in heads and revision not in known and revision is not None:
        raise CheckFailed(f"Dagster's schema in '{storage.database}' is at revision {revision}, which this Dagster "
                          f"does not know (it expects {', '.join(sorted(heads))}): a newer Dagster migrated it",
                          "deploy a Dagster at least as new as the one that migrated this database (downgrades "
                          "are not supported), or restore the database from a backup of the older version",
                          details=dict(details))
    if heads and revision not in heads:
        raise CheckFailed(f"Dagster's schema in '{storage.database}' is at revision {revision or 'unknown'}, this "
                          f"Dagster expects {', '.join(sorted(heads))}",
                          "run 'dagster instance migrate' against this database (DAGSTER_HOME with floe's "
                          "dagster.yaml) before starting the new version", details=dict(details))
    return Outcome(f"connected (PostgreSQL {version}); Dagster's schema is migrated (revision {revision})",
                   details=dict(details))
