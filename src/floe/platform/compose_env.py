"""The ``.env`` file of the Docker Compose stack: every credential and setting it interpolates.

``docker/docker-compose.yml`` takes each password, API secret, image version and host port
from ``${VAR:?...}`` references, which Compose resolves from a ``.env`` file beside the
Compose file. floe writes that file; it is never committed.

Writing is additive and safe to repeat: keys already in the file keep their values (so a
database created with a password keeps working), missing keys are appended, and the file is
replaced atomically with mode 0600 because it holds credentials. Passwords are fresh random
values from :mod:`secrets`, drawn from an alphabet that needs no quoting in a ``.env`` file,
a shell, YAML or a URL.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from floe import __version__
from floe.errors import FloeError

ENV_FILE = ".env"
FILE_MODE = 0o600

# Credentials: generated once per file, never printed. The Compose file passes each to the
# services that need it (see docker/README.md).
SECRET_KEYS: tuple[str, ...] = (
    "POSTGRES_PASSWORD",      # the PostgreSQL superuser of the stack's database server
    "DAGSTER_PG_PASSWORD",    # Dagster's storage role (also a secret_ref in docker/platform.yaml)
    "MARQUEZ_PG_PASSWORD",    # Marquez's role
    "SERVING_PG_PASSWORD",    # the serving database's role: runs publish the marts, Cube reads them
    "CUBEJS_API_SECRET",      # signs the JSON Web Tokens of Cube's API
)
SECRET_BYTES = 32


def default_settings(environment: str = "compose", floe_version: str = __version__) -> dict[str, str]:
    """The non-secret keys of the file and their default values, in file order.

    Args:
        environment: The platform environment the images are compiled for (FLOE_ENV).
        floe_version: Tag of the images the stack builds and runs.
    """
    return {
        "FLOE_VERSION": floe_version,
        "FLOE_ENV": environment,
        # Build context paths, relative to the repository root (the Compose build context).
        "FLOE_PROJECT": "demo",
        "FLOE_PLATFORM": "docker/platform.yaml",
        # Host ports; change one here when it is taken on this machine.
        "DAGSTER_HOST_PORT": "3000",
        "JAEGER_HOST_PORT": "16686",
        "MARQUEZ_API_HOST_PORT": "5000",
        "MARQUEZ_WEB_HOST_PORT": "3001",
        "CUBE_HOST_PORT": "4000",
        "OTLP_GRPC_HOST_PORT": "4317",
        "OTLP_HTTP_HOST_PORT": "4318",
    }


@dataclass(frozen=True)
class ComposeEnvResult:
    """What :func:`write_compose_env` did.

    Attributes:
        path: The ``.env`` file.
        created: The file did not exist before.
        added: Keys written this time (generated secrets and missing settings), in file order.
        kept: Keys that were already present; their values were not touched.
        mode_fixed: The file existed with permissions other than 0600 and was restricted.
    """

    path: Path
    created: bool
    added: tuple[str, ...]
    kept: tuple[str, ...]
    mode_fixed: bool

    @property
    def changed(self) -> bool:
        """Whether the file's content or mode changed."""
        return self.created or bool(self.added) or self.mode_fixed

    @property
    def added_secrets(self) -> tuple[str, ...]:
        """The credentials generated this time (their values are only in the file)."""
        return tuple(key for key in self.added if key in SECRET_KEYS)


def generate_secret() -> str:
    """A random credential: 32 bytes from the OS generator, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(SECRET_BYTES)


_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$")


def read_env_file(path: Path) -> dict[str, str]:
    """The ``KEY=VALUE`` pairs of a ``.env`` file (comments, blanks and ``export`` ignored).

    Values in matching single or double quotes lose the quotes; nothing else is unescaped.

    Raises:
        FloeError: The file exists but cannot be read, or a line is not ``KEY=VALUE``.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise FloeError(f"{path}: cannot read: {reason}", hint="fix or remove the file; floe writes it again") from None
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            raise FloeError(f"{path}:{number}: expected KEY=VALUE, got {raw.strip()[:40]!r}",
                            hint="fix the line or remove it; floe adds missing keys again")
        value = match.group(2).strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[match.group(1)] = value
    return values


