"""A Kubernetes Lease (``coordination.k8s.io/v1``) as floe's leader lock.

The Lease object names its holder (``spec.holderIdentity``) and when the holder last renewed
(``spec.renewTime``); the API server's optimistic concurrency (every write names the
``resourceVersion`` it read, and a stale one is refused with 409 Conflict) makes every change of
holder a compare-and-swap, so two candidates never both win.

Expiry follows client-go's leader election: a candidate never trusts the holder's clock. A record
held by another is expired only when it has not changed (same resourceVersion, holder and
renewTime) for ``leaseDurationSeconds`` as measured by *this* process's monotonic clock since it
first saw that record. A holder that stops renewing therefore loses the lease at the earliest one
lease duration after a standby last saw it renew — by then its elector has stopped its daemon
(renew deadline < duration).

Plain HTTP(S) from the standard library, not the ``kubernetes`` client: importing that costs about a
second at every start, and its timeouts are per socket operation, while the elector needs each
call to end within the time it gives. Each request opens its own connection (one request per retry
period is nothing to the API server), so a connection hung by a partition is never reused.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import re
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, cast
from urllib.parse import urlsplit

from floe.daemon.deadline_net import addresses, bound
from floe.daemon.lock import LeaderLock, LeaseLost, LeaseUnreachable
from floe.errors import FloeError

logger = logging.getLogger(__name__)

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
# Bound service-account tokens rotate (the kubelet rewrites the file well before expiry); client-go
# re-reads the file every minute, and so do we — and at once when the API server answers 401.
TOKEN_REREAD_S = 60.0
API_VERSION = "coordination.k8s.io/v1"
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


class LeaseSpec(TypedDict, total=False):
    """``spec`` of a Lease as the API server sends it (absent fields are unset)."""

    holderIdentity: str | None
    leaseDurationSeconds: int
    acquireTime: str | None
    renewTime: str | None
    leaseTransitions: int


class ObjectMeta(TypedDict, total=False):
    name: str
    namespace: str
    resourceVersion: str
    uid: str


class Lease(TypedDict, total=False):
    """A Lease object; fields floe does not know (labels, managedFields...) are kept and sent back."""

    apiVersion: str
    kind: str
    metadata: ObjectMeta
    spec: LeaseSpec


@dataclass(frozen=True)
class _Observation:
    """A record held by another, and when (monotonic) this process first saw it unchanged."""

    record: tuple[str, str, str]
    since: float


def _now_micro() -> str:
    """Now as a Kubernetes MicroTime (UTC, exactly six fractional digits, as the API server parses it)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _holder_of(lease: Lease) -> str:
    return lease.get("spec", {}).get("holderIdentity") or ""


