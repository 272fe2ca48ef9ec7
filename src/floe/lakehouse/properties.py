"""From the platform spec to pyiceberg catalog properties, secrets resolved now.

The spec names the catalog and the storage; pyiceberg wants one flat mapping of string
properties. This module is that translation and nothing else — it opens no connection, so a
unit test can check every field's effect, and ``floe preflight`` can show what would be used.

Decisions worth knowing:

* Local paths (the SQLite file, a local warehouse) are resolved against the project root,
  so the same artifacts work from any working directory.
* Table files go under one *table root*: the SQL catalog's warehouse when it names one, else
  the storage's root (local path, ``s3://bucket/prefix``, ``gs://bucket/prefix`` or
  ``abfss://container@account.dfs.core.windows.net/prefix``). floe creates tables at
  ``<table root>/<namespace>/<table>`` in every catalog, a REST catalog included, so the
  declared storage is where the data lands.
* pyiceberg's PyArrow FileIO is pinned (floe's subclass of it, which also opens Azure
  paths): the property names below are the ones it reads, and letting pyiceberg pick another
  FileIO by what happens to be installed would change their meaning.
* The storage settings that describe how *this client* reaches the store (endpoint, region,
  addressing, static keys) are listed in :data:`CLIENT_STORAGE_KEY` so the REST catalog can
  keep them over whatever a catalog server vends (its endpoint is often an internal name).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from floe.lakehouse.errors import LakehouseError
from floe.spec.platform import (
    AdlsStorage,
    GcsStorage,
    LocalStorage,
    RestCatalog,
    S3Storage,
    SqlCatalog,
)
from floe.spec.secrets import SecretRef, resolve_secret, secrets_dir

SecretResolver = Callable[[str], "str | None"]
"""Returns a secret's value by name, or None when it is not set (like :func:`resolve_secret`)."""

CatalogSpec = SqlCatalog | RestCatalog
StorageSpec = LocalStorage | S3Storage | GcsStorage | AdlsStorage

FILE_IO_IMPL = "floe.lakehouse.fileio.FloeArrowFileIO"
"""pyiceberg's PyArrow FileIO, with Azure paths fixed (see :mod:`floe.lakehouse.fileio`)."""
TABLE_ROOT = "floe.table-root"
"""Catalog property (read by floe only): where floe creates tables."""
CLIENT_STORAGE_KEY = "floe.client-storage-keys"
"""Catalog property (read by floe only): JSON list of the storage keys a server may not override."""
VENDED_CREDENTIALS = "floe.vended-credentials"
"""Catalog property (read by floe only): 'true' to ask a REST catalog for storage credentials."""
ACCESS_DELEGATION_HEADER = "X-Iceberg-Access-Delegation"
DEFAULT_SCOPE = "PRINCIPAL_ROLE:ALL"
# S3-compatible stores ignore the region but the client must not ask AWS to resolve it.
DEFAULT_REGION_WITH_ENDPOINT = "us-east-1"
POSTGRES_CONNECT_TIMEOUT_S = 10


class _Secrets:
    """Resolves secret references, collecting every missing one so the error names them all."""

    def __init__(self, resolve: SecretResolver) -> None:
        self._resolve = resolve
        self.missing: list[tuple[str, str]] = []

    def get(self, ref: SecretRef, field: str) -> str:
        value = self._resolve(ref.secret_ref)
        if value is None:
            self.missing.append((ref.secret_ref, field))
            return ""
        return value

    def raise_if_missing(self) -> None:
        if not self.missing:
            return
        names = ", ".join(f"{name} (for {field})" for name, field in self.missing)
        first = self.missing[0][0]
        raise LakehouseError(
            f"secret{'s' if len(self.missing) > 1 else ''} not set: {names}",
            hint=f"export {first}=... or mount a file named {first} in {secrets_dir()}",
        )


def _resolver(resolve: SecretResolver | None) -> SecretResolver:
    return resolve if resolve is not None else resolve_secret


