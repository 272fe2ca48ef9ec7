"""``floe dev --check``: is the dev stack of this project up, and is every part of it healthy?"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from floe.orchestration.dev import STATE_FILE, DevState
from floe.platform.dagster_probe import ProbeError, daemons, locations, server_info
from floe.processes import pid_alive


@dataclass(frozen=True)
class Part:
    """One part of the stack and how it is."""

    name: str
    healthy: bool
    detail: str


@dataclass(frozen=True)
class DevHealth:
    """The whole stack: running at all, and each part."""

    running: bool
    url: str | None
    parts: list[Part] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return self.running and all(part.healthy for part in self.parts)


def check_dev(folder: Path) -> DevHealth:
    """Read ``folder/state.json`` and probe what it describes."""
    state = DevState.read(folder / STATE_FILE)
    if state is None:
        return DevHealth(running=False, url=None)
    parts = [Part(f"process {name}", pid_alive(pid), f"pid {pid}" + ("" if pid_alive(pid) else " is gone"))
             for name, pid in state.pids.items()]
    try:
        info = server_info(state.url)
        parts.append(Part("ui", True, f"{state.url} (Dagster {info.get('dagster_version')})"))
        for location in locations(state.url):
            loaded = location.status == "LOADED" and not location.error
            parts.append(Part(f"code location {location.name}", loaded, location.error or location.status.lower()))
        for daemon in daemons(state.url):
            if daemon.required:
                parts.append(Part(f"daemon {daemon.kind.lower()}", daemon.healthy,
                                  "heartbeat fresh" if daemon.healthy else "no recent heartbeat"))
    except ProbeError as exc:
        parts.append(Part("ui", False, str(exc)))
    runs = runs_part(folder.parent)
    if runs is not None:
        parts.append(runs)
    return DevHealth(running=True, url=state.url, parts=parts)


def runs_part(output_dir: Path) -> Part | None:
    """Runs left STARTED by a dead process hold the run queue: mark them failed, say which."""
    from floe.contract.io import ARTIFACTS_FILE

    artifacts = output_dir / ARTIFACTS_FILE
    if not artifacts.is_file():
        return None
    from floe.contract.project import open_compiled_project
    from floe.orchestration.stale_runs import close_stale_runs

    try:
        stale, _warnings = close_stale_runs(open_compiled_project(artifacts))
    except Exception as exc:  # noqa: BLE001 - reported as an unhealthy part
        return Part("runs", False, f"could not check the runs: {exc}")
    if not stale:
        return Part("runs", True, "none left running by a dead process")
    return Part("runs", True, f"marked failed, their process was gone: {', '.join(r.run_id[:8] for r in stale)}")
