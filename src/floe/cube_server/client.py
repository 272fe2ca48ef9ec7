"""Asking a Cube API: its tokens (JWT, HS256, signed with the API secret) and ``/load``.

Standard library only: a query is one small HTTP request, not worth a dependency.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import urllib.error
import urllib.request
from typing import Any

from floe.cube_server.errors import CubeServerError

LOAD_PATH = "/cubejs-api/v1/load"
# Cube answers a query it has not finished within its long-poll window with this, status 200.
CONTINUE_WAIT = "Continue wait"


def new_secret() -> str:
    """A fresh API secret (what signs and checks the tokens)."""
    return secrets.token_hex(32)


def api_token(secret: str, ttl_s: int = 3600, now: float | None = None) -> str:
    """A token Cube accepts: a JWT signed with ``secret`` (HS256), valid for ``ttl_s`` seconds."""
    issued = int(time.time() if now is None else now)
    header = _b64({"alg": "HS256", "typ": "JWT"})
    payload = _b64({"iat": issued, "exp": issued + ttl_s})
    signature = hmac.new(secret.encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


def _b64(document: dict[str, Any]) -> str:
    raw = json.dumps(document, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def load(url: str, token: str, query: dict[str, Any], timeout_s: float = 600) -> dict[str, Any]:
    """Cube's answer to ``query`` (``POST /cubejs-api/v1/load``), waiting through "Continue wait".

    Raises:
        CubeServerError: Cube refused the query (its message), or gave no answer within ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    body = json.dumps({"query": query}).encode()
    while True:
        status, answer = _post(url.rstrip("/") + LOAD_PATH, token, body, max(1.0, deadline - time.monotonic()))
        error = answer.get("error") if isinstance(answer, dict) else None
        if status == 200 and error == CONTINUE_WAIT:
            if time.monotonic() > deadline:
                raise CubeServerError(f"Cube at {url} did not answer within {timeout_s:.0f}s (still 'Continue wait')",
                                      hint="a first query builds the rollups; try again, or give --timeout more")
            continue  # Cube held the request for its long-poll window: ask again
        if status >= 500:
            raise CubeServerError(f"the Cube server failed on the query ({status}): {error or answer}",
                                  hint="its log (.floe/cube/server.log) says more")
        if status != 200 or error:
            raise CubeServerError(f"Cube refused the query ({status}): {error or answer}",
                                  hint="check the member names in the Cube model (.floe/cube/model/cubes/*.yml)")
        if not isinstance(answer, dict):
            raise CubeServerError(f"Cube answered with something that is not a JSON object: {str(answer)[:200]}")
        return answer


def _post(url: str, token: str, body: bytes, timeout_s: float) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Authorization": token, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return int(response.status), _json(response.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), _json(exc.read())
    except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        reason = getattr(exc, "reason", exc)
        raise CubeServerError(f"cannot reach Cube at {url}: {reason}",
                              hint="is 'floe cube serve' still running? Start it again") from None


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return {"error": raw.decode(errors="replace")[:500]}


def ready(url: str, timeout_s: float = 5) -> bool:
    """Whether Cube's readiness probe (``/readyz``: the database answers) says it is up."""
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/readyz", timeout=timeout_s) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError):
        return False