def _local_path(path: str, project_root: Path) -> str:
    if path.lower().startswith("file://"):
        path = path[len("file://"):]
    candidate = Path(path).expanduser()
    return str(candidate if candidate.is_absolute() else (project_root / candidate).resolve())


def _join(root: str, prefix: str) -> str:
    return f"{root}/{prefix}" if prefix else root


def storage_root(storage: StorageSpec, project_root: Path) -> str:
    """The location the storage block points at: an absolute path or an object-store URL."""
    if isinstance(storage, LocalStorage):
        return _local_path(storage.path, project_root)
    if isinstance(storage, S3Storage):
        return _join(f"s3://{storage.bucket}", storage.prefix)
    if isinstance(storage, GcsStorage):
        return _join(f"gs://{storage.bucket}", storage.prefix)
    return _join(f"abfss://{storage.authority}", storage.prefix)


def table_root(catalog: CatalogSpec, storage: StorageSpec, project_root: Path) -> str:
    """Where floe creates tables: the SQL catalog's warehouse if it names one, else the storage root.

    Raises:
        LakehouseError: The warehouse does not lie on the declared storage.
    """
    problems = catalog.storage_problems(storage)
    if problems:
        raise LakehouseError(problems[0], hint="fix catalog.warehouse or storage in platform.yaml")
    if isinstance(catalog, SqlCatalog) and catalog.warehouse is not None:
        if "://" not in catalog.warehouse or catalog.warehouse.lower().startswith("file://"):
            return _local_path(catalog.warehouse, project_root)
        return catalog.warehouse.rstrip("/")
    return storage_root(storage, project_root)


def storage_properties(storage: StorageSpec, resolve: SecretResolver | None = None) -> dict[str, str]:
    """pyiceberg FileIO properties for the storage, secrets resolved.

    Raises:
        LakehouseError: A referenced secret is not set.
    """
    secrets = _Secrets(_resolver(resolve))
    props = _storage_properties(storage, secrets)
    secrets.raise_if_missing()
    return props


def _storage_properties(storage: StorageSpec, secrets: _Secrets) -> dict[str, str]:
    props: dict[str, str] = {"py-io-impl": FILE_IO_IMPL}
    if isinstance(storage, S3Storage):
        if storage.endpoint is not None:
            props["s3.endpoint"] = storage.endpoint
            # pyarrow addresses by path at a custom endpoint unless virtual addressing is forced.
            props["s3.force-virtual-addressing"] = "false" if storage.path_style else "true"
        region = storage.region or (DEFAULT_REGION_WITH_ENDPOINT if storage.endpoint else None)
        if region is not None:
            props["s3.region"] = region
        if storage.access_key_id is not None and storage.secret_access_key is not None:
            props["s3.access-key-id"] = secrets.get(storage.access_key_id, "storage.access_key_id")
            props["s3.secret-access-key"] = secrets.get(storage.secret_access_key, "storage.secret_access_key")
    elif isinstance(storage, GcsStorage):
        if storage.endpoint is not None:
            props["gcs.service.host"] = storage.endpoint
        if storage.access_token is not None:
            props["gcs.oauth2.token"] = secrets.get(storage.access_token, "storage.access_token")
    elif isinstance(storage, AdlsStorage):
        props["adls.account-name"] = storage.account_name
        if storage.account_key is not None:
            props["adls.account-key"] = secrets.get(storage.account_key, "storage.account_key")
        if storage.sas_token is not None:
            props["adls.sas-token"] = secrets.get(storage.sas_token, "storage.sas_token")
        if storage.client_secret is not None and storage.client_id and storage.tenant_id:
            props["adls.tenant-id"] = storage.tenant_id
            props["adls.client-id"] = storage.client_id
            props["adls.client-secret"] = secrets.get(storage.client_secret, "storage.client_secret")
    return props


