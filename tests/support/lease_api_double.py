"""TEST DOUBLE of the Kubernetes API server, for its Lease resource (``coordination.k8s.io/v1``) only.

A kube-apiserver cannot run here (no etcd, no kind, no cluster), so floe's Kubernetes lease store is
tested against this double. It is a real HTTP(S) server on 127.0.0.1 that speaks the API server's
protocol for Leases, as the API server's generic registry and the Lease strategy define it:

* ``GET  /apis/coordination.k8s.io/v1/namespaces/{ns}/leases/{name}`` → 200 and the Lease, or 404
  with a ``Status`` (``reason: NotFound``).
* ``POST .../namespaces/{ns}/leases`` → 201; 409 ``AlreadyExists`` when the name is taken; a body
  that carries a ``resourceVersion`` is refused (500, as the storage layer refuses it).
* ``PUT  .../leases/{name}`` → 200. Optimistic concurrency: the body's ``metadata.resourceVersion``
  must be the stored one (409 ``Conflict`` otherwise); a body without one is 422 ``Invalid``
  ("must be specified for an update": Leases do not allow unconditional updates). A body whose
  ``metadata.uid`` is not the stored object's is 409 (the UID precondition). Leases allow *create on
  update*: a PUT to an absent name creates it (201) unless its body names a ``uid`` — the uid of an
  object that no longer exists fails the UID precondition (409), as it does on the API server.
* ``DELETE .../leases/{name}`` → 200 with a ``Status`` of ``Success``; 404 when absent.
* ``resourceVersion`` is a string from one counter shared by every object, increased by every
  write (an update that changes nothing writes nothing and keeps it); ``uid`` and
  ``creationTimestamp`` are set on create and kept by updates.
* Bodies are decoded as the API server decodes them: a field of the wrong JSON type, a MicroTime
  without exactly six fractional digits, an ``apiVersion``/``kind`` other than
  ``coordination.k8s.io/v1``/``Lease`` are 400 ``BadRequest``; a name or namespace that differs from
  the URL's is 400; then validated: an invalid name, ``leaseDurationSeconds`` <= 0 or
  ``leaseTransitions`` < 0 are 422 ``Invalid``. Unknown fields are dropped, MicroTimes are stored
  in UTC (``2026-12-07T04:50:24.123456Z``), null pointers are omitted from answers.
* Authentication: ``Authorization: Bearer <token>`` with a token from :meth:`LeaseApiDouble.register`,
  else 401 ``Unauthorized``. Authorization (RBAC): a token may use only the verbs it was registered
  with, else 403 ``Forbidden`` with the API server's wording (user, verb, resource, namespace).

What it does not do: watch, list, PATCH, server-side apply, managedFields, admission, namespaces
that do not exist (every namespace exists).

Faults are per client (per token), so a test can cut one replica off: :meth:`partition` holds that
client's requests unanswered until :meth:`heal` (then drops them: the client gave up long ago, as
after a real partition), :meth:`hold` holds them until :meth:`heal` and then serves them (a request
delivered late), :meth:`refuse` fails them fast (connection closed, or an HTTP status such as 503).
Every request is recorded (:attr:`LeaseApiDouble.requests`: monotonic arrival time, token, method,
path, status — None when it was never answered) so a test can assert, e.g., that a client sent
nothing after a deadline.
"""

from __future__ import annotations

import copy
import datetime
import http.client
import json
import re
import secrets
import shutil
import ssl
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.support.lease_api_rules import (
    API_VERSION,
    GROUP,
    RESOURCE,
    ApiError,
    bad_request,
    conflict,
    decode,
    details,
    invalid,
    not_found,
    validate,
)

LEASES = re.compile(rf"^/apis/{re.escape(API_VERSION)}/namespaces/(?P<ns>[^/]+)/leases(?:/(?P<name>[^/]+))?$")
ALL_VERBS = frozenset({"get", "create", "update", "delete"})


