"""Where lineage events go: a JSON Lines file, standard error, or an HTTP API such as Marquez.

A transport never raises into the run. It counts what it could not deliver and, at
:meth:`Transport.close`, returns at most one human warning saying where, why and what to fix.
The HTTP transport sends from a background thread so a slow endpoint never stalls dbt; it
stops trying at the first connection failure (the next event would wait just as long) and
spends at most ``timeout`` in total, so ``close`` delays the run by no more than that.
"""

from __future__ import annotations

import json
import queue
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any, Protocol

from floe.observability.rotation import rotate_if_large

_FIX = "or set type: none"


class Transport(Protocol):
    """Delivers events; reports failures once, at close."""

    def emit(self, event: dict[str, Any]) -> None:
        """Deliver (or queue) one event."""

    def close(self) -> list[str]:
        """Finish delivery and return at most one warning."""


def _encode(event: dict[str, Any]) -> str:
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False)


class FileTransport:
    """Appends one event per line, flushed at once so ``floe lineage`` sees complete runs."""

    def __init__(self, path: Path, shown_as: str) -> None:
        self._path = path
        self._shown_as = shown_as
        self._file: IO[str] | None = None
        self._total = 0
        self._dropped = 0
        self._error: str | None = None

    def emit(self, event: dict[str, Any]) -> None:
        self._total += 1
        if self._error is not None:
            self._dropped += 1
            return
        try:
            if self._file is None:
                self._path.parent.mkdir(parents=True, exist_ok=True)
                rotate_if_large(self._path)
                self._file = self._path.open("a", encoding="utf-8")
            self._file.write(_encode(event) + "\n")
            self._file.flush()
        except OSError as exc:
            self._error = exc.strerror or str(exc)
            self._dropped += 1

    def close(self) -> list[str]:
        if self._file is not None:
            try:
                self._file.close()
            except OSError as exc:
                self._error = self._error or exc.strerror or str(exc)
            self._file = None
        if self._error is None:
            return []
        return [f"lineage: cannot write {self._shown_as} ({self._error}); {self._dropped} of {self._total} "
                f"events of this run were dropped. Fix observability.lineage.path in platform.yaml {_FIX}"]


class ConsoleTransport:
    """Writes one event per line to standard error (debugging; stdout stays the program's)."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream
        self._error: str | None = None

    def emit(self, event: dict[str, Any]) -> None:
        if self._error is not None:
            return
        try:
            stream = self._stream if self._stream is not None else sys.stderr
            stream.write(_encode(event) + "\n")
            stream.flush()
        except (OSError, ValueError) as exc:
            self._error = str(exc)

    def close(self) -> list[str]:
        if self._error is None:
            return []
        return [f"lineage: cannot write events to standard error ({self._error}); set observability.lineage "
                "type: file to keep them"]


_STOP = object()


class HttpTransport:
    """POSTs each event as JSON to ``url``/``endpoint`` (Marquez: /api/v1/lineage), in order."""

    def __init__(self, url: str, endpoint: str, api_key: str | None, timeout_s: float) -> None:
        self._base = url.rstrip("/")
        self._target = f"{self._base}/{endpoint.lstrip('/')}"
        self._headers = {"Content-Type": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._timeout_s = timeout_s
        self._spent_s = 0.0
        self._queue: queue.Queue[object] = queue.Queue()
        self._lock = threading.Lock()
        self._total = 0
        self._delivered = 0
        self._reason: str | None = None
        self._fatal = False
        self._thread: threading.Thread | None = None

    def emit(self, event: dict[str, Any]) -> None:
        with self._lock:
            self._total += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._send_all, name="floe-lineage-http", daemon=True)
                self._thread.start()
        self._queue.put(_encode(event).encode("utf-8"))

    def _send_all(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            if self._fatal:
                continue
            assert isinstance(item, bytes)
            self._send(item)

    def _send(self, body: bytes) -> None:
        remaining = self._timeout_s - self._spent_s
        if remaining <= 0:
            self._fail(f"no answer within the {self._timeout_s:g}s timeout", fatal=True)
            return
        request = urllib.request.Request(self._target, data=body, headers=self._headers, method="POST")
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=remaining) as response:
                response.read()
            with self._lock:
                self._delivered += 1
        except urllib.error.HTTPError as exc:
            # The server answered: auth problems will not go away, a rejected event might.
            self._fail(f"HTTP {exc.code} {exc.reason}", fatal=exc.code in (401, 403, 404))
        except urllib.error.URLError as exc:
            self._fail(_describe(exc.reason), fatal=True)
        except TimeoutError:
            self._fail(f"no answer within the {self._timeout_s:g}s timeout", fatal=True)
        except OSError as exc:
            self._fail(_describe(exc), fatal=True)
        finally:
            self._spent_s += time.monotonic() - started

    def _fail(self, reason: str, *, fatal: bool) -> None:
        with self._lock:
            self._reason = self._reason or reason
            self._fatal = self._fatal or fatal

    def close(self) -> list[str]:
        thread = self._thread
        if thread is not None:
            self._queue.put(_STOP)
            thread.join(timeout=max(self._timeout_s - self._spent_s, 0.0) + 0.05)
            if thread.is_alive():
                self._fail(f"no answer within the {self._timeout_s:g}s timeout", fatal=True)
        with self._lock:
            dropped = self._total - self._delivered
            if dropped == 0:
                return []
            reason = self._reason or "unknown error"
        rejected = reason.startswith("HTTP ")
        if reason.startswith(("HTTP 401", "HTTP 403")):
            fix = "Check observability.lineage.api_key"
        elif rejected and not reason.startswith("HTTP 404"):
            fix = "Check the lineage server's log, or observability.lineage"
        else:
            fix = "Fix observability.lineage.url"
        problem = f"rejected events ({reason})" if rejected else f"unreachable ({reason})"
        return [f"lineage: OpenLineage endpoint {self._target} {problem}; {dropped} of {self._total} events "
                f"of this run were dropped. {fix} in platform.yaml {_FIX}"]


def _describe(reason: object) -> str:
    """A short, human reason for a network failure."""
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, TimeoutError):
        return "connection timed out"
    if isinstance(reason, socket.gaierror):
        return "host name not found"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror.lower()
    return str(reason)
