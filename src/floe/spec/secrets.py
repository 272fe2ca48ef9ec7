"""Secret references: credentials are named in specs, and resolved only at run time.

A spec never holds a credential. It holds ``{secret_ref: NAME}``; at run time floe reads the
environment variable ``NAME`` or, failing that, the file ``$FLOE_SECRETS_DIR/NAME`` (a mounted
Kubernetes or Docker secret). dbt profiles receive them as ``{{ env_var('NAME') }}``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from pydantic import Field

from floe.errors import FloeError
from floe.spec.base import StrictModel

DEFAULT_SECRETS_DIR = "/run/secrets/floe"
SECRET_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"

# Keys whose values are credentials wherever they appear. A plain string there is refused.
_CREDENTIAL_KEYS = frozenset(
    {
        "password", "passwd", "pwd", "secret", "client_secret", "token", "access_token",
        "refresh_token", "api_key", "apikey", "private_key", "private_key_passphrase",
        "secret_access_key", "session_token", "keyfile_json", "credential", "credentials",
        "connection_string", "sas_token", "account_key",
    }
)
_CREDENTIAL_SUFFIXES = ("_password", "_secret", "_token", "_api_key", "_private_key")
# scheme://user:password@ where the password may hold an unencoded '/' (AWS secret keys often
# do), but 'host:5432/path@x' is a port followed by a path, not a password.
_URL_WITH_PASSWORD = re.compile(
    r"^[a-z][a-z0-9+.-]*://[^/?#@\s:]+:(?!\d*(?:[/?#]|$))[^@\s]+@", re.IGNORECASE
)


class SecretRef(StrictModel):
    """A reference to a credential resolved at run time, never its value."""

    secret_ref: str = Field(
        pattern=SECRET_NAME_PATTERN,
        description=(
            "Name of the secret: read from the environment variable of this name, or from the "
            "file of this name in $FLOE_SECRETS_DIR (default /run/secrets/floe)."
        ),
    )

    def dbt_reference(self) -> str:
        """The dbt Jinja expression that reads this secret from the environment."""
        return "{{ env_var('" + self.secret_ref + "') }}"


def is_credential_key(key: str) -> bool:
    """Whether a mapping key names a credential (so its value must be a secret reference)."""
    lowered = key.lower()
    return lowered in _CREDENTIAL_KEYS or lowered.endswith(_CREDENTIAL_SUFFIXES)


def url_has_password(value: str) -> bool:
    """Whether a URL carries an inline ``user:password@`` part."""
    return bool(_URL_WITH_PASSWORD.match(value))


def secrets_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The directory mounted secrets are read from."""
    env = os.environ if environ is None else environ
    return Path(env.get("FLOE_SECRETS_DIR", DEFAULT_SECRETS_DIR))


def resolve_secret(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """Return the secret's value from the environment or a mounted file, or None if absent."""
    env = os.environ if environ is None else environ
    if name in env:
        return env[name]
    candidate = secrets_dir(env) / name
    try:
        return candidate.read_text(encoding="utf-8").rstrip("\r\n")
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None
    except OSError as exc:
        raise FloeError(
            f"secret '{name}': cannot read {candidate}: {exc.strerror}",
            hint="check the mounted secret's permissions",
        ) from None


def resolve_secrets(names: list[str], environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Resolve every named secret; raise one error listing all that are missing."""
    resolved: dict[str, str] = {}
    missing: list[str] = []
    for name in names:
        value = resolve_secret(name, environ)
        if value is None:
            missing.append(name)
        else:
            resolved[name] = value
    if missing:
        where = secrets_dir(environ)
        raise FloeError(
            f"secret{'s' if len(missing) > 1 else ''} not set: {', '.join(missing)}",
            hint=f"export {missing[0]}=... or mount a file named {missing[0]} in {where}",
        )
    return resolved
