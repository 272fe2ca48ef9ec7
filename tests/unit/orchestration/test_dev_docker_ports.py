"""`floe dev --docker` checks the host ports of the services its profiles start, before Compose runs."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from floe.errors import FloeError
from floe.orchestration.dev_docker import ComposeStack


@pytest.mark.parametrize("profile", ["demo", "cube"])
def test_a_taken_cube_port_is_reported_when_the_profile_starts_cube(tmp_path: Path, profile: str) -> None:
    compose = tmp_path / "docker" / "docker-compose.yml"
    compose.parent.mkdir()
    compose.write_text("services: {}\n")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        (compose.parent / ".env").write_text(f"CUBE_HOST_PORT={port}\n")
        with pytest.raises(FloeError) as raised:
            ComposeStack(compose, port=0, profiles=(profile,)).start()
    assert f"port {port}" in str(raised.value) and "CUBE_HOST_PORT" in (raised.value.hint or "")