def sql_catalog_uri(catalog: SqlCatalog, project_root: Path, password: str | None) -> str:
    """The SQLAlchemy URL: a project-relative SQLite path made absolute, or PostgreSQL with its
    password, a connect timeout, and the psycopg2 driver when none is named (SQLAlchemy 2.1
    would otherwise pick psycopg 3, which the 'postgres' extra does not install)."""
    scheme, _, rest = catalog.uri.partition("://")
    if scheme.lower().startswith("sqlite"):
        path, query_sep, query = rest[1:].partition("?")  # sqlite:///<path>: rest is '/<path>'
        absolute = _local_path(path, project_root) if path else path
        return f"{scheme}:///{absolute}{query_sep}{query}"
    driver = "postgresql+psycopg2" if scheme.lower() == "postgresql" else scheme
    if password:
        user, at, host = rest.partition("@")
        if not at:
            raise LakehouseError(
                f"catalog.uri {catalog.uri!r} names no user, but a password is set",
                hint="write the user into the URL: postgresql://USER@host:5432/db",
            )
        rest = f"{user}:{quote(password, safe='')}@{host}"
    if driver == "postgresql+psycopg2" and "connect_timeout=" not in rest:
        # libpq waits for a silent host for minutes by default; a run should fail sooner.
        rest += ("&" if "?" in rest else "?") + f"connect_timeout={POSTGRES_CONNECT_TIMEOUT_S}"
    return f"{driver}://{rest}"


def redacted(uri: str) -> str:
    """A URL with any password replaced, for messages."""
    scheme, sep, rest = uri.partition("://")
    userinfo, at, host = rest.partition("@")
    if at and ":" in userinfo:
        return f"{scheme}{sep}{userinfo.split(':', 1)[0]}:***@{host}"
    return uri


def catalog_properties(
    catalog: CatalogSpec,
    storage: StorageSpec,
    project_root: Path,
    resolve: SecretResolver | None = None,
) -> dict[str, str]:
    """Everything pyiceberg needs to open the catalog, secrets resolved now.

    Args:
        catalog: The environment's catalog block.
        storage: The environment's storage block.
        project_root: Directory relative paths are resolved against.
        resolve: Secret lookup; defaults to :func:`floe.spec.secrets.resolve_secret`.

    Returns:
        Properties for ``pyiceberg.catalog.sql.SqlCatalog`` or the REST catalog, plus floe's
        own ``floe.*`` keys (see the module docstring).

    Raises:
        LakehouseError: A secret is missing, or the warehouse is not on the storage.
    """
    project_root = Path(project_root).resolve()
    secrets = _Secrets(_resolver(resolve))
    root = table_root(catalog, storage, project_root)
    storage_props = _storage_properties(storage, secrets)
    props = dict(storage_props)
    props[TABLE_ROOT] = root
    if isinstance(catalog, SqlCatalog):
        password = secrets.get(catalog.password, "catalog.password") if catalog.password else None
        secrets.raise_if_missing()
        props["uri"] = sql_catalog_uri(catalog, project_root, password)
        props["warehouse"] = root
        return props
    props["uri"] = catalog.uri
    props["warehouse"] = catalog.warehouse
    if catalog.client_id is not None and catalog.client_secret is not None:
        secret = secrets.get(catalog.client_secret, "catalog.client_secret")
        props["credential"] = f"{catalog.client_id}:{secret}"
        props["scope"] = catalog.scope or DEFAULT_SCOPE
        props["oauth2-server-uri"] = catalog.credential_uri or catalog.uri.rstrip("/") + "/v1/oauth/tokens"
    secrets.raise_if_missing()
    props[VENDED_CREDENTIALS] = "true" if catalog.vended_credentials else "false"
    if catalog.vended_credentials:
        props[f"header.{ACCESS_DELEGATION_HEADER}"] = "vended-credentials"
    props[CLIENT_STORAGE_KEY] = json.dumps(sorted(storage_props))
    return props
