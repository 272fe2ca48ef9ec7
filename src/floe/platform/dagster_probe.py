"""Ask a running Dagster webserver how it is: its version, the code location, the daemons.

Plain HTTP and Dagster's GraphQL API, so the CLI can check a stack without importing Dagster.
"""

from __future__ import annotations

import base64
import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

_LOCATIONS = """{ workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus
  locationOrLoadError { __typename ... on PythonError { message } } } } } }"""
_RELOAD = """mutation ($name: String!) { reloadRepositoryLocation(repositoryLocationName: $name) {
  __typename ... on WorkspaceLocationEntry { loadStatus locationOrLoadError { __typename
  ... on PythonError { message } } } ... on PythonError { message } } }"""
_DAEMONS = """{ instance { daemonHealth { allDaemonStatuses { daemonType required healthy
  lastHeartbeatErrors { message } } } } }"""


# Credentials for a webserver behind an authenticating proxy (the chart's Ingress: basic auth,
# or an oauth2-proxy that accepts bearer tokens). Read from the environment, never from a URL
# or an option, so they appear in no message, shell history or process list.
USER_ENV = "FLOE_DAGSTER_USER"
PASSWORD_ENV = "FLOE_DAGSTER_PASSWORD"
TOKEN_ENV = "FLOE_DAGSTER_TOKEN"


class ProbeError(Exception):
    """The webserver did not answer, or answered something unexpected."""


class CredentialsRefused(ProbeError):
    """Something in front of the webserver asks for credentials (HTTP 401 or 403)."""

    def __init__(self, url: str, status: int, sent: bool) -> None:
        self.status = status
        self.sent = sent
        said = "refuses the credentials floe sent" if sent else "asks for credentials"
        super().__init__(f"{url} {said} (HTTP {status})")


def auth_headers() -> dict[str, str]:
    """The Authorization header from $FLOE_DAGSTER_TOKEN (bearer), else $FLOE_DAGSTER_USER and
    $FLOE_DAGSTER_PASSWORD (basic); none when neither is set."""
    token = os.environ.get(TOKEN_ENV)
    if token:
        return {"Authorization": f"Bearer {token}"}
    user = os.environ.get(USER_ENV)
    if user:
        pair = f"{user}:{os.environ.get(PASSWORD_ENV, '')}".encode()
        return {"Authorization": f"Basic {base64.b64encode(pair).decode()}"}
    return {}


def _open(request: urllib.request.Request | str, url: str, timeout_s: float) -> bytes:
    """The body of the answer; 401 and 403 raise :class:`CredentialsRefused`."""
    if isinstance(request, str):
        request = urllib.request.Request(request)
    headers = auth_headers()
    for name, value in headers.items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            body: bytes = response.read()
            return body
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            raise CredentialsRefused(url, exc.code, sent=bool(headers)) from None
        raise


@dataclass(frozen=True)
class LocationStatus:
    """One code location as the webserver sees it."""

    name: str
    status: str  # LOADING, LOADED
    error: str | None


@dataclass(frozen=True)
class DaemonStatus:
    """One daemon (scheduler, sensor, run queue, ...) and whether its heartbeat is fresh."""

    kind: str
    required: bool
    healthy: bool


def server_info(url: str, timeout_s: float = 2.0) -> dict[str, Any]:
    """``GET /server_info``: the webserver's and Dagster's versions.

    Raises:
        ProbeError: No answer, or not a Dagster webserver.
    """
    try:
        document = json.loads(_open(f"{url}/server_info", url, timeout_s))
    except (OSError, ValueError) as exc:
        raise ProbeError(f"{url} does not answer: {exc}") from None
    if not isinstance(document, dict) or "dagster_version" not in document:
        raise ProbeError(f"{url} answers, but is not a Dagster webserver")
    return document


def graphql(url: str, query: str, variables: dict[str, Any] | None = None, timeout_s: float = 10.0) -> Any:
    """POST a GraphQL query and return its ``data``.

    Raises:
        ProbeError: No answer, or GraphQL errors.
    """
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(f"{url}/graphql", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        document = json.loads(_open(request, url, timeout_s))
    except (OSError, ValueError) as exc:
        raise ProbeError(f"{url}/graphql does not answer: {exc}") from None
    if document.get("errors"):
        raise ProbeError(f"GraphQL error: {document['errors'][0].get('message')}")
    return document.get("data")


def locations(url: str) -> list[LocationStatus]:
    """The code locations and their load status."""
    data = graphql(url, _LOCATIONS)["workspaceOrError"]
    if data.get("__typename") != "Workspace":
        raise ProbeError(f"the workspace did not load: {data}")
    found = []
    for entry in data["locationEntries"]:
        loaded = entry.get("locationOrLoadError") or {}
        error = loaded.get("message") if loaded.get("__typename") == "PythonError" else None
        found.append(LocationStatus(entry["name"], entry["loadStatus"], error))
    return found


def daemons(url: str) -> list[DaemonStatus]:
    """Every daemon the instance runs, and whether it is healthy."""
    statuses = graphql(url, _DAEMONS)["instance"]["daemonHealth"]["allDaemonStatuses"]
    return [DaemonStatus(s["daemonType"], bool(s["required"]), bool(s["healthy"])) for s in statuses]


def reload_location(url: str, name: str) -> str | None:
    """Reload a code location; its load error after the reload, or None when it loaded."""
    data = graphql(url, _RELOAD, {"name": name})["reloadRepositoryLocation"]
    if data.get("__typename") == "PythonError":
        return str(data.get("message"))
    loaded = data.get("locationOrLoadError") or {}
    return str(loaded.get("message")) if loaded.get("__typename") == "PythonError" else None
