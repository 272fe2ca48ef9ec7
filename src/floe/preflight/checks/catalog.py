"""Catalog: open the Iceberg catalog as a run would and list its namespaces.

The SQL catalog is opened through pyiceberg without creating its tables (preflight changes
nothing); the REST catalog is spoken to directly — token, config, namespaces — so that each
step that fails has its own message.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from floe.preflight.checks.pg import PgAddress, connect
from floe.preflight.framework import CheckContext, CheckFailed, Outcome, writable_directory
from floe.preflight.http import request, status_failure
from floe.spec.platform import Catalog, RestCatalog, SqlCatalog, Storage

FIELD = "catalog"
DEFAULT_SCOPE = "PRINCIPAL_ROLE:ALL"


def catalog_target(catalog: Catalog) -> str:
    """The catalog as the report names it, without credentials."""
    if isinstance(catalog, SqlCatalog):
        return f"sql {catalog.uri}"  # validation refuses a password in the URL
    return f"rest {catalog.uri} (warehouse {catalog.warehouse})"


def sql_catalog(catalog: SqlCatalog, storage: Storage, context: CheckContext) -> Outcome:
    """Connect to the catalog database and list namespaces."""
    password = context.secrets.get(catalog.password, f"{FIELD}.password")
    scheme, _, rest = catalog.uri.partition("://")
    if scheme.lower().startswith("sqlite"):
        path = context.resolve_path(rest[1:].split("?", 1)[0])
        if not path.is_file():  # checked before importing pyiceberg, which takes a second
            folder = writable_directory(path.parent, f"{FIELD}.uri")
            return Outcome(f"catalog database {path} does not exist yet; floe creates it on first write ({folder})")
    from sqlalchemy.exc import SQLAlchemyError

    from floe.lakehouse.properties import sql_catalog_uri, table_root

    uri = sql_catalog_uri(catalog, context.project_root, password)
    if not scheme.lower().startswith("sqlite"):
        _connect_postgres(uri, password, catalog, context)
    try:
        from pyiceberg.catalog.sql import SqlCatalog as PyIcebergSqlCatalog

        opened = PyIcebergSqlCatalog("floe", uri=uri, warehouse=table_root(catalog, storage, context.project_root),
                                     init_catalog_tables="false")
        try:
            namespaces = opened.list_namespaces()
        finally:
            opened.engine.dispose()
    except SQLAlchemyError as exc:
        text = str(exc).lower()
        if "no such table" in text or "does not exist" in text or "undefinedtable" in text:
            return Outcome("the catalog database answers but holds no Iceberg catalog yet; floe creates its "
                           "tables on first write", details={"namespaces": 0})
        raise CheckFailed(f"the catalog database refused a query: {str(exc).splitlines()[0]}",
                          f"check {FIELD}.uri and the user's privileges") from None
    names = ", ".join(".".join(ns) for ns in namespaces) or "none yet"
    return Outcome(f"connected; {len(namespaces)} namespace(s): {names}", details={"namespaces": len(namespaces)})


def _connect_postgres(uri: str, password: str | None, catalog: SqlCatalog, context: CheckContext) -> None:
    from sqlalchemy.engine import make_url

    url = make_url(uri)
    sslmode = url.query.get("sslmode")
    address = PgAddress(url.host or "localhost", url.port or 5432, url.username or "", url.database or "",
                        password, sslmode if isinstance(sslmode, str) else None,
                        FIELD, catalog.password.secret_ref if catalog.password else None)
    connect(address, context, "the catalog database (PostgreSQL)").close()


def rest_catalog(catalog: RestCatalog, context: CheckContext) -> Outcome:
    """OAuth2 token (form-encoded client credentials), config for the warehouse, namespaces."""
    base = catalog.uri.rstrip("/")
    headers: dict[str, str] = {}
    details: dict[str, Any] = {}
    if catalog.client_id is not None:
        headers["Authorization"] = "Bearer " + _token(catalog, context, details)
    config_url = f"{base}/v1/config?" + urlencode({"warehouse": catalog.warehouse})
    answer = request("GET", config_url, headers=headers, context=context,
                     what="the REST catalog", field=f"{FIELD}.uri")
    mentions_warehouse = "warehouse" in answer.error_text().lower() or catalog.warehouse in answer.error_text()
    if answer.status == 404 or (answer.status == 400 and mentions_warehouse):
        raise CheckFailed(f"warehouse '{catalog.warehouse}' does not exist in the REST catalog "
                          f"(HTTP {answer.status}: {answer.error_text()})",
                          f"create the catalog '{catalog.warehouse}' in the catalog server (Polaris: "
                          f"polaris catalogs create), or fix {FIELD}.warehouse")
    if answer.status != 200:
        raise status_failure(answer, what="the REST catalog", url=config_url, field=f"{FIELD}.uri",
                             credential=f"{FIELD}.client_id / client_secret")
    document = answer.json() if isinstance(answer.json(), dict) else {}
    prefix = str((document.get("overrides") or {}).get("prefix") or (document.get("defaults") or {}).get("prefix")
                 or "")
    details["warehouse_exists"] = True
    namespaces_url = f"{base}/v1/{quote(prefix) + '/' if prefix else ''}namespaces"
    listed = request("GET", namespaces_url, headers=headers, context=context,
                     what="the REST catalog", field=f"{FIELD}.uri")
    if listed.status != 200:
        raise status_failure(listed, what="the REST catalog", url=namespaces_url, field=f"{FIELD}.uri",
                             credential=f"{FIELD}.client_id / client_secret (and the principal's roles)")
    body = listed.json() if isinstance(listed.json(), dict) else {}
    namespaces = body.get("namespaces") or []
    details["namespaces"] = len(namespaces)
    names = ", ".join(".".join(ns) for ns in namespaces) or "none yet"
    return Outcome(f"warehouse '{catalog.warehouse}' exists; {len(namespaces)} namespace(s): {names}", details=details)


def _token(catalog: RestCatalog, context: CheckContext, details: dict[str, Any]) -> str:
    secret = context.secrets.get(catalog.client_secret, f"{FIELD}.client_secret") or ""
    token_url = catalog.credential_uri or f"{catalog.uri.rstrip('/')}/v1/oauth/tokens"
    form = urlencode({"grant_type": "client_credentials", "client_id": catalog.client_id or "",
                      "client_secret": secret, "scope": catalog.scope or DEFAULT_SCOPE}).encode()
    answer = request("POST", token_url, body=form, headers={"Content-Type": "application/x-www-form-urlencoded"},
                     context=context, what="the catalog's token endpoint",
                     field=f"{FIELD}.credential_uri" if catalog.credential_uri else f"{FIELD}.uri")
    document = answer.json()
    if answer.status in {400, 401} and isinstance(document, dict) and document.get("error") in {
            "invalid_client", "unauthorized_client"}:
        secret_name = catalog.client_secret.secret_ref if catalog.client_secret else ""
        raise CheckFailed(f"the catalog rejected client '{catalog.client_id}' (HTTP {answer.status} "
                          f"{document.get('error')}): the client id or secret is wrong, or the secret expired",
                          f"check {FIELD}.client_id and the secret '{secret_name}' (rotate it in the catalog "
                          "server if it expired)")
    if answer.status == 400 and isinstance(document, dict) and document.get("error") == "invalid_scope":
        raise CheckFailed(f"the catalog refused the scope '{catalog.scope or DEFAULT_SCOPE}'",
                          f"set {FIELD}.scope to a scope the principal holds, e.g. PRINCIPAL_ROLE:<role>")
    if answer.status != 200:
        raise status_failure(answer, what="the catalog's token endpoint", url=token_url, field=f"{FIELD}.uri",
                             credential=f"{FIELD}.client_id / client_secret")
    token = document.get("access_token") if isinstance(document, dict) else None
    if not isinstance(token, str):
        raise CheckFailed("the token endpoint answered 200 without an access_token",
                          f"check that {FIELD}.credential_uri is an OAuth2 token endpoint")
    context.secrets.remember(token)
    if isinstance(document, dict) and isinstance(document.get("expires_in"), int):
        details["token_expires_in_s"] = document["expires_in"]
    return token
