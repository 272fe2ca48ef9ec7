"""Which lease store a replica uses, and how to build it from a plain description.

The description is a small JSON-able mapping so that the guardian process (which gives a
Kubernetes lease back when its wrapper dies) can rebuild the same store from its command
line. It never holds a secret: a Kubernetes token is named by its file, and the PostgreSQL
store (whose password the description would need) never runs behind a guardian.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from typing import Any

from floe.daemon.lock import LeaderLock
from floe.errors import FloeError

IN_CLUSTER_ENV = "KUBERNETES_SERVICE_HOST"
DEFAULT_LEASE_NAME = "floe-dagster-daemon"


def default_identity() -> str:
    """``<pod or host>-<pid>``: unique among live processes (two wrappers in one pod differ by pid).

    A wrapper restarted in its container is pid 1 again, so it takes back its own lease at
    once — safe, as the container's restart ended every process of the old one.
    """
    return f"{os.environ.get('POD_NAME') or socket.gethostname()}-{os.getpid()}"


def in_cluster() -> bool:
    """Whether this process runs in a Kubernetes pod (the API server's address is in its env)."""
    return bool(os.environ.get(IN_CLUSTER_ENV))


def build_lock(store: Mapping[str, Any]) -> LeaderLock:
    """The lease store a description names (see :func:`kubernetes_store`, :func:`postgres_store`)."""
    kind = store.get("kind")
    if kind == "kubernetes":
        return _kube_lease(store)
    if kind == "postgres":
        from floe.daemon.pg_lock import PgAdvisoryLock

        return PgAdvisoryLock(dict(store["connection"]), identity=str(store["identity"]),
                              lease_duration_s=int(store["lease_duration_s"]), name=str(store.get("name", "")))
    raise FloeError(f"unknown lease store {kind!r}", hint="use 'kubernetes' or 'postgres'")


def _kube_lease(store: Mapping[str, Any]) -> LeaderLock:
    from pathlib import Path

    from floe.daemon.kube_lease import KubeLease

    name, identity, duration = str(store["name"]), str(store["identity"]), int(store["lease_duration_s"])
    namespace = store.get("namespace")
    if not store.get("api_url"):  # the pod's own API server, token, CA and namespace
        return KubeLease.in_cluster(name=name, identity=identity, lease_duration_s=duration,
                                    namespace=str(namespace) if namespace else None)
    if not store.get("token_file") or not namespace:
        raise FloeError("a Kubernetes API URL given outside a pod needs a token file and a namespace",
                        hint="pass --kube-token-file and --namespace too")
    ca_file = store.get("ca_file")
    return KubeLease(api_url=str(store["api_url"]), name=name, namespace=str(namespace), identity=identity,
                     lease_duration_s=duration, token_file=Path(str(store["token_file"])),
                     ca_file=Path(str(ca_file)) if ca_file else None)


def kubernetes_store(*, identity: str, name: str, namespace: str | None, lease_duration_s: int,
                     api_url: str | None, token_file: str | None, ca_file: str | None) -> dict[str, Any]:
    """A Kubernetes Lease ``name``; the API, token and namespace default to the pod's own."""
    return {"kind": "kubernetes", "identity": identity, "name": name, "namespace": namespace,
            "lease_duration_s": lease_duration_s, "api_url": api_url, "token_file": token_file,
            "ca_file": ca_file}


def postgres_store(*, identity: str, connection: Mapping[str, Any], lease_duration_s: int,
                   name: str = "") -> dict[str, Any]:
    """An advisory lock on Dagster's PostgreSQL database (``connection``: libpq keywords)."""
    return {"kind": "postgres", "identity": identity, "connection": dict(connection),
            "lease_duration_s": lease_duration_s, "name": name}


def public_view(store: Mapping[str, Any]) -> dict[str, Any]:
    """The description without anything secret (for the guardian's argv and for logs)."""
    view = {key: value for key, value in store.items() if key != "connection"}
    if "connection" in store:
        conn = store["connection"]
        view["database"] = f"{conn.get('user')}@{conn.get('host')}:{conn.get('port')}/{conn.get('dbname')}"
    return view
