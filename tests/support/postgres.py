"""Scratch databases on the test PostgreSQL server (FLOE_TEST_POSTGRES_DSN, see tests/conftest.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def scratch_database(dsn: str, prefix: str) -> Iterator[str]:
    """A fresh, empty database ``<prefix>_<random>``, dropped with its connections afterwards.

    The random part keeps parallel test workers (and a crashed earlier run) out of each other's way.
    """
    import psycopg2

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(dsn)
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        yield name
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