@dataclass
class Recorded:
    """One request as the double saw it."""

    at: float
    """time.monotonic() when the request (headers and body) had arrived."""
    token: str | None
    method: str
    path: str
    status: int | None = None
    """The answer's status; None when it was never answered (partitioned, or refused by closing)."""


@dataclass
class _Client:
    user: str
    verbs: frozenset[str]
    fault: str | None = None  # "partition" | "hold" | "refuse"
    refuse_status: int | None = None
    healed: threading.Event = field(default_factory=threading.Event)


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: clients that give up (timeouts, refused certificates) are what the tests do on purpose."""


class LeaseApiDouble:
    """TEST DOUBLE of the Kubernetes API server's Lease endpoints (see the module docstring).

    Use as a context manager (or :meth:`start` / :meth:`stop`). ``tls=True`` serves HTTPS with a
    fresh self-signed certificate for 127.0.0.1 (needs ``cryptography``); :attr:`ca_file` is then
    the certificate to trust, as a pod trusts its service account's ``ca.crt``.
    """

    def __init__(self, *, tls: bool = False) -> None:
        self.requests: list[Recorded] = []
        self._leases: dict[tuple[str, str], dict[str, Any]] = {}
        self._clients: dict[str, _Client] = {}
        self._revision = 1000  # one counter for every object, as etcd's revision
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True,
                                        name="lease-api-double")
        self._dir: Path | None = None  # the certificate's, when serving TLS
        self.ca_file: Path | None = None
        scheme = "http"
        if tls:
            self.ca_file = self._serve_tls()
            scheme = "https"
        self.port = int(self._server.server_address[1])
        self.url = f"{scheme}://127.0.0.1:{self.port}"

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> LeaseApiDouble:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        for client in self._clients.values():
            client.healed.set()
        self._server.shutdown()
        self._server.server_close()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> LeaseApiDouble:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- clients and faults ---------------------------------------------------------------

    def register(self, token: str | None = None, *, verbs: Iterable[str] = ALL_VERBS,
                 user: str = "system:serviceaccount:floe:floe-daemon") -> str:
        """Accept a bearer token (a fresh random one unless given) allowed the given verbs on leases."""
        token = token or secrets.token_urlsafe(24)
        self._clients[token] = _Client(user=user, verbs=frozenset(verbs))
        return token

    def revoke(self, token: str) -> None:
        """Stop accepting ``token`` (401 from now on), as when a bound token expires."""
        self._clients.pop(token, None)

    def partition(self, token: str) -> None:
        """This client's requests hang from now on: never answered until :meth:`heal`."""
        self._fault(token, "partition", None)

    def hold(self, token: str) -> None:
        """This client's requests wait, unanswered, until :meth:`heal` — then they are served (a slow
        network delivering a request late, where :meth:`partition` loses it)."""
        self._fault(token, "hold", None)

    def refuse(self, token: str, *, status: int | None = None) -> None:
        """This client's requests fail fast: the connection is closed unanswered, or ``status`` answers."""
        self._fault(token, "refuse", status)

    def heal(self, token: str) -> None:
        """This client reaches the server again (requests held by a partition are dropped, by hold served)."""
        client = self._clients[token]
        client.fault, client.refuse_status = None, None
        client.healed.set()

    def _fault(self, token: str, fault: str, status: int | None) -> None:
        client = self._clients[token]
        client.healed.clear()
        client.fault, client.refuse_status = fault, status

    # --- what tests look at ---------------------------------------------------------------

    def lease(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The stored Lease as a GET would answer it (a copy), or None."""
        with self._lock:
            stored = self._leases.get((namespace, name))
            return copy.deepcopy(stored) if stored is not None else None

    def requests_of(self, token: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.token == token]

    def call(self, token: str | None, method: str, path: str, body: Any = None,
             timeout: float = 30) -> tuple[int, dict[str, Any]]:
        """A plain HTTP request to the double, for tests that play a client by hand: (status, JSON answer).

        ``path`` is relative to the Lease collection of a namespace when it does not start with '/':
        ``call(token, "GET", "floe/leases/x")`` is ``GET /apis/coordination.k8s.io/v1/namespaces/floe/leases/x``.
        """
        if not path.startswith("/"):
            namespace, rest = path.split("/", 1)
            path = f"/apis/{API_VERSION}/namespaces/{namespace}/{rest}"
        if self.ca_file is not None:
            connection: http.client.HTTPConnection = http.client.HTTPSConnection(
                "127.0.0.1", self.port, timeout=timeout, context=ssl.create_default_context(cafile=str(self.ca_file)))
        else:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        try:
            data = body if isinstance(body, bytes) else None if body is None else json.dumps(body).encode()
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            return response.status, json.loads(response.read() or b"{}")
        finally:
            connection.close()

    # --- the API ----------------------------------------------------------------------------

    def handle(self, token: str | None, method: str, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        """One authenticated request → (status, JSON answer). Raises nothing: failures are a Status."""
        try:
            return self._handle(token, method, path, body)
        except ApiError as error:
            return error.code, error.status

    def _handle(self, token: str | None, method: str, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        client = self._clients.get(token or "")
        if client is None:
            raise ApiError(401, "Unauthorized", "Unauthorized")
        match = LEASES.match(path.split("?", 1)[0])
        if match is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        namespace, name = match["ns"], match["name"]
        verb = {("GET", True): "get", ("PUT", True): "update", ("DELETE", True): "delete",
                ("POST", False): "create", ("GET", False): "list"}.get((method, name is not None))
        if verb is None:
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested "
                           "resource (this double implements GET, POST, PUT and DELETE of single leases)")
        if verb not in client.verbs:
            what = f'{RESOURCE} "{name}"' if name else RESOURCE
            raise ApiError(403, "Forbidden", f'{what} is forbidden: User "{client.user}" cannot {verb} resource '
                           f'"leases" in API group "{GROUP}" in the namespace "{namespace}"',
                           details(name))
        if verb == "list":
            raise ApiError(405, "MethodNotAllowed", "this double does not implement list")
        with self._lock:
            if verb == "get":
                return 200, self._get(namespace, name)
            if verb == "delete":
                return self._delete(namespace, name)
            decoded = decode(body)
            if verb == "create":
                return self._create(namespace, decoded)
            return self._update(namespace, name, decoded)

    def _get(self, namespace: str, name: str) -> dict[str, Any]:
        stored = self._leases.get((namespace, name))
        if stored is None:
            raise not_found(name)
        return copy.deepcopy(stored)

    def _next_version(self) -> str:
        self._revision += 1
        return str(self._revision)

    def _check_namespace(self, namespace: str, meta: dict[str, Any]) -> None:
        if meta.get("namespace", namespace) != namespace:
            raise bad_request("the namespace of the provided object does not match the namespace sent on the request")

    def _create(self, namespace: str, decoded: dict[str, Any], name: str | None = None) -> tuple[int, dict[str, Any]]:
        meta, spec = decoded["metadata"], decoded["spec"]
        self._check_namespace(namespace, meta)
        if name is None:  # POST: the name is the body's (or generated from generateName)
            name = meta.get("name") or (meta["generateName"] + secrets.token_hex(3)[:5] if meta.get("generateName")
                                        else "")
        validate(name, spec)
        if meta.get("resourceVersion"):  # the storage layer refuses it, with no better status than 500
            raise ApiError(500, "InternalError", "Internal error occurred: resourceVersion should not be set on "
                           "objects to be created")
        if (namespace, name) in self._leases:
            raise ApiError(409, "AlreadyExists", f'{RESOURCE} "{name}" already exists', details(name))
        stored_meta = {"name": name, "namespace": namespace, "uid": str(uuid.uuid4()),
                       "resourceVersion": self._next_version(),
                       "creationTimestamp": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
        stored_meta.update({k: meta[k] for k in ("labels", "annotations") if k in meta})
        self._leases[(namespace, name)] = {"kind": "Lease", "apiVersion": API_VERSION, "metadata": stored_meta,
                                           "spec": spec}
        return 201, copy.deepcopy(self._leases[(namespace, name)])

    def _update(self, namespace: str, name: str, decoded: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        meta, spec = decoded["metadata"], decoded["spec"]
        if meta.get("name", "") != name:
            raise bad_request(f"the name of the object ({meta.get('name', '')}) does not match the name on the URL "
                              f"({name})")
        self._check_namespace(namespace, meta)
        stored = self._leases.get((namespace, name))
        stored_uid = stored["metadata"]["uid"] if stored is not None else ""
        if "uid" in meta and meta["uid"] != stored_uid:
            raise conflict(name, f"Precondition failed: UID in precondition: {meta['uid']}, UID in object meta: "
                           f"{stored_uid}")
        if stored is None:  # Leases allow create on update; the resourceVersion sent is not checked then
            return self._create(namespace, {"metadata": {k: v for k, v in meta.items() if k != "resourceVersion"},
                                            "spec": spec}, name)
        if not meta.get("resourceVersion"):
            raise invalid(name, "metadata.resourceVersion", 0, "must be specified for an update", kind=RESOURCE)
        if meta["resourceVersion"] != stored["metadata"]["resourceVersion"]:
            raise conflict(name)
        validate(name, spec)
        new_meta = dict(stored["metadata"])
        for key in ("labels", "annotations"):
            new_meta.pop(key, None)
            if key in meta:
                new_meta[key] = meta[key]
        if new_meta == stored["metadata"] and spec == stored["spec"]:
            return 200, copy.deepcopy(stored)  # a no-op update writes nothing: the version stays (as etcd's)
        new_meta["resourceVersion"] = self._next_version()
        stored.update(metadata=new_meta, spec=spec)
        return 200, copy.deepcopy(stored)

    def _delete(self, namespace: str, name: str) -> tuple[int, dict[str, Any]]:
        stored = self._leases.pop((namespace, name), None)
        if stored is None:
            raise not_found(name)
        return 200, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                     "details": details(name, uid=stored["metadata"]["uid"])}

    # --- TLS --------------------------------------------------------------------------------

    def _serve_tls(self) -> Path:
        self._dir = Path(tempfile.mkdtemp(prefix="lease-api-double-"))
        cert, key = _self_signed_certificate(self._dir)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        # The handshake happens in the request's thread, not in the accept loop every client shares.
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True,
                                                  do_handshake_on_connect=False)
        return cert


def _self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (an IP SAN, as the API server's certificate has for its service IP)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver (test double)")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "apiserver.crt", folder / "apiserver.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def _handler_for(double: LeaseApiDouble) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the API server; every answer has a Content-Length

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def do_PUT(self) -> None:
            self._serve()

        def do_DELETE(self) -> None:
            self._serve()

        def do_PATCH(self) -> None:
            self._serve()

        def _serve(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            authorization = self.headers.get("Authorization") or ""
            token = authorization[len("Bearer "):].strip() if authorization.startswith("Bearer ") else None
            record = Recorded(at=time.monotonic(), token=token, method=self.command, path=self.path)
            with double._lock:
                double.requests.append(record)
            client = double._clients.get(token or "")
            if client is not None and client.fault == "partition":
                # Held, unanswered, until healed (or the double stops); then dropped unanswered.
                while not (client.healed.wait(0.1) or double._stopping.is_set()):
                    pass
                self.close_connection = True
                return
            if client is not None and client.fault == "hold":
                while not (client.healed.wait(0.1) or double._stopping.is_set()):
                    pass
                if double._stopping.is_set():
                    self.close_connection = True
                    return
            if client is not None and client.fault == "refuse":
                if client.refuse_status is None:
                    self.close_connection = True
                    return
                status = client.refuse_status
                reasons = {429: "TooManyRequests", 500: "InternalError", 504: "Timeout"}
                reason = reasons.get(status, "ServiceUnavailable")
                answer = ApiError(status, reason, "the server is currently unable to handle the request").status
            else:
                status, answer = double.handle(token, self.command, self.path, body)
            data = json.dumps(answer).encode()
            record.status = status  # before the answer leaves: the client may look as soon as it has it
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
