"""The processes below a process, read from /proc: what a test checks is gone after a stop."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (from /proc), however deep."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found: set[int] = set()
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.add(child)
            stack.append(child)
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def read_until_ready(process: subprocess.Popen[str], what: str, timeout_s: float) -> str:
    """Read ``process``'s stdout until a line starts with "ready in" (floe dev's banner); returns
    what it printed. Fails the test, with that output and its stderr, when it exits first or is
    not ready within ``timeout_s``."""
    import pytest

    assert process.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            pytest.fail(f"{what} exited {process.returncode}: {''.join(seen)}\n"
                        f"{process.stderr.read()[-4000:] if process.stderr else ''}")
        seen.append(line)
        if line.startswith("ready in"):
            return "".join(seen)
    pytest.fail(f"{what} was not ready within {timeout_s:.0f} s: {''.join(seen)}")
