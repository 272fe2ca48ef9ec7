"""The shape of a check: what it is given, what it returns, and how it fails.

A check is a plain function ``(CheckContext) -> Outcome``. It raises :class:`CheckFailed`
with a message and a remediation when the service does not work; anything else it raises
is reported as an unexpected failure by the runner. Checks never print.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from floe.contract.preflight_report import DetailValue, Service, Status
from floe.spec.secrets import SecretRef, resolve_secret, secrets_dir

# Shorter values are not scrubbed from output: they would mangle ordinary words.
_MIN_SCRUBBED_LENGTH = 4


class CheckFailed(Exception):
    """A check found the service not working (or working with a caveat, for ``warning``)."""

    def __init__(
        self,
        message: str,
        remediation: str | None,
        *,
        status: Status = "error",
        details: dict[str, DetailValue] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.remediation = remediation
        self.status: Status = status
        self.details = details or {}


@dataclass
class Outcome:
    """What a check that got an answer returns."""

    message: str
    status: Status = "ok"
    remediation: str | None = None
    details: dict[str, DetailValue] = field(default_factory=dict)


def skipped(message: str) -> Callable[[CheckContext], Outcome]:
    """A check function that reports ``skipped`` (nothing configured, or switched off)."""
    return lambda _context: Outcome(message, status="skipped")


class SecretBook:
    """Resolves secret references for checks and remembers the values, to scrub them from output."""

    def __init__(self, resolve: Callable[[str], str | None] | None = None) -> None:
        self._resolve = resolve or resolve_secret
        self._values: set[str] = set()
        self._lock = threading.Lock()

    def get(self, ref: SecretRef | None, field_path: str) -> str | None:
        """The secret's value, or None when ``ref`` is None.

        Raises:
            CheckFailed: The reference is set but the secret is not available.
        """
        if ref is None:
            return None
        value = self._resolve(ref.secret_ref)
        if value is None:
            raise CheckFailed(
                f"secret '{ref.secret_ref}' ({field_path}) is not set",
                f"export {ref.secret_ref}=... or mount a file named {ref.secret_ref} in "
                f"$FLOE_SECRETS_DIR (now {secrets_dir()})",
            )
        self.remember(value)
        return value

    def remember(self, value: str) -> None:
        """Treat ``value`` as secret from now on (e.g. a token a check obtained)."""
        if len(value) >= _MIN_SCRUBBED_LENGTH:
            with self._lock:
                self._values.add(value)

    def scrub(self, text: str) -> str:
        """``text`` with every known secret value replaced by ``***``."""
        with self._lock:
            values = sorted(self._values, key=len, reverse=True)
        for value in values:
            text = text.replace(value, "***")
        return text


@dataclass(frozen=True)
class CheckContext:
    """What every check is given."""

    project_root: Path
    timeout_s: float
    secrets: SecretBook
    started: float = field(default_factory=time.monotonic)

    def remaining(self, floor: float = 0.2) -> float:
        """Seconds left before this check's deadline (at least ``floor``), for client timeouts."""
        return max(floor, self.timeout_s - (time.monotonic() - self.started))

    def resolve_path(self, path: str) -> Path:
        """A spec path, relative to the project root unless absolute."""
        candidate = Path(path)
        return candidate if candidate.is_absolute() else self.project_root / candidate


@dataclass(frozen=True)
class Check:
    """One planned check: which service, what it targets, and the function that runs it."""

    service: Service
    name: str
    target: str
    run: Callable[[CheckContext], Outcome]
    # Client libraries the check uses, imported before any clock starts: in a fresh container
    # (the Helm hook) importing pyiceberg or botocore alone can take longer than the limit.
    imports: tuple[str, ...] = ()
    # Only local files (a DuckDB file, a SQLite catalog, a folder): no network to wait for, so
    # slowness is the machine's load, never an answer. Such a check gets the runner's local
    # limit instead of --timeout (see floe.preflight.runner).
    local: bool = False


def writable_directory(directory: Path, what: str) -> str:
    """Prove a directory can be written (by writing and deleting a probe file there).

    A directory that does not exist yet is fine when its nearest existing parent is
    writable: floe creates it on first use.

    Returns:
        A phrase for the outcome message.

    Raises:
        CheckFailed: The directory (or its parent) cannot be written.
    """
    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise CheckFailed(f"{what}: {existing} is a file, not a directory",
                          f"move {existing} away, or point {what} elsewhere in platform.yaml")
    probe = existing / f".floe-preflight-{threading.get_ident()}-{time.monotonic_ns()}"
    try:
        probe.write_bytes(b"floe preflight probe\n")
        if probe.read_bytes() != b"floe preflight probe\n":
            raise CheckFailed(f"{what}: {existing} returned other bytes than were written",
                              "check the file system (full disk, faulty mount)")
    except OSError as exc:
        raise CheckFailed(f"{what}: cannot write in {existing} ({exc.strerror})",
                          f"give this user write access to {existing} (in a container: mount a writable "
                          "volume there), or point it elsewhere in platform.yaml") from None
    finally:
        try:
            probe.unlink()
        except OSError:
            pass
    if existing == directory:
        return f"{directory} is writable"
    return f"{directory} will be created (its parent {existing} is writable)"
