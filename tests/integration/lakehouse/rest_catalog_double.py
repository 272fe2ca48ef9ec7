"""TEST DOUBLE of an Iceberg REST catalog server — for tests only, not a catalog.

No Iceberg REST catalog (Polaris, Nessie, Lakekeeper) can be installed on the machines floe
is tested on, so the REST path is tested against this small server. It is a real HTTP server
on 127.0.0.1 that speaks the part of the Iceberg REST catalog protocol (the OpenAPI
``rest-catalog-open-api.yaml``) a writer needs:

* ``GET /v1/config?warehouse=W`` — answers ``overrides.prefix = W`` (as Polaris does), 404 for
  an unknown warehouse;
* ``POST /v1/oauth/tokens`` — OAuth2 client_credentials; the body must be form-encoded
  (``application/x-www-form-urlencoded``), a wrong client secret gets 401 ``invalid_client``;
* every other route requires ``Authorization: Bearer <token issued here>`` (when clients are
  configured);
* namespaces: create (409 if present), list, load, exists (HEAD);
* tables: create (the server writes metadata version 0), load, exists (HEAD), list, and
  commit — requirements are checked against the current metadata (409 when one fails),
  updates applied, and the new metadata file written by the server.

Like a real catalog, it builds and updates table metadata with the Iceberg model (here
pyiceberg's), writes metadata files through a FileIO (local disk or an S3 server), and keeps
only the pointer to the current file. ``vended_config`` is returned in a table's ``config``
only when the request carries ``X-Iceberg-Access-Delegation: vended-credentials``.
Every request is recorded (method, path, headers, token form) for assertions. For the crash
window, ``lose_commit_responses = n`` makes the next n commits apply and then answer 504, as a
proxy that timed out after the catalog committed would.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from pyiceberg.catalog.rest import CreateTableRequest
from pyiceberg.exceptions import CommitFailedException
from pyiceberg.io import load_file_io
from pyiceberg.partitioning import UNPARTITIONED_PARTITION_SPEC
from pyiceberg.serializers import ToOutputFile
from pyiceberg.table import CommitTableRequest
from pyiceberg.table.metadata import TableMetadata, new_table_metadata
from pyiceberg.table.sorting import UNSORTED_SORT_ORDER
from pyiceberg.table.update import update_table_metadata

NAMESPACE_SEPARATOR = "\x1f"


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    form: dict[str, str] | None = None


@dataclass
class _State:
    namespaces: dict[tuple[str, ...], dict[str, str]] = field(default_factory=dict)
    tables: dict[tuple[tuple[str, ...], str], str] = field(default_factory=dict)  # -> metadata location
    tokens: set[str] = field(default_factory=set)
    requests: list[Recorded] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class RestCatalogDouble:
    """The server; use as a context manager. ``uri`` is the catalog base URL (before /v1/)."""

    def __init__(
        self,
        *,
        warehouse: str,
        default_root: str,
        clients: Mapping[str, str] | None = None,
        io_properties: Mapping[str, str] | None = None,
        vended_config: Mapping[str, str] | None = None,
    ) -> None:
        self.warehouse = warehouse
        self.default_root = default_root.rstrip("/")
        self.clients = dict(clients or {})
        self.io_properties = dict(io_properties or {})
        self.vended_config = dict(vended_config or {})
        self.lose_commit_responses = 0
        self.state = _State()
        double = self

        class Handler(_Handler):
            server_double = double

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def uri(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/api/catalog"

    @property
    def requests(self) -> list[Recorded]:
        return list(self.state.requests)

    def __enter__(self) -> RestCatalogDouble:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def file_io(self, location: str):
        return load_file_io({**self.io_properties, "py-io-impl": "pyiceberg.io.pyarrow.PyArrowFileIO"}, location)


class _HttpError(Exception):
    def __init__(self, status: int, kind: str, message: str) -> None:
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message


class _Handler(BaseHTTPRequestHandler):
    server_double: RestCatalogDouble
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    # -- plumbing ---------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, payload: Any = None) -> None:
        body = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        if payload is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _dispatch(self, method: str) -> None:
        double = self.server_double
        url = urlsplit(self.path)
        record = Recorded(method, url.path, {k.lower(): v for k, v in self.headers.items()})
        with double.state.lock:
            double.state.requests.append(record)
        body = self._body()
        try:
            if not url.path.startswith("/api/catalog/v1/"):
                raise _HttpError(404, "NotFound", f"no route {url.path}")
            route = url.path[len("/api/catalog/v1/"):].strip("/")
            if route == "oauth/tokens" and method == "POST":
                self._token(body, record)
                return
            self._authorize()
            if route == "config" and method == "GET":
                warehouse = parse_qs(url.query).get("warehouse", [""])[0]
                if warehouse != double.warehouse:
                    raise _HttpError(404, "NotFoundException", f"unknown warehouse {warehouse!r}")
                self._send(200, {"defaults": {}, "overrides": {"prefix": double.warehouse}})
                return
            prefix, _, rest = route.partition("/")
            if prefix != double.warehouse:
                raise _HttpError(404, "NotFoundException", f"unknown catalog prefix {prefix!r}")
            self._catalog_route(method, rest.split("/"), body, parse_qs(url.query))
        except _HttpError as error:
            self._send(error.status, {"error": {"message": error.message, "type": error.kind, "code": error.status}})

    def _token(self, body: bytes, record: Recorded) -> None:
        double = self.server_double
        content_type = self.headers.get("Content-Type", "")
        if not content_type.startswith("application/x-www-form-urlencoded"):
            self._send(400, {"error": "invalid_request",
                             "error_description": f"form encoding required, got {content_type}"})
            return
        form = {key: values[0] for key, values in parse_qs(body.decode()).items()}
        record.form = form
        if form.get("grant_type") != "client_credentials":
            self._send(400, {"error": "unsupported_grant_type", "error_description": str(form.get("grant_type"))})
            return
        if double.clients.get(form.get("client_id", "")) != form.get("client_secret"):
            self._send(401, {"error": "invalid_client", "error_description": "The client is not authorized"})
            return
        token = uuid.uuid4().hex
        with double.state.lock:
            double.state.tokens.add(token)
        self._send(200, {"access_token": token, "token_type": "bearer", "expires_in": 3600,
                         "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
                         "scope": form.get("scope", "")})

    def _authorize(self) -> None:
        double = self.server_double
        if not double.clients:
            return
        header = self.headers.get("Authorization", "")
        if not header.startswith("Bearer ") or header[len("Bearer "):] not in double.state.tokens:
            raise _HttpError(401, "NotAuthorizedException", "missing or unknown bearer token")

    # -- the catalog --------------------------------------------------------------------------

    def _catalog_route(self, method: str, parts: list[str], body: bytes, query: dict[str, list[str]]) -> None:
        state = self.server_double.state
        if parts == ["namespaces"]:
            if method == "GET":
                parent = tuple(unquote(query["parent"][0]).split(NAMESPACE_SEPARATOR)) if "parent" in query else ()
                with state.lock:
                    found = [list(ns) for ns in state.namespaces
                             if len(ns) == len(parent) + 1 and ns[: len(parent)] == parent]
                self._send(200, {"namespaces": found})
                return
            if method == "POST":
                request = json.loads(body)
                namespace = tuple(request["namespace"])
                with state.lock:
                    if namespace in state.namespaces:
                        raise _HttpError(409, "AlreadyExistsException", f"namespace {namespace} exists")
                    state.namespaces[namespace] = dict(request.get("properties") or {})
                self._send(200, {"namespace": list(namespace), "properties": request.get("properties") or {}})
                return
        if len(parts) >= 2 and parts[0] == "namespaces":
            namespace = tuple(unquote(parts[1]).split(NAMESPACE_SEPARATOR))
            with state.lock:
                known = namespace in state.namespaces
                properties = dict(state.namespaces.get(namespace, {}))
            if not known:
                raise _HttpError(404, "NoSuchNamespaceException", f"namespace {namespace} does not exist")
            if len(parts) == 2 and method in {"GET", "HEAD"}:
                self._send(200 if method == "GET" else 204,
                           {"namespace": list(namespace), "properties": properties} if method == "GET" else None)
                return
            if len(parts) == 3 and parts[2] == "tables":
                if method == "GET":
                    with state.lock:
                        names = [name for (ns, name) in state.tables if ns == namespace]
                    self._send(200, {"identifiers": [{"namespace": list(namespace), "name": n} for n in names]})
                    return
                if method == "POST":
                    self._create_table(namespace, body)
                    return
            if len(parts) == 4 and parts[2] == "tables":
                self._table_route(method, namespace, unquote(parts[3]), body)
                return
        raise _HttpError(404, "NotFound", f"no route {method} {'/'.join(parts)}")

    def _table_config(self) -> dict[str, str]:
        delegation = self.headers.get("X-Iceberg-Access-Delegation", "")
        return dict(self.server_double.vended_config) if "vended-credentials" in delegation else {}

    def _write(self, metadata: TableMetadata, version: int) -> str:
        location = f"{metadata.location.rstrip('/')}/metadata/{version:05d}-{uuid.uuid4()}.metadata.json"
        ToOutputFile.table_metadata(metadata, self.server_double.file_io(location).new_output(location))
        return location

    def _load(self, location: str) -> TableMetadata:
        from pyiceberg.serializers import FromInputFile

        return FromInputFile.table_metadata(self.server_double.file_io(location).new_input(location))

    def _create_table(self, namespace: tuple[str, ...], body: bytes) -> None:
        double = self.server_double
        request = CreateTableRequest.model_validate_json(body)
        if request.stage_create:
            raise _HttpError(400, "BadRequestException", "staged creation is not supported by this double")
        key = (namespace, request.name)
        location = request.location or f"{double.default_root}/{'/'.join(namespace)}/{request.name}"
        metadata = new_table_metadata(
            schema=request.table_schema,
            partition_spec=request.partition_spec or UNPARTITIONED_PARTITION_SPEC,
            sort_order=request.write_order or UNSORTED_SORT_ORDER,
            location=location,
            properties=request.properties,
        )
        with double.state.lock:
            if key in double.state.tables:
                raise _HttpError(409, "AlreadyExistsException", f"table {request.name} exists")
            metadata_location = self._write(metadata, 0)
            double.state.tables[key] = metadata_location
        self._send(200, {"metadata-location": metadata_location, "metadata": json.loads(metadata.model_dump_json()),
                         "config": self._table_config()})

    def _table_route(self, method: str, namespace: tuple[str, ...], name: str, body: bytes) -> None:
        double = self.server_double
        key = (namespace, name)
        with double.state.lock:
            current = double.state.tables.get(key)
        if current is None:
            raise _HttpError(404, "NoSuchTableException", f"table {'.'.join(namespace)}.{name} does not exist")
        if method == "HEAD":
            self._send(204)
            return
        if method == "GET":
            metadata = self._load(current)
            self._send(200, {"metadata-location": current, "metadata": json.loads(metadata.model_dump_json()),
                             "config": self._table_config()})
            return
        if method == "POST":
            request = CommitTableRequest.model_validate_json(body)
            with double.state.lock:
                current = double.state.tables[key]
                base = self._load(current)
                try:
                    for requirement in request.requirements:
                        requirement.validate(base)
                except CommitFailedException as exc:
                    raise _HttpError(409, "CommitFailedException", str(exc)) from None
                updated = update_table_metadata(base, request.updates, metadata_location=current)
                version = int(current.rsplit("/", 1)[-1].split("-", 1)[0]) + 1
                new_location = self._write(updated, version)
                double.state.tables[key] = new_location
                lose = double.lose_commit_responses > 0
                double.lose_commit_responses -= int(lose)
            if lose:
                raise _HttpError(504, "GatewayTimeout", "the commit was applied, but its response was lost")
            self._send(200, {"metadata-location": new_location, "metadata": json.loads(updated.model_dump_json())})
            return
        raise _HttpError(405, "MethodNotAllowed", method)
