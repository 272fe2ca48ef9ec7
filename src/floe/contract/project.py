"""Where things are, resolved from the artifacts file alone."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from floe.contract.io import ARTIFACTS_FILE, DEFAULT_OUTPUT_DIR, load_artifacts
from floe.contract.v1 import ArtifactsV1

ARTIFACTS_ENV = "FLOE_ARTIFACTS_PATH"
PROJECT_DIR_ENV = "FLOE_PROJECT_DIR"


@dataclass(frozen=True)
class CompiledProject:
    """The artifacts and the absolute locations they describe."""

    artifacts: ArtifactsV1
    artifacts_path: Path
    root: Path

    @property
    def output_dir(self) -> Path:
        """Folder holding the artifacts file (``.floe`` by default)."""
        return self.artifacts_path.parent

    @property
    def dbt_project_dir(self) -> Path:
        """The dbt project."""
        return (self.root / self.artifacts.dbt.project_dir).resolve()

    @property
    def manifest_path(self) -> Path:
        """The manifest written by 'dbt parse' at compile time."""
        return self.output_dir / self.artifacts.dbt.manifest_path

    @property
    def profiles_dir(self) -> Path:
        """Folder of the generated profiles.yml."""
        return self.output_dir / self.artifacts.dbt.profiles_dir

    @property
    def target_path(self) -> Path:
        """dbt target folder used by runs."""
        return self.output_dir / self.artifacts.dbt.target_path

    def resolve(self, relative: str) -> Path:
        """A project-relative path from the artifacts, made absolute."""
        path = Path(relative)
        return path if path.is_absolute() else (self.root / path).resolve()


def mounted_artifacts_path() -> Path | None:
    """$FLOE_ARTIFACTS_PATH when set: the artifacts an image or a pod gives, used as they are."""
    value = os.environ.get(ARTIFACTS_ENV)
    return Path(value) if value else None


def default_artifacts_path() -> Path:
    """$FLOE_ARTIFACTS_PATH, else ``.floe/artifacts.json`` in the working directory."""
    return mounted_artifacts_path() or Path(DEFAULT_OUTPUT_DIR) / ARTIFACTS_FILE


def open_compiled_project(artifacts_path: Path | None = None) -> CompiledProject:
    """Load the artifacts and resolve the project root ($FLOE_PROJECT_DIR overrides it)."""
    path = (artifacts_path or default_artifacts_path()).resolve()
    artifacts = load_artifacts(path)
    override = os.environ.get(PROJECT_DIR_ENV)
    root = Path(override).resolve() if override else (path.parent / artifacts.project.root).resolve()
    return CompiledProject(artifacts, path, root)
