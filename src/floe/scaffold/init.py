"""Create a floe project from a template, or around an existing dbt project.

Nothing is overwritten without ``force``; with it, only the files the template writes are
replaced, and nothing else in the folder is touched. Files of a wrapped dbt project are never
changed.
"""

from __future__ import annotations

import re
import shutil
import sys
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from floe.errors import FloeError

if TYPE_CHECKING:
    # Only an annotation: importlib.resources.abc is new in 3.11, and floe supports 3.10,
    # where the same protocol lives in importlib.abc (deprecated there from 3.12).
    if sys.version_info >= (3, 11):
        from importlib.resources.abc import Traversable
    else:
        from importlib.abc import Traversable

TEMPLATES = ("minimal", "ecommerce")
_RENAMED = {"gitignore.txt": ".gitignore"}
_NOT_COPIED = {"target", "logs", "dbt_packages", ".git", "__pycache__", ".venv"}
_PLACEHOLDER = "__PROJECT_NAME__"


@dataclass
class InitResult:
    """What ``floe init`` did."""

    root: Path
    name: str
    written: list[Path] = field(default_factory=list)
    dbt_project_dir: Path | None = None
    copied_from: Path | None = None


def project_name_for(directory: Path) -> str:
    """A valid pipeline name from a folder name: lower case, underscores, no leading digit."""
    name = re.sub(r"[^A-Za-z0-9_]+", "_", directory.resolve().name).strip("_").lower() or "pipeline"
    return f"p_{name}" if name[0].isdigit() else name


def init_project(
    target: Path,
    *,
    template: str = "minimal",
    from_dbt: Path | None = None,
    force: bool = False,
) -> InitResult:
    """Create a project in ``target``.

    Args:
        target: Folder to create (it may exist, but must not hold the files we write).
        template: Template name (see ``TEMPLATES``).
        from_dbt: An existing dbt project to wrap instead of the template's dbt project.
        force: Replace files that already exist.

    Raises:
        FloeError: unknown template, files in the way, or not a dbt project.
    """
    if template not in TEMPLATES:
        raise FloeError(f"unknown template '{template}'", hint=f"choose one of: {', '.join(TEMPLATES)}")
    root = target.resolve()
    name = project_name_for(root)
    source = files("floe.templates").joinpath(template)
    planned: dict[Path, str] = {}
    for relative, text in _template_files(source):
        if from_dbt is not None and relative.parts[0] == "dbt":
            continue
        planned[root / _RENAMED.get(relative.name, relative.as_posix())] = text.replace(_PLACEHOLDER, name)
    result = InitResult(root, name)
    dbt_dir = root / "dbt"
    if from_dbt is not None:
        dbt_dir, copy_from = _locate_dbt_project(from_dbt.resolve(), root)
        planned[root / "floe.yaml"] = _wrapping_pipeline(name, dbt_dir.relative_to(root).as_posix() or ".")
        if (root / ".gitignore").exists():
            planned.pop(root / ".gitignore", None)  # never edit a file the user already has
        result.copied_from = copy_from
    existing = [path for path in planned if path.exists()]
    copy_from = result.copied_from
    if copy_from is not None and dbt_dir.exists():
        existing.append(dbt_dir)
    if existing and not force:
        shown = ", ".join(str(path.relative_to(root)) for path in existing[:5])
        raise FloeError(f"{root}: would overwrite {shown}", hint="choose another folder, or pass --force")
    for path, text in planned.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        result.written.append(path)
    if copy_from is not None:
        shutil.copytree(copy_from, dbt_dir, dirs_exist_ok=force,
                        ignore=shutil.ignore_patterns(*_NOT_COPIED, "profiles.yml"))
    result.dbt_project_dir = dbt_dir
    return result


def _template_files(folder: Traversable, prefix: Path = Path()) -> list[tuple[Path, str]]:
    found: list[tuple[Path, str]] = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name in {"__pycache__", "__init__.py"}:
            continue
        if entry.is_dir():
            found.extend(_template_files(entry, prefix / entry.name))
        else:
            found.append((prefix / entry.name, entry.read_text(encoding="utf-8")))
    return found


def _locate_dbt_project(path: Path, root: Path) -> tuple[Path, Path | None]:
    """Where the wrapped project will live: in place when inside ``root``, else copied to dbt/."""
    project_file = path / "dbt_project.yml"
    if not project_file.is_file():
        raise FloeError(f"{path}: no dbt_project.yml here", hint="pass the folder that holds dbt_project.yml")
    try:
        document = yaml.safe_load(project_file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise FloeError(f"{project_file}: not valid YAML ({exc})") from None
    if not isinstance(document, dict) or "name" not in document:
        raise FloeError(f"{project_file}: not a dbt project file (no 'name')")
    if path == root or path.is_relative_to(root):
        return path, None
    return root / "dbt", path


def _wrapping_pipeline(name: str, dbt_path: str) -> str:
    return (
        "# The pipeline: wraps an existing dbt project. Connection details live in platform.yaml.\n"
        f"name: {name}\n"
        'version: "0.1.0"\n\n'
        "transforms:\n"
        "  - type: dbt\n"
        f"    path: {dbt_path if dbt_path == '.' else './' + dbt_path}\n"
    )