def write_compose_env(
    path: Path,
    *,
    settings: Mapping[str, str] | None = None,
) -> ComposeEnvResult:
    """Create or complete the Compose ``.env`` file at ``path``; never change a present value.

    Missing credentials (:data:`SECRET_KEYS`) get fresh random values; missing settings get
    the values of ``settings`` (default: :func:`default_settings`). Existing lines, comments
    included, are kept as they are and new keys are appended. The file is replaced
    atomically and always ends up with mode 0600.

    Args:
        path: The ``.env`` file, usually beside the Compose file (``docker/.env``).
        settings: Non-secret keys and the values to write when they are missing. Pass
            ``{**default_settings(), "DAGSTER_HOST_PORT": "3300"}`` to choose another port
            for a new file (an existing key still wins; edit the file to change it).

    Returns:
        What was created, added, kept and fixed.

    Raises:
        FloeError: ``path`` is a directory, or the file cannot be read or written, or a
            setting is not a valid ``KEY=VALUE`` pair.
    """
    wanted = dict(default_settings() if settings is None else settings)
    for key, value in wanted.items():
        if not _KEY.match(key) or "\n" in value or "\r" in value:
            raise FloeError(f"invalid .env setting {key!r}: keys are letters, digits and '_', values one line")
    if path.is_dir():
        raise FloeError(f"{path} is a directory", hint="pass the path of the .env file itself")
    created = not path.exists()
    existing = read_env_file(path)
    current_text = "" if created else path.read_text(encoding="utf-8")
    additions: list[tuple[str, str]] = []
    for key in SECRET_KEYS:
        if key not in existing:
            additions.append((key, generate_secret()))
    for key, value in wanted.items():
        if key not in existing and key not in SECRET_KEYS:
            additions.append((key, value))
    kept = tuple(key for key in (*SECRET_KEYS, *wanted) if key in existing)
    old_mode = None if created else _mode(path)
    if additions:
        _write_private(path, _with_additions(current_text, additions, fresh=created))
    elif old_mode is not None and old_mode != FILE_MODE:
        _restrict(path)
    mode_fixed = old_mode is not None and old_mode != FILE_MODE
    return ComposeEnvResult(path, created, tuple(key for key, _ in additions), kept, mode_fixed)


def _with_additions(current: str, additions: list[tuple[str, str]], *, fresh: bool) -> str:
    """The file's text with ``additions`` appended under a comment."""
    entries = "".join(f"{key}={value}\n" for key, value in additions)
    if fresh:
        return (
            "# Docker Compose settings and credentials for docker/docker-compose.yml, written by floe.\n"
            "# Never commit this file. floe keeps every value here and only appends missing keys.\n"
            + entries
        )
    if current and not current.endswith("\n"):
        current += "\n"
    return current + "# Added by floe:\n" + entries


def _write_private(path: Path, text: str) -> None:
    """Replace ``path`` atomically with a 0600 file holding ``text``."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise FloeError(f"{path}: cannot write: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            os.fchmod(handle.fileno(), FILE_MODE)  # mkstemp makes 0600 already; a umask cannot widen it
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise FloeError(f"{path}: cannot write: {exc.strerror}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _mode(path: Path) -> int:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError as exc:
        raise FloeError(f"{path}: cannot read its permissions: {exc.strerror}") from None


def _restrict(path: Path) -> None:
    """Make an existing file 0600."""
    try:
        path.chmod(FILE_MODE)
    except OSError as exc:
        raise FloeError(f"{path}: cannot restrict to mode 0600: {exc.strerror}",
                        hint="the file holds credentials; make it readable by its owner only") from None
