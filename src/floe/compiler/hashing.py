"""The source hash: what the compiled artifacts were made from.

It covers the two spec files, every file of the dbt project that dbt reads (not its outputs),
the environment name, the values of interpolated variables and the floe version, so
``floe run`` can tell cheaply whether the artifacts are stale without parsing anything.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import floe

# Folders dbt writes into, or that are not part of the project's sources.
_SKIPPED_DIRS = frozenset({"target", "dbt_packages", "logs", "dbt_modules", "__pycache__", "node_modules"})


def dbt_source_files(project_dir: Path) -> list[Path]:
    """Files of a dbt project that can change what dbt parses, in a stable order."""
    found: list[Path] = []
    for current, dirs, files in os.walk(project_dir):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS and not d.startswith("."))
        found.extend(Path(current, name) for name in sorted(files) if not name.startswith("."))
    return found


def source_hash(
    *,
    spec_files: Iterable[Path],
    dbt_project_dir: Path,
    environment: str,
    variables: Iterable[str],
    environ: Mapping[str, str],
) -> str:
    """sha256 over everything a compile depends on."""
    digest = hashlib.sha256()
    digest.update(f"floe {floe.__version__}\0env {environment}\0".encode())
    for name in sorted(variables):
        digest.update(f"var {name}={environ.get(name, '')}\0".encode())
    for path in spec_files:
        digest.update(f"spec {path.name}\0".encode())
        digest.update(path.read_bytes() if path.is_file() else b"<missing>")
    for path in dbt_source_files(dbt_project_dir):
        digest.update(f"dbt {path.relative_to(dbt_project_dir).as_posix()}\0".encode())
        digest.update(path.read_bytes())
    return "sha256:" + digest.hexdigest()
