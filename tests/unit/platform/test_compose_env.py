"""The Compose .env file: generated credentials, additive rewrites, mode 0600."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from floe.errors import FloeError
from floe.platform.compose_env import (
    SECRET_KEYS,
    default_settings,
    generate_secret,
    read_env_file,
    write_compose_env,
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_file_holds_every_secret_and_setting_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "docker" / ".env"
    result = write_compose_env(path)
    values = read_env_file(path)
    assert result.created and result.changed
    assert set(values) == set(SECRET_KEYS) | set(default_settings())
    assert result.added_secrets == SECRET_KEYS
    assert result.kept == ()
    assert mode(path) == 0o600
    for key in SECRET_KEYS:
        assert len(values[key]) >= 40
        assert values[key].replace("-", "").replace("_", "").isalnum()  # no quoting needed anywhere
    assert len({values[key] for key in SECRET_KEYS}) == len(SECRET_KEYS)
    assert values["FLOE_ENV"] == "compose" and values["DAGSTER_HOST_PORT"] == "3000"


def test_mode_stays_0600_under_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        path = tmp_path / ".env"
        write_compose_env(path)
    finally:
        os.umask(old)
    assert mode(path) == 0o600


def test_two_files_get_different_credentials(tmp_path: Path) -> None:
    write_compose_env(tmp_path / "a.env")
    write_compose_env(tmp_path / "b.env")
    a, b = read_env_file(tmp_path / "a.env"), read_env_file(tmp_path / "b.env")
    assert all(a[key] != b[key] for key in SECRET_KEYS)


def test_second_run_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    write_compose_env(path)
    before = path.read_bytes()
    result = write_compose_env(path)
    assert not result.changed and result.added == ()
    assert set(result.kept) == set(SECRET_KEYS) | set(default_settings())
    assert path.read_bytes() == before


def test_existing_values_and_comments_are_kept_and_missing_keys_appended(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("# mine\nPOSTGRES_PASSWORD='kept-secret'\nDAGSTER_HOST_PORT=3300\nOTHER=x", encoding="utf-8")
    path.chmod(0o600)
    result = write_compose_env(path)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# mine\nPOSTGRES_PASSWORD='kept-secret'\nDAGSTER_HOST_PORT=3300\nOTHER=x\n")
    values = read_env_file(path)
    assert values["POSTGRES_PASSWORD"] == "kept-secret"
    assert values["DAGSTER_HOST_PORT"] == "3300"
    assert values["OTHER"] == "x"
    assert "POSTGRES_PASSWORD" in result.kept and "DAGSTER_HOST_PORT" in result.kept
    assert "POSTGRES_PASSWORD" not in result.added
    assert set(result.added_secrets) == set(SECRET_KEYS) - {"POSTGRES_PASSWORD"}
    assert text.count("POSTGRES_PASSWORD=") == 1
    assert not result.created and result.changed and not result.mode_fixed


def test_a_world_readable_file_is_restricted_even_when_complete(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    write_compose_env(path)
    path.chmod(0o644)
    result = write_compose_env(path)
    assert result.mode_fixed and result.changed and result.added == ()
    assert mode(path) == 0o600


def test_a_world_readable_file_with_missing_keys_is_replaced_private(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("FLOE_ENV=prod\n", encoding="utf-8")
    path.chmod(0o644)
    result = write_compose_env(path)
    assert result.mode_fixed and mode(path) == 0o600
    assert read_env_file(path)["FLOE_ENV"] == "prod"


def test_settings_choose_values_for_new_keys_only(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("CUBE_HOST_PORT=4100\n", encoding="utf-8")
    settings = {**default_settings(environment="staging"), "DAGSTER_HOST_PORT": "3333", "CUBE_HOST_PORT": "4999"}
    write_compose_env(path, settings=settings)
    values = read_env_file(path)
    assert values["DAGSTER_HOST_PORT"] == "3333"
    assert values["CUBE_HOST_PORT"] == "4100"
    assert values["FLOE_ENV"] == "staging"


def test_a_setting_cannot_replace_a_generated_secret(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    write_compose_env(path, settings={"CUBEJS_API_SECRET": "weak"})
    assert read_env_file(path)["CUBEJS_API_SECRET"] != "weak"


def test_no_temporary_file_is_left_behind(tmp_path: Path) -> None:
    write_compose_env(tmp_path / ".env")
    assert [p.name for p in tmp_path.iterdir()] == [".env"]


@pytest.mark.parametrize("settings", [{"BAD KEY": "1"}, {"OK": "two\nlines"}])
def test_invalid_settings_are_refused(tmp_path: Path, settings: dict[str, str]) -> None:
    with pytest.raises(FloeError, match=r"invalid \.env setting"):
        write_compose_env(tmp_path / ".env", settings=settings)
    assert not (tmp_path / ".env").exists()


def test_a_malformed_existing_file_is_reported_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("A=1\nthis is not a pair\n", encoding="utf-8")
    with pytest.raises(FloeError, match=r"\.env:2: expected KEY=VALUE"):
        write_compose_env(path)
    assert path.read_text(encoding="utf-8") == "A=1\nthis is not a pair\n"


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FloeError, match="is a directory"):
        write_compose_env(tmp_path)


def test_read_env_file_understands_export_quotes_and_blanks(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text('\n# c\nexport A="x y"\nB = 2\nC=\n', encoding="utf-8")
    assert read_env_file(path) == {"A": "x y", "B": "2", "C": ""}
    assert read_env_file(tmp_path / "missing") == {}


def test_generated_secrets_are_long_and_distinct() -> None:
    values = {generate_secret() for _ in range(50)}
    assert len(values) == 50 and min(len(v) for v in values) >= 43
