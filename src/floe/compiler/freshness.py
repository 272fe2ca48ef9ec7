"""Decide whether the compiled artifacts still match their sources, and recompile if not."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from floe.compiler.hashing import source_hash
from floe.contract.io import ARTIFACTS_FILE, load_artifacts
from floe.contract.project import ARTIFACTS_ENV, mounted_artifacts_path
from floe.errors import ContractError, FloeError

PARSED_ROOT = "parsed_root.txt"
"""In the dbt target folder: the dbt project's absolute path when it was last parsed."""


@dataclass(frozen=True)
class Freshness:
    """Where the artifacts are, and whether (and why) they were just compiled."""

    artifacts_path: Path
    compiled: bool
    reason: str
    # What the compile warned about (e.g. a source over a seed's table), for the user to see.
    warnings: tuple[str, ...] = ()


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
    from floe.spec.project import spec_present

    out = output_dir or pipeline_file.parent / ".floe"
    artifacts_path = out / ARTIFACTS_FILE
    reason = _stale_reason(pipeline_file, platform_file, artifacts_path, environment)
    # A floe.yaml that is there but is no file (a folder, a pipe) is loaded, to say what it is.
    present = spec_present(pipeline_file)
    if not present and artifacts_path.is_file() and reason is None:
        return Freshness(artifacts_path, False, f"{pipeline_file} not found; using compiled artifacts")
    if reason is None:
        return Freshness(artifacts_path, False, "up to date")
    if not present:
        raise FloeError(f"{pipeline_file}: not found, and no compiled artifacts in {out}",
                        hint="run 'floe init NAME' to create a project, or cd into one")
    from floe.compiler.compile import compile_project
    from floe.spec.project import load_project

    project = load_project(pipeline_file, environment=environment, platform_path=platform_file)
    result = compile_project(project, out)
    return Freshness(result.artifacts_path, True, "; ".join([reason, *result.notes]), tuple(result.project_warnings))


def runtime_artifacts(
    pipeline_file: Path,
    *,
    environment: str | None = None,
    platform_file: Path | None = None,
    output_dir: Path | None = None,
    artifacts_path: Path | None = None,
) -> Freshness:
    """The artifacts a runtime command runs from: given ones as they are, else compiled ones.

    The rule every runtime command follows (``floe preflight`` too): an explicit ``--artifacts``
    path, else ``--output`` (compile into that folder), else $FLOE_ARTIFACTS_PATH, else compile
    from floe.yaml. $FLOE_ARTIFACTS_PATH is what an image or a pod sets: the artifacts are
    mounted read-only there, so they are used as they are and never recompiled, even when the
    image's own floe.yaml sits in the working directory.
    """
    source = "--artifacts"
    if artifacts_path is None and output_dir is None and (mounted := mounted_artifacts_path()):
        artifacts_path, source = mounted, f"${ARTIFACTS_ENV}"
    if artifacts_path is None:
        return ensure_compiled(pipeline_file, environment=environment, platform_file=platform_file,
                               output_dir=output_dir)
    try:
        artifacts = load_artifacts(artifacts_path)
    except ContractError as exc:
        raise FloeError(f"{source} {artifacts_path}: {_without_path(exc.message, artifacts_path)}",
                        hint=f"point {source} at an artifacts.json written by 'floe compile' "
                             "(in Kubernetes: the artifacts ConfigMap mounted into the pod), or unset it "
                             "to compile from floe.yaml") from None
    if environment is not None and environment != artifacts.environment_name:
        raise FloeError(f"{artifacts_path} is compiled for environment '{artifacts.environment_name}', "
                        f"not '{environment}'",
                        hint=f"drop --env, or compile for '{environment}' ('floe compile --env {environment}')")
    return Freshness(artifacts_path, False, f"using the compiled artifacts at {artifacts_path} ({source})")


def _without_path(message: str, path: Path) -> str:
    prefix = f"{path}: "
    return message[len(prefix):] if message.startswith(prefix) else message


def _stale_reason(
    pipeline_file: Path, platform_file: Path | None, artifacts_path: Path, environment: str | None
) -> str | None:
    from floe.spec.project import spec_files_of, spec_present

    if not artifacts_path.is_file():
        return "no compiled artifacts yet"
    if not spec_present(pipeline_file):
        return None if environment is None else _environment_only(artifacts_path, environment)
    spec_files = spec_files_of(pipeline_file, platform_file, os.environ)
    for spec_file in spec_files:
        if spec_present(spec_file) and not spec_file.is_file():
            # A pipe (--platform <(...)) can be read once, by the compile: never hashed, so never
            # known to be unchanged. A folder fails the compile with its own message.
            return f"{spec_file} is not a regular file"
    try:
        artifacts = load_artifacts(artifacts_path)
    except ContractError as exc:
        return f"artifacts unreadable ({exc.message})"
    chosen = environment or os.environ.get("FLOE_ENV")
    if chosen is not None and chosen != artifacts.environment_name:
        return f"compiled for '{artifacts.environment_name}', running '{chosen}'"
    root = (artifacts_path.parent / artifacts.project.root).resolve()
    moved = _moved_since_parse(artifacts_path.parent / artifacts.dbt.target_path / PARSED_ROOT,
                               (root / artifacts.dbt.project_dir).resolve())
    if moved is not None:
        return moved
    current = source_hash(
        spec_files=spec_files,
        dbt_project_dir=(root / artifacts.dbt.project_dir).resolve(),
        environment=artifacts.environment_name,
        variables=artifacts.variables,
        environ=os.environ,
    )
    return None if current == artifacts.source_hash else "sources changed since the last compile"


def _moved_since_parse(marker: Path, dbt_project_dir: Path) -> str | None:
    """A reason to compile when dbt parsed the project at another path (it was moved or copied):
    dbt's parse results name files by absolute path. Artifacts without the marker are trusted."""
    try:
        parsed_at = marker.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    if not parsed_at or Path(parsed_at) == dbt_project_dir:
        return None
    return f"the project moved since the last compile (dbt parsed it at {parsed_at})"


def _environment_only(artifacts_path: Path, environment: str) -> str | None:
    artifacts = load_artifacts(artifacts_path)
    if artifacts.environment_name != environment:
        raise FloeError(
            f"the artifacts are compiled for '{artifacts.environment_name}', not '{environment}', "
            "and floe.yaml is not here to compile again",
            hint="compile for that environment where the specs are, then copy .floe/",
        )
    return None