class KubeLease:
    """One process's handle on a Kubernetes Lease (a :class:`floe.daemon.lock.LeaderLock`).

    Args:
        api_url: The API server, ``https://host:port`` (``http://`` only for tests and proxies).
        name: The Lease's name (an RFC 1123 subdomain).
        namespace: Where the Lease lives.
        identity: Who this process is, written as ``holderIdentity``; two live processes must not
            share it (a restarted process with the same identity takes its old lease back at once).
        lease_duration_s: ``leaseDurationSeconds`` written when this process takes or renews the lease.
        token: A bearer token; or ``token_file``: a file holding it, re-read every minute and after a 401.
        ca_file: The CA bundle to verify the API server with (default: the system's).

    Raises:
        FloeError: an argument cannot work (bad URL or name, unreadable token or CA file).
    """

    def __init__(self, *, api_url: str, name: str, namespace: str, identity: str, lease_duration_s: int,
                 token: str | None = None, token_file: Path | None = None, ca_file: Path | None = None) -> None:
        self.identity = identity
        self.name = name
        self.namespace = namespace
        self.lease_duration_s = lease_duration_s
        self._where = f"Kubernetes Lease {namespace}/{name} at {api_url}"
        url = urlsplit(api_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise FloeError(f"{self._where}: the API server URL must be https://host:port, not '{api_url}'")
        if not DNS_SUBDOMAIN.match(name) or len(name) > 253:
            raise FloeError(f"{self._where}: '{name}' is not a valid Lease name",
                            hint="use lower-case letters, digits, '-' and '.', starting and ending with a letter or "
                                 "digit")
        if not DNS_LABEL.match(namespace) or len(namespace) > 63:
            raise FloeError(f"{self._where}: '{namespace}' is not a valid namespace name")
        if not identity:
            raise FloeError(f"{self._where}: the identity written as holderIdentity must not be empty")
        if isinstance(lease_duration_s, bool) or not isinstance(lease_duration_s, int) or lease_duration_s < 1:
            raise FloeError(f"{self._where}: lease_duration_s must be a whole number of seconds >= 1, "
                            f"not {lease_duration_s!r}")
        if (token is None) == (token_file is None):
            raise FloeError(f"{self._where}: give either a token or a token file (exactly one)")
        self._host = url.hostname
        self._port = url.port or (443 if url.scheme == "https" else 80)
        self._base = url.path.rstrip("/") + f"/apis/{API_VERSION}/namespaces/{namespace}/leases"
        self._tls: ssl.SSLContext | None = None
        if url.scheme == "https":
            try:
                self._tls = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
            except (OSError, ssl.SSLError) as exc:
                raise FloeError(f"{self._where}: cannot load the CA certificate {ca_file}: {exc}",
                                hint="mount the service account's ca.crt, or give the cluster's CA bundle") from exc
        self._token_file = token_file
        self._token = token or ""
        self._token_read_at = 0.0
        if token_file is not None and not self._reread_token():
            raise FloeError(f"{self._where}: cannot read a service-account token from {token_file}",
                            hint="mount a token (automountServiceAccountToken: true on the pod or its service "
                                 "account), or pass a token file that exists")
        self._held: Lease | None = None  # the Lease as our last successful write left it
        self._observed: _Observation | None = None

    @classmethod
    def in_cluster(cls, *, name: str, identity: str, lease_duration_s: int, namespace: str | None = None,
                   environ: Mapping[str, str] | None = None,
                   service_account_dir: Path = SERVICE_ACCOUNT_DIR) -> KubeLease:
        """The Lease as a pod reaches it: the API server from ``KUBERNETES_SERVICE_HOST``/``_PORT``,
        the pod's service-account token and CA, and its namespace unless ``namespace`` is given.

        Raises:
            FloeError: not in a pod (no service environment or no mounted service account).
        """
        env = os.environ if environ is None else environ
        host, port = env.get("KUBERNETES_SERVICE_HOST", ""), env.get("KUBERNETES_SERVICE_PORT", "")
        if not host or not port:
            raise FloeError(
                "leader election on a Kubernetes Lease needs the in-cluster API server, but "
                "KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT are not set: this process is not running in a pod",
                hint="run it in a pod of the cluster, give the API server URL and a token explicitly, or use "
                     "the PostgreSQL lease store outside Kubernetes")
        token_file, ca_file = service_account_dir / "token", service_account_dir / "ca.crt"
        missing = [str(path) for path in (token_file, ca_file) if not path.is_file()]
        if missing:
            raise FloeError(f"leader election on a Kubernetes Lease: the pod has no service-account credentials "
                            f"({', '.join(missing)} missing)",
                            hint="set automountServiceAccountToken: true on the pod (or its service account)")
        if namespace is None:
            try:
                namespace = (service_account_dir / "namespace").read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise FloeError(f"leader election on a Kubernetes Lease: cannot read the pod's namespace from "
                                f"{service_account_dir / 'namespace'} ({exc})",
                                hint="give the namespace explicitly") from exc
        bracketed = f"[{host}]" if ":" in host else host  # an IPv6 service address
        return cls(api_url=f"https://{bracketed}:{port}", name=name, namespace=namespace, identity=identity,
                   lease_duration_s=lease_duration_s, token_file=token_file, ca_file=ca_file)

    # --- the LeaderLock protocol --------------------------------------------------------------

    def try_acquire(self, timeout: float) -> bool:
        """Take the lease if it is absent, free, ours, or expired by our own clock; True if held now.

        Raises:
            LeaseUnreachable: the API server did not answer within ``timeout`` seconds (or answered 5xx/429).
            FloeError: the API server refuses us (token or RBAC): no retry will help.
        """
        deadline = time.monotonic() + timeout
        lease = self._get(deadline)
        if lease is None:
            return self._create(deadline)
        holder = _holder_of(lease)
        if holder and holder != self.identity and not self._expired(lease):
            return False
        return self._write(lease, deadline, take=holder != self.identity) is not None

    def renew(self, timeout: float) -> None:
        """Write a new renewTime over the version we last wrote.

        Raises:
            LeaseLost: another holder has the lease, or it was deleted.
            LeaseUnreachable: no answer within ``timeout`` seconds (or 5xx/429).
            FloeError: the API server refuses us (token or RBAC).
        """
        deadline = time.monotonic() + timeout
        if self._held is not None:
            status, answer = self._call("PUT", f"{self._base}/{self.name}", deadline, self._renewed(self._held))
            if status == 200:
                self._held = self._lease(answer, "PUT")
                return
            if status not in (404, 409):
                raise self._refused(status, answer, "update")
        # 409: the version we wrote is not the latest — another candidate took the lease, or our last
        # write went through and only its answer was lost. Read once to tell which.
        self._held = None
        lease = self._get(deadline)
        if lease is None:
            raise LeaseLost(f"{self._where}: the Lease was deleted")
        holder = _holder_of(lease)
        if holder != self.identity:
            raise LeaseLost(f"{self._where}: now held by {holder or 'nobody (released)'}")
        if self._write(lease, deadline, take=False) is None:
            raise LeaseLost(f"{self._where}: changed by another writer between our read and our renewal")

    def release(self, timeout: float) -> None:
        """Free the lease if ``identity`` holds it (read fresh: works from a new object). Never raises."""
        deadline = time.monotonic() + timeout
        self._held = None
        try:
            while True:  # ends: freed, not ours, refused, or the deadline (LeaseUnreachable)
                lease = self._get(deadline)
                if lease is None or _holder_of(lease) != self.identity:
                    return
                released = cast(Lease, dict(lease))
                spec = cast(LeaseSpec, dict(lease.get("spec", {})))
                spec["holderIdentity"] = None  # standbys see it free at once
                spec["renewTime"] = _now_micro()
                released["spec"] = spec
                status, answer = self._call("PUT", f"{self._base}/{self.name}", deadline, released)
                if status == 200:
                    return
                if status not in (404, 409):
                    logger.info("%s: release answered %s %s", self._where, status, answer.get("message", ""))
                    return
                # 409: a write landed between our read and ours — another candidate's takeover, or the
                # holder's own last renewal, still in flight when it died. Read again: free it if still ours.
        except (LeaseUnreachable, FloeError) as exc:  # an unreleased lease simply expires
            logger.warning("%s: could not release the lease (%s); it expires on its own", self._where, exc)

    def holder(self, timeout: float) -> str | None:
        """The ``holderIdentity`` recorded now (None: free or absent). Expiry is not judged here.

        Raises:
            LeaseUnreachable: no answer within ``timeout`` seconds.
        """
        lease = self._get(time.monotonic() + timeout)
        return (_holder_of(lease) or None) if lease is not None else None

    def close(self) -> None:
        """Nothing to free: every request had its own connection. Does not release the lease."""
        self._held = None

    # --- the steps ------------------------------------------------------------------------------

    def _expired(self, lease: Lease) -> bool:
        """Whether another holder's record has stood unchanged for its lease duration, by our clock."""
        spec = lease.get("spec", {})
        record = (lease.get("metadata", {}).get("resourceVersion", ""), spec.get("holderIdentity") or "",
                  spec.get("renewTime") or "")
        now = time.monotonic()
        if self._observed is None or self._observed.record != record:
            self._observed = _Observation(record, now)
            return False
        duration = spec.get("leaseDurationSeconds") or self.lease_duration_s
        return now - self._observed.since >= duration

    def _renewed(self, lease: Lease, *, take: bool = False) -> Lease:
        """``lease`` with our renewal (and, when ``take``, our holding): the version read stays, so the
        write fails with 409 if anyone wrote since."""
        now = _now_micro()
        spec = cast(LeaseSpec, dict(lease.get("spec", {})))
        if take:
            spec["holderIdentity"] = self.identity
            spec["acquireTime"] = now
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + 1
        spec["renewTime"] = now
        spec["leaseDurationSeconds"] = self.lease_duration_s
        renewed = cast(Lease, dict(lease))
        renewed["spec"] = spec
        return renewed

    def _write(self, lease: Lease, deadline: float, *, take: bool) -> Lease | None:
        """PUT our holding over the version read; None when another write came first (409)."""
        status, answer = self._call("PUT", f"{self._base}/{self.name}", deadline, self._renewed(lease, take=take))
        if status in (404, 409):  # another write came first (or the Lease was deleted since we read it)
            return None
        if status != 200:
            raise self._refused(status, answer, "update")
        self._held, self._observed = self._lease(answer, "PUT"), None
        return self._held

    def _create(self, deadline: float) -> bool:
        now = _now_micro()
        new: Lease = {"apiVersion": API_VERSION, "kind": "Lease",
                      "metadata": {"name": self.name, "namespace": self.namespace},
                      "spec": {"holderIdentity": self.identity, "leaseDurationSeconds": self.lease_duration_s,
                               "acquireTime": now, "renewTime": now, "leaseTransitions": 0}}
        status, answer = self._call("POST", self._base, deadline, new)
        if status == 409:  # AlreadyExists: another candidate created it between our GET and POST
            return False
        if status not in (200, 201):
            raise self._refused(status, answer, "create")
        self._held, self._observed = self._lease(answer, "POST"), None
        return True

    def _get(self, deadline: float) -> Lease | None:
        status, answer = self._call("GET", f"{self._base}/{self.name}", deadline)
        if status == 404:
            return None
        if status != 200:
            raise self._refused(status, answer, "get")
        return self._lease(answer, "GET")

    # --- HTTP -------------------------------------------------------------------------------------

    def _call(self, method: str, path: str, deadline: float, body: Lease | None = None) -> tuple[int, dict[str, Any]]:
        """One request; (status, JSON answer). A 401 after the token file changed is retried once."""
        token = self._current_token()
        status, answer = self._send(method, path, deadline, body, token)
        if status == 401 and self._token_file is not None and self._reread_token() and self._token != token:
            status, answer = self._send(method, path, deadline, body, self._token)
        return status, answer

    def _send(self, method: str, path: str, deadline: float, body: Lease | None,
              token: str) -> tuple[int, dict[str, Any]]:
        what = f"{method} {path}"
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise LeaseUnreachable(f"{self._where}: no time left for {what}")
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json", "Connection": "close",
                   "User-Agent": "floe-daemon-lease"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        connection: http.client.HTTPConnection = (
            http.client.HTTPSConnection(self._host, self._port, timeout=remaining, context=self._tls)
            if self._tls is not None else http.client.HTTPConnection(self._host, self._port, timeout=remaining))
        try:
            # Our own connect: http.client's would look the name up without any bound.
            connection.sock = sock = self._connect(deadline)
            # Each later step may block afresh; bound each by what is left, so the call ends by the deadline.
            bound(sock, deadline)
            connection.request(method, path, body=data, headers=headers)
            bound(sock, deadline)
            response = connection.getresponse()
            bound(sock, deadline)
            raw = response.read()
            status = response.status
        except ssl.SSLCertVerificationError as exc:
            raise FloeError(f"{self._where}: the API server's certificate is not trusted ({exc.verify_message})",
                            hint="give the CA that signed it (in a pod: the service account's ca.crt)") from exc
        except (OSError, http.client.HTTPException) as exc:  # timeouts, refusals, resets, half answers
            raise LeaseUnreachable(f"{self._where}: {what} got no answer ({type(exc).__name__}: {exc})") from exc
        finally:
            connection.close()
        try:
            answer = json.loads(raw) if raw else {}
        except ValueError:
            answer = {}
        return status, answer if isinstance(answer, dict) else {}

    def _connect(self, deadline: float) -> socket.socket:
        """A connected socket (for https, with the server verified); each step, the name lookup
        included, ends by ``deadline``.

        Raises:
            OSError: no address, no connection, or no handshake in time.
        """
        error: OSError = TimeoutError(f"no address for {self._host}")
        for address in addresses(self._host, self._port, deadline):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("deadline passed")
            try:
                sock = socket.create_connection(address, timeout=remaining)
            except OSError as exc:  # the next address (IPv4 after IPv6, say) may answer
                error = exc
                continue
            if self._tls is None:
                return sock
            try:
                return self._tls.wrap_socket(sock, server_hostname=self._host)  # handshake: sock's timeout
            except BaseException:
                sock.close()
                raise
        raise error

    def _lease(self, answer: dict[str, Any], method: str) -> Lease:
        """The answer as a Lease, after checking what floe relies on is there and typed."""
        metadata, spec = answer.get("metadata"), answer.get("spec", {})
        if (not isinstance(metadata, dict) or not isinstance(metadata.get("resourceVersion"), str)
                or not isinstance(spec, dict)
                or not isinstance(spec.get("holderIdentity") or "", str)
                or not isinstance(spec.get("renewTime") or "", str)
                or not isinstance(spec.get("leaseDurationSeconds") or 0, int)
                or not isinstance(spec.get("leaseTransitions") or 0, int)):
            raise LeaseUnreachable(f"{self._where}: the answer to {method} is not a Lease: {str(answer)[:200]}")
        return cast(Lease, answer)

    def _refused(self, status: int, answer: dict[str, Any], verb: str) -> Exception:
        """The exception for an answer that is neither success nor a conflict."""
        message = str(answer.get("message") or answer.get("reason") or "")
        if status == 429 or status >= 500:
            return LeaseUnreachable(f"{self._where}: the API server answered {status} to {verb}: {message}")
        if status == 401:
            return FloeError(
                f"{self._where}: the API server does not accept our service-account token (401 Unauthorized)",
                hint="mount a valid token (automountServiceAccountToken: true on the pod or its service account); "
                     "outside a pod, pass a token of this cluster")
        if status == 403:
            return FloeError(
                f"{self._where}: RBAC forbids '{verb}' on leases in namespace {self.namespace} (403: {message})",
                hint=f"bind the pod's service account to a Role in namespace {self.namespace} with the rule "
                     f"apiGroups: [coordination.k8s.io], resources: [leases], verbs: [get, create, update]")
        return FloeError(f"{self._where}: the API server refused to {verb} the Lease ({status}: {message})")

    def _current_token(self) -> str:
        if self._token_file is not None and time.monotonic() - self._token_read_at >= TOKEN_REREAD_S:
            self._reread_token()
        return self._token

    def _reread_token(self) -> bool:
        """Read the token file; False (keeping the token we had) when it cannot be read or is empty."""
        assert self._token_file is not None
        try:
            text = self._token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            logger.warning("%s: cannot re-read the token file %s (%s)", self._where, self._token_file, exc)
            return False
        self._token_read_at = time.monotonic()
        if text:
            self._token = text
        return bool(text)


if TYPE_CHECKING:

    def _is_a_leader_lock(lease: KubeLease) -> LeaderLock:  # mypy proves KubeLease keeps the protocol
        return lease
