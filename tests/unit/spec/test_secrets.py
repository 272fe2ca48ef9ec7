"""Secret references: the model, credential detection, and resolution at run time."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from floe.errors import FloeError
from floe.spec.secrets import (
    DEFAULT_SECRETS_DIR,
    SecretRef,
    is_credential_key,
    resolve_secret,
    resolve_secrets,
    secrets_dir,
    url_has_password,
)


def test_secret_ref_model_and_dbt_reference() -> None:
    ref = SecretRef(secret_ref="PG_PASSWORD")
    assert ref.dbt_reference() == "{{ env_var('PG_PASSWORD') }}"


@pytest.mark.parametrize("name", ["", "1ABC", "A-B", "A B", "x'y", "A}}{{"])
def test_secret_names_must_be_identifiers(name: str) -> None:
    # The name ends up inside a Jinja string: anything else could break out of it.
    with pytest.raises(ValidationError):
        SecretRef(secret_ref=name)


def test_secret_ref_refuses_other_keys() -> None:
    with pytest.raises(ValidationError):
        SecretRef.model_validate({"secret_ref": "A", "value": "hunter2"})


@pytest.mark.parametrize(
    "key",
    ["password", "PASSWORD", "passwd", "pwd", "token", "api_key", "client_secret", "private_key",
     "secret_access_key", "db_password", "github_token", "stripe_api_key", "ssh_private_key",
     "connection_string", "keyfile_json", "Service_Secret"],
)
def test_credential_keys(key: str) -> None:
    assert is_credential_key(key)


@pytest.mark.parametrize(
    "key", ["user", "host", "secret_ref", "keyfile", "access_key_id", "client_id", "tokens_per_minute",
            "password_hint_shown", "path"],
)
def test_non_credential_keys(key: str) -> None:
    assert not is_credential_key(key)


@pytest.mark.parametrize(
    "url",
    ["postgresql://user:hunter2@db/cat", "https://u:p@example.com", "POSTGRES://u:p@h",
     "mysql+pymysql://u:${PW}@h/db", "postgresql://u:12345@h/db",
     "s3://AKIA:abc/def@bucket/x"],  # secret keys often hold an unencoded '/'

)
def test_urls_with_passwords(url: str) -> None:
    assert url_has_password(url)


@pytest.mark.parametrize(
    "url",
    ["postgresql://user@db/cat", "postgresql://db:5432/cat", "https://example.com/a:b@c",
     "sqlite:///.floe/catalog.db", "user:pass@host", "not a url", "http://host/path?x=a:b@c",
     "http://host?x=a:b@c", "postgresql://u:@h/db",
     "https://host:443/people/ann@example.com", "postgresql://db:5432/cat?application_name=a@b"],
)
def test_urls_without_passwords(url: str) -> None:
    assert not url_has_password(url)


def test_secrets_dir_default_and_override() -> None:
    assert secrets_dir({}) == Path(DEFAULT_SECRETS_DIR)
    assert secrets_dir({"FLOE_SECRETS_DIR": "/mnt/s"}) == Path("/mnt/s")


def test_resolve_prefers_the_environment(tmp_path: Path) -> None:
    (tmp_path / "PW").write_text("from-file\n", encoding="utf-8")
    env = {"PW": "from-env", "FLOE_SECRETS_DIR": str(tmp_path)}
    assert resolve_secret("PW", env) == "from-env"


def test_resolve_reads_a_mounted_file_without_its_trailing_newline(tmp_path: Path) -> None:
    (tmp_path / "PW").write_text("s3cret \n\n", encoding="utf-8")
    assert resolve_secret("PW", {"FLOE_SECRETS_DIR": str(tmp_path)}) == "s3cret "


def test_resolve_missing_returns_none(tmp_path: Path) -> None:
    (tmp_path / "DIR").mkdir()
    env = {"FLOE_SECRETS_DIR": str(tmp_path)}
    assert resolve_secret("NOPE", env) is None
    assert resolve_secret("DIR", env) is None  # a directory is not a secret
    assert resolve_secret("NOPE", {"FLOE_SECRETS_DIR": str(tmp_path / "missing")}) is None


def test_resolve_secrets_lists_every_missing_one(tmp_path: Path) -> None:
    env = {"A": "1", "FLOE_SECRETS_DIR": str(tmp_path)}
    assert resolve_secrets(["A"], env) == {"A": "1"}
    with pytest.raises(FloeError) as caught:
        resolve_secrets(["A", "B", "C"], env)
    assert caught.value.message == "secrets not set: B, C"
    assert caught.value.hint == f"export B=... or mount a file named B in {tmp_path}"


def test_resolve_secrets_singular_message(tmp_path: Path) -> None:
    with pytest.raises(FloeError) as caught:
        resolve_secrets(["B"], {"FLOE_SECRETS_DIR": str(tmp_path)})
    assert caught.value.message == "secret not set: B"
