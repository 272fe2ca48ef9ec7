"""Opening the environment's Iceberg catalog: SQL (SQLite or PostgreSQL) or REST (Polaris).

The catalog classes are instantiated directly, never through ``pyiceberg.load_catalog``:
that function also reads ``~/.pyiceberg.yaml`` and ``PYICEBERG_CATALOG__*`` variables, and a
platform must not change because of a file in someone's home directory.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

from pyiceberg.catalog import Catalog as IcebergCatalog
from pyiceberg.catalog.rest import RestCatalog as PyIcebergRestCatalog
from pyiceberg.catalog.sql import SqlCatalog as PyIcebergSqlCatalog
from pyiceberg.io import FileIO
from pyiceberg.typedef import EMPTY_DICT, Properties
from requests import Session

from floe.errors import MissingExtraError
from floe.lakehouse.errors import translated_errors
from floe.lakehouse.properties import (
    ACCESS_DELEGATION_HEADER,
    CLIENT_STORAGE_KEY,
    TABLE_ROOT,
    VENDED_CREDENTIALS,
    CatalogSpec,
    SecretResolver,
    StorageSpec,
    catalog_properties,
    redacted,
)
from floe.lakehouse.relocation import Relocation, relocate_catalog
from floe.spec.platform import SqlCatalog

logger = logging.getLogger(__name__)

CATALOG_NAME = "floe"
"""The catalog name floe registers tables under (the SQL catalog's ``catalog_name`` column)."""


class FloeRestCatalog(PyIcebergRestCatalog):
    """pyiceberg's REST catalog with the two behaviours a platform spec needs.

    * ``X-Iceberg-Access-Delegation: vended-credentials`` is sent only when the spec asks for
      vended credentials. pyiceberg sends it on every request, and a catalog that is not set up
      to vend credentials may refuse the table then.
    * The client's own storage settings (``floe.client-storage-keys``: endpoint, region,
      addressing, static keys) win over the table config a server returns: the endpoint a
      catalog vends is often a name that resolves only inside its own network.
    """

    def __init__(self, name: str, **properties: str) -> None:
        # Read before pyiceberg merges the server's config overrides into self.properties.
        pinned_keys = json.loads(properties.get(CLIENT_STORAGE_KEY, "[]"))
        self._pinned_storage = {key: properties[key] for key in pinned_keys if key in properties}
        self._vended_credentials = properties.get(VENDED_CREDENTIALS) == "true"
        super().__init__(name, **properties)

    def _config_headers(self, session: Session) -> None:
        super()._config_headers(session)
        if not self._vended_credentials:
            session.headers.pop(ACCESS_DELEGATION_HEADER, None)

    def _load_file_io(self, properties: Properties = EMPTY_DICT, location: str | None = None) -> FileIO:
        return super()._load_file_io({**properties, **self._pinned_storage}, location)


def describe_catalog(catalog: IcebergCatalog) -> str:
    """A catalog as messages name it, without credentials."""
    if isinstance(catalog, PyIcebergRestCatalog):
        return f"REST catalog {catalog.uri} (warehouse {catalog.properties.get('warehouse')})"
    return f"SQL catalog {redacted(str(catalog.properties.get('uri', '?')))}"


def open_catalog(
    catalog: CatalogSpec,
    storage: StorageSpec,
    project_root: Path,
    resolve: SecretResolver | None = None,
    *,
    on_relocated: Callable[[Relocation], object] | None = None,
) -> IcebergCatalog:
    """Open the Iceberg catalog the platform spec declares, resolving its secrets now.

    A project-local SQLite catalog whose tables were created where the project was before
    (it was moved or copied) is relocated first (:mod:`floe.lakehouse.relocation`), so a copy
    never reads or writes the original's files.

    Args:
        catalog: The environment's catalog block.
        storage: The environment's storage block.
        project_root: Directory relative paths in the spec are resolved against.
        resolve: Secret lookup; defaults to :func:`floe.spec.secrets.resolve_secret`.
        on_relocated: Told when tables were relocated; defaults to a warning in the log.

    Returns:
        A pyiceberg catalog: :class:`pyiceberg.catalog.sql.SqlCatalog` or :class:`FloeRestCatalog`.

    Raises:
        LakehouseError: A secret is missing, the catalog cannot be reached or refuses the
            credentials, or the warehouse is not on the storage; or a moved project's tables
            cannot be relocated.
        MissingExtraError: PostgreSQL is used without the 'postgres' extra.
    """
    props = catalog_properties(catalog, storage, project_root, resolve)
    if isinstance(catalog, SqlCatalog):
        opened = _open_sql_catalog(props)
        relocation = relocate_catalog(opened, project_root)
        if relocation is not None:
            (on_relocated or _log_relocation)(relocation)
        return opened
    where = f"REST catalog {catalog.uri} (warehouse {catalog.warehouse})"
    with translated_errors(where=where, action="open the catalog"):
        return FloeRestCatalog(CATALOG_NAME, **props)


def _log_relocation(relocation: Relocation) -> None:
    logger.warning("%s", relocation.message)


def _open_sql_catalog(props: dict[str, str]) -> PyIcebergSqlCatalog:
    uri = props["uri"]
    if uri.startswith("sqlite:///"):
        Path(uri[len("sqlite:///"):].split("?", 1)[0]).parent.mkdir(parents=True, exist_ok=True)
    if "://" not in props[TABLE_ROOT]:
        Path(props[TABLE_ROOT]).mkdir(parents=True, exist_ok=True)
    where = f"SQL catalog {redacted(uri)}"
    try:
        with translated_errors(where=where, action="open the catalog"):
            return PyIcebergSqlCatalog(CATALOG_NAME, **props)
    except ModuleNotFoundError as exc:
        if exc.name in {"psycopg2", "psycopg"}:
            raise MissingExtraError("An Iceberg SQL catalog on PostgreSQL", "postgres") from exc
        raise
