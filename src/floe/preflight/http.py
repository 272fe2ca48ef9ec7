"""A small HTTP client for checks: every status is an answer, every network problem a failure."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from floe.preflight.failures import network_failure
from floe.preflight.framework import CheckContext, CheckFailed

_MAX_BODY = 1 << 20


@dataclass(frozen=True)
class HttpAnswer:
    """An HTTP response of any status."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def error_text(self) -> str:
        """The error an API put in its body (Iceberg REST, OAuth2, Azure and GCS shapes), or ''."""
        document = self.json()
        if isinstance(document, dict):
            error = document.get("error")
            if isinstance(error, dict):
                return str(error.get("message") or error.get("code") or "")
            description = document.get("error_description")
            if error or description:
                return " ".join(str(part) for part in (error, description) if part)
            if "message" in document:
                return str(document["message"])
        return self.body[:200].decode("utf-8", "replace").strip()

    def says_expired(self) -> bool:
        """Whether the server says the credential has expired (body or WWW-Authenticate)."""
        text = (self.error_text() + " " + self.headers.get("www-authenticate", "")).lower()
        return "expired" in text


def request(
    method: str,
    url: str,
    *,
    context: CheckContext,
    what: str,
    field: str,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    cap_s: float | None = None,
) -> HttpAnswer:
    """Send one request within the check's remaining time (or ``cap_s``, if shorter).

    Raises:
        CheckFailed: The server could not be reached (DNS, refused, TLS, timeout, ...).
    """
    parts = urlsplit(url)
    timeout_s = min(context.remaining(), cap_s) if cap_s else context.remaining()
    prepared = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(prepared, timeout=timeout_s) as response:
            return HttpAnswer(response.status, _lower(response.headers.items()), response.read(_MAX_BODY))
    except urllib.error.HTTPError as exc:
        with exc:
            return HttpAnswer(exc.code, _lower(exc.headers.items()), exc.read(_MAX_BODY))
    except (OSError, ValueError) as exc:
        failure = network_failure(exc, what=what, host=parts.hostname or url, port=parts.port,
                                  timeout_s=cap_s or context.timeout_s, field=field)
        if failure is not None:
            raise failure from None
        raise CheckFailed(f"request to {what} at {_without_query(url)} failed: {exc}",
                          f"check {field}") from None


def status_failure(answer: HttpAnswer, *, what: str, url: str, field: str, credential: str) -> CheckFailed:
    """The failure for an unexpected HTTP status: 401, 403, 404 and 5xx each have their own."""
    detail = answer.error_text()
    where = _without_query(url)
    suffix = f": {detail}" if detail else ""
    if answer.status == 401 and answer.says_expired():
        return CheckFailed(f"{what} says the credential has expired (401){suffix}",
                           f"renew {credential} (a new token or key) and update the secret")
    if answer.status == 401:
        return CheckFailed(f"{what} rejected the credentials (401){suffix}", f"check {credential}")
    if answer.status == 403:
        return CheckFailed(f"{what} refused access (403){suffix}",
                           f"grant the identity of {credential} the permission this needs")
    if answer.status == 404:
        return CheckFailed(f"{where} was not found on {what} (404){suffix}",
                           f"check the URL and path in {field}")
    if answer.status >= 500:
        return CheckFailed(f"{what} failed with HTTP {answer.status}{suffix}",
                           f"{what} is up but broken: look at its logs")
    return CheckFailed(f"{what} answered HTTP {answer.status} at {where}{suffix}", f"check {field}")


def _lower(items: Any) -> dict[str, str]:
    return {str(key).lower(): str(value) for key, value in items}


def _without_query(url: str) -> str:
    return url.split("?", 1)[0]
