"""``floe dev`` with a Docker engine: the Compose stack of ``docker/docker-compose.yml``.

floe writes the stack's ``.env`` (random credentials on first use, never changed after),
checks that the host ports are free, runs ``docker compose up --wait`` and prints the URLs;
Ctrl-C runs ``docker compose down``. Without an engine, ``floe dev`` uses the native stack.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from floe.errors import FloeError
from floe.orchestration.dev import free_port, port_in_use
from floe.platform.compose_env import default_settings, read_env_file, write_compose_env

COMPOSE_FILE = Path("docker") / "docker-compose.yml"
# Host-port keys of the .env and what listens behind each, for the URLs and conflict messages.
SERVICE_PORTS = {
    "DAGSTER_HOST_PORT": "Dagster UI",
    "JAEGER_HOST_PORT": "Jaeger UI",
    "MARQUEZ_WEB_HOST_PORT": "Marquez web",
    "MARQUEZ_API_HOST_PORT": "Marquez API",
    "OTLP_GRPC_HOST_PORT": "OTLP gRPC",
    "OTLP_HTTP_HOST_PORT": "OTLP HTTP",
    "CUBE_HOST_PORT": "Cube API",
}


def docker_engine_answers(timeout_s: float = 5.0) -> bool:
    """Whether a Docker engine answers (the client alone, as on many CI machines, is not enough)."""
    try:
        result = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True,
                                timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0 and bool(result.stdout.strip())


def find_compose_file(start: Path) -> Path | None:
    """``docker/docker-compose.yml`` in ``start`` or one of its parents."""
    for folder in [start, *start.parents]:
        candidate = folder / COMPOSE_FILE
        if candidate.is_file():
            return candidate
    return None


@dataclass
class ComposeStack:
    """The Compose stack of one compose file, with its .env beside it."""

    compose_file: Path
    port: int = 3000
    profiles: Sequence[str] = ()

    @property
    def env_file(self) -> Path:
        return self.compose_file.parent / ".env"

    def _command(self, *args: str) -> list[str]:
        command = ["docker", "compose", "-f", str(self.compose_file), "--env-file", str(self.env_file)]
        for profile in self.profiles:
            command += ["--profile", profile]
        return [*command, *args]

    def start(self, on_step: Callable[[str], None] = lambda _: None) -> dict[str, str]:
        """Write the .env, check ports, bring the stack up and wait for health; the URLs by name.

        Raises:
            FloeError: A host port is taken, or ``docker compose up`` fails.
        """
        result = write_compose_env(self.env_file, settings={**default_settings(),
                                                            "DAGSTER_HOST_PORT": str(self.port)})
        on_step(f"{'wrote' if result.created else 'using'} {self.env_file} (credentials stay in that file)")
        settings = read_env_file(self.env_file)
        # Cube starts with the cube profile and with the demo's (docker/docker-compose.yml).
        used = [key for key in SERVICE_PORTS
                if key in settings and (key != "CUBE_HOST_PORT" or {"cube", "demo"} & set(self.profiles))]
        for key in used:
            port = int(settings[key])
            if port_in_use("127.0.0.1", port):
                also = " (or floe dev --port)" if key == "DAGSTER_HOST_PORT" else ""
                raise FloeError(f"port {port} for the {SERVICE_PORTS[key]} is already in use",
                                hint=f"stop what listens there, or set {key}={free_port('127.0.0.1', port + 1)} in "
                                     f"{self.env_file}{also}")
        on_step("docker compose up (building images on first use; this takes minutes)")
        completed = subprocess.run(self._command("up", "--detach", "--build", "--wait"), check=False)
        if completed.returncode != 0:
            raise FloeError(f"docker compose up failed (exit {completed.returncode})",
                            hint=f"docker compose -f {self.compose_file} logs  shows why")
        return {SERVICE_PORTS[key]: f"http://127.0.0.1:{settings[key]}" for key in used
                if not key.startswith("OTLP")}

    def stop(self) -> None:
        """``docker compose down`` (volumes are kept)."""
        subprocess.run(self._command("down"), check=False)
