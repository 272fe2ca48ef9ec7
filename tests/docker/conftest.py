"""Fixtures of the image and Compose tests: the docker/ folder, parsed files, a generated .env."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from floe.platform.compose_env import read_env_file, write_compose_env
from tests.conftest import REPO_ROOT, SHARED

DOCKER_DIR = REPO_ROOT / "docker"
COMPOSE_FILE = DOCKER_DIR / "docker-compose.yml"
COMPOSE_SCHEMA = SHARED / "reference" / "compose" / "compose-spec.json"

# ${VAR}, ${VAR:?message}, ${VAR:-default}; '$$' is an escaped dollar for the container's shell.
INTERPOLATION = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}")


def interpolate(text: str, values: dict[str, str]) -> str:
    """Resolve Compose ${VAR...} references the way Compose does with an .env file."""

    def replace(match: re.Match[str]) -> str:
        name, operator, argument = match.group(1), match.group(2), match.group(3)
        if name in values and (values[name] or not operator or not operator.startswith(":")):
            return values[name]
        if operator in (":-", "-"):
            return argument or ""
        raise KeyError(f"${{{name}}} is not set ({argument})")

    return INTERPOLATION.sub(replace, text).replace("$$", "$")


@pytest.fixture(scope="session")
def compose_text() -> str:
    return COMPOSE_FILE.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def compose_raw(compose_text: str) -> dict[str, Any]:
    """The Compose file as written (references not resolved)."""
    document = yaml.safe_load(compose_text)
    assert isinstance(document, dict)
    return document


@pytest.fixture(scope="session")
def env_values(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The values of a .env file that floe generates (floe.platform.compose_env)."""
    path = tmp_path_factory.mktemp("compose") / ".env"
    write_compose_env(path)
    return read_env_file(path)


@pytest.fixture(scope="session")
def compose(compose_text: str, env_values: dict[str, str]) -> dict[str, Any]:
    """The Compose file as Compose sees it with floe's generated .env."""
    document = yaml.safe_load(interpolate(compose_text, env_values))
    assert isinstance(document, dict)
    return document
