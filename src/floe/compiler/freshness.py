"""Decide whether the compiled artifacts still match their sources, and recompile if not."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from floe.compiler.hashing import source_hash
from floe.contract.io import ARTIFACTS_FILE, load_artifacts
from floe.errors import ContractError, FloeError


@dataclass(frozen=True)
class Freshness:
    """Where the artifacts are, and whether (and why) they were just compiled."""

    artifacts_path: Path
    compiled: bool
    reason: str


def ensure_compiled(
    pipeline_file: Path,
    *,
    environment: str | None = None,
    platform_file: Path | None = None,
    output_dir: Path | None = None,
) -> Freshness:
    """Compile when the artifacts are missing, for another environment, or stale.

    When floe.yaml is absent but artifacts exist, the artifacts are used as they are: the
    runtime needs nothing else.
    """
    out = output_dir or pipeline_file.parent / ".floe"
    artifacts_path = out / ARTIFACTS_FILE
    reason = _stale_reason(pipeline_file, platform_file, artifacts_path, environment)
    if not pipeline_file.is_file() and artifacts_path.is_file() and reason is None:
        return Freshness(artifacts_path, False, f"{pipeline_file} not found; using compiled artifacts")
    if reason is None:
        return Freshness(artifacts_path, False, "up to date")
    if not pipeline_file.is_file():
        raise FloeError(f"{pipeline_file}: not found, and no compiled artifacts in {out}",
                        hint="run 'floe init NAME' to create a project, or cd into one")
    from floe.compiler.compile import compile_project
    from floe.spec.project import load_project

    project = load_project(pipeline_file, environment=environment, platform_path=platform_file)
    result = compile_project(project, out)
    return Freshness(result.artifacts_path, True, reason)


def _stale_reason(
    pipeline_file: Path, platform_file: Path | None, artifacts_path: Path, environment: str | None
) -> str | None:
    if not artifacts_path.is_file():
        return "no compiled artifacts yet"
    if not pipeline_file.is_file():
        return None if environment is None else _environment_only(artifacts_path, environment)
    try:
        artifacts = load_artifacts(artifacts_path)
    except ContractError as exc:
        return f"artifacts unreadable ({exc.message})"
    chosen = environment or os.environ.get("FLOE_ENV")
    if chosen is not None and chosen != artifacts.environment_name:
        return f"compiled for '{artifacts.environment_name}', running '{chosen}'"
    from floe.spec.project import default_platform_path

    root = (artifacts_path.parent / artifacts.project.root).resolve()
    current = source_hash(
        spec_files=[pipeline_file, platform_file or default_platform_path(pipeline_file)],
        dbt_project_dir=(root / artifacts.dbt.project_dir).resolve(),
        environment=artifacts.environment_name,
        variables=artifacts.variables,
        environ=os.environ,
    )
    return None if current == artifacts.source_hash else "sources changed since the last compile"


def _environment_only(artifacts_path: Path, environment: str) -> str | None:
    artifacts = load_artifacts(artifacts_path)
    if artifacts.environment_name != environment:
        raise FloeError(
            f"the artifacts are compiled for '{artifacts.environment_name}', not '{environment}', "
            "and floe.yaml is not here to compile again",
            hint="compile for that environment where the specs are, then copy .floe/",
        )
    return None
