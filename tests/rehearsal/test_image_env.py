"""The rehearsed image's Python environment is the one uv.lock pins.

The rehearsal installs it with the Dockerfile's own ``uv export`` and ``uv pip install`` lines
(tests/rehearsal/image.py), so this is what ``docker build`` installs, short of the network.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.rehearsal.image import CACHE
from tests.rehearsal.pods import Image


def _pinned() -> dict[str, str]:
    """Distribution -> version, from the constraints the Dockerfile's export wrote (markers of this Python)."""
    pinned: dict[str, str] = {}
    for line in (CACHE / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate():
                pinned[canonicalize_name(requirement.name)] = str(requirement.specifier).removeprefix("==")
    return pinned


@pytest.mark.process
def test_every_installed_distribution_is_at_the_version_uv_lock_pins(image: Image) -> None:
    pinned = _pinned()
    frozen = subprocess.run([str(Path(sys.executable).with_name("uv")), "pip", "freeze", "--python",
                             str(image.venv / "bin" / "python")], capture_output=True, text=True, check=True)
    installed = dict(line.split("==", 1) for line in frozen.stdout.splitlines() if "==" in line)
    assert {"dagster", "dbt-core", "dbt-duckdb", "pyiceberg", "dagster-webserver"} <= {
        canonicalize_name(name) for name in installed}
    off = {name: (version, pinned.get(canonicalize_name(name))) for name, version in installed.items()
           if canonicalize_name(name) != "floe-runtime" and pinned.get(canonicalize_name(name)) != version}
    assert not off, f"installed (left) against uv.lock (right): {off}"
