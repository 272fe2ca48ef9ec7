"""The source hash: what the compiled artifacts were made from.

It covers the two spec files, every file of the dbt project that dbt reads (not its outputs),
the sources of its ``local:`` packages, the environment name, the values of interpolated
variables and the floe version, so ``floe run`` can tell cheaply whether the artifacts are
stale without parsing anything.

The dbt project is wrapped where it lives, so its folder may hold much that dbt never reads
(the user's own DuckDB file, a virtualenv, notebooks): only dbt_project.yml's source folders
(model-paths, seed-paths, ...) and the project files at its top (dbt_project.yml, the package
files and the lock) are hashed. Inside the source folders every file counts, also in folders
named ``target`` or ``logs``: dbt reads them too.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import floe
from floe.compiler.dbt_deps import LOCK_FILE, PACKAGE_FILES, declared_packages, read_dbt_project_file

# Files at the top of a dbt project that change what dbt parses.
_PROJECT_FILES = ("dbt_project.yml", *PACKAGE_FILES, LOCK_FILE, "selectors.yml")
# dbt_project.yml keys naming source folders, with dbt's defaults (docs-paths defaults to the rest).
_SOURCE_PATH_KEYS: dict[str, tuple[str, ...]] = {
    "model-paths": ("models",),
    "seed-paths": ("seeds",),
    "test-paths": ("tests",),
    "analysis-paths": ("analyses",),
    "macro-paths": ("macros",),
    "snapshot-paths": ("snapshots",),
    "function-paths": ("functions",),
    "docs-paths": (),
    "asset-paths": (),
}
_DEPRECATED_KEYS = {"model-paths": "source-paths", "seed-paths": "data-paths"}
# Folders dbt writes into, or that are not part of the project's sources; skipped at the top of
# a project whose source folders cannot be read from dbt_project.yml (then everything is hashed).
_OUTPUT_DIRS = frozenset({"target", "dbt_packages", "logs", "dbt_modules"})
_NEVER_SOURCES = frozenset({"__pycache__", "node_modules"})


def dbt_source_files(project_dir: Path) -> list[Path]:
    """Files of a dbt project that can change what dbt parses, in a stable order."""
    folders = _source_folders(read_dbt_project_file(project_dir))
    if folders is None:
        return _walk(project_dir, skip_at_top=_OUTPUT_DIRS)
    found = [project_dir / name for name in _PROJECT_FILES if (project_dir / name).is_file()]
    for folder in folders:
        found.extend(_walk(project_dir / folder, skip_at_top=_OUTPUT_DIRS if folder == "." else frozenset()))
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
    _hash_tree(digest, "dbt", dbt_project_dir)
    for local in declared_packages(dbt_project_dir).local_dirs(dbt_project_dir):
        _hash_tree(digest, f"local {os.path.normpath(local)}", local)
    return "sha256:" + digest.hexdigest()


def _hash_tree(digest: Any, label: str, project_dir: Path) -> None:
    for path in dbt_source_files(project_dir):
        digest.update(f"{label} {os.path.relpath(path, project_dir)}\0".encode())
        try:
            digest.update(path.read_bytes())
        except OSError:  # a dangling symlink or an unreadable file: dbt says so when it parses
            digest.update(b"<unreadable>")


def _source_folders(project: dict[str, Any]) -> list[str] | None:
    """Source folders from dbt_project.yml, or None when they are not plain lists of names."""
    if not project:
        return None
    folders: list[str] = []
    for key, default in _SOURCE_PATH_KEYS.items():
        value = project.get(key, project.get(_DEPRECATED_KEYS.get(key, ""), list(default)))
        if not isinstance(value, list) or not all(isinstance(v, str) and "{{" not in v for v in value):
            return None
        folders.extend(os.path.normpath(v) for v in value if os.path.normpath(v) not in folders)
    # A folder inside another one is walked with it.
    return [f for f in folders if not any(f != o and Path(f).is_relative_to(o) for o in folders)]


def _walk(top: Path, *, skip_at_top: frozenset[str]) -> list[Path]:
    found: list[Path] = []
    for current, dirs, files in os.walk(top):
        skipped = _NEVER_SOURCES | (skip_at_top if Path(current) == top else frozenset())
        dirs[:] = sorted(d for d in dirs if d not in skipped and not d.startswith("."))
        found.extend(Path(current, name) for name in sorted(files) if not name.startswith("."))
    return found
