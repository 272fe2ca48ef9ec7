"""Create a floe project from a template, or around an existing dbt project.

Wrapping refers to the dbt project where it lives: floe.yaml names its folder by a path
relative to floe.yaml (``path: ../shop_dbt``, or ``path: .`` when floe.yaml sits in the dbt
project itself). Nothing of the dbt project is copied, read beyond dbt_project.yml, or changed,
so the next compile sees every edit. The path is kept as the user gave it: a symlinked dbt
project stays named by its link (it is followed when floe compiles), and is resolved here only
when the link cannot be expressed relative to floe.yaml otherwise.

What ``force`` replaces: the files floe generates from the template (floe.yaml and, without a
wrapped project, the template's dbt files). Never platform.yaml when one exists (it holds the
user's environments) and never an existing .gitignore (``.floe/`` is appended to it once).
"""

from __future__ import annotations

import os
import re
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
DEFAULT_TEMPLATE = "minimal"
GITIGNORE = ".gitignore"
PLATFORM_FILE = "platform.yaml"
_RENAMED = {"gitignore.txt": GITIGNORE}
_PLACEHOLDER = "__PROJECT_NAME__"
# What floe itself writes into a project: compiled artifacts and local run state.
_FLOE_IGNORED = ".floe/"
# Folders dbt writes into a project (target-path, log-path, packages-install-path defaults).
_DBT_OUTPUT_DIRS = ("target", "logs", "dbt_packages")


@dataclass
class InitResult:
    """What ``floe init`` did.

    Attributes:
        root: The floe project folder (absolute).
        name: The pipeline name written into floe.yaml.
        written: Files created or replaced.
        kept: Files that existed and were left as they are (an existing platform.yaml).
        appended: Files that existed and got lines added (an existing .gitignore).
        dbt_project_dir: The dbt project the pipeline runs (absolute).
        dbt_path: Its path as floe.yaml names it, relative to floe.yaml.
        wrapped: The dbt project was there before (``--from-dbt``, or init inside it).
        notes: What the user should know about files init left alone.
    """

    root: Path
    name: str
    written: list[Path] = field(default_factory=list)
    kept: list[Path] = field(default_factory=list)
    appended: list[Path] = field(default_factory=list)
    dbt_project_dir: Path | None = None
    dbt_path: str = "./dbt"
    wrapped: bool = False
    notes: list[str] = field(default_factory=list)


def project_name_for(directory: Path) -> str:
    """A valid pipeline name from a folder name: lower case, underscores, no leading digit."""
    name = re.sub(r"[^A-Za-z0-9_]+", "_", directory.resolve().name).strip("_").lower() or "pipeline"
    return f"p_{name}" if name[0].isdigit() else name


def is_dbt_project(directory: Path) -> bool:
    """Whether ``directory`` holds a dbt_project.yml."""
    return (directory / "dbt_project.yml").is_file()


def init_project(
    target: Path,
    *,
    template: str | None = None,
    from_dbt: Path | None = None,
    force: bool = False,
) -> InitResult:
    """Create a project in ``target``.

    When ``target`` is itself a dbt project and neither ``from_dbt`` nor ``template`` is given,
    the project is wrapped in place (``path: .``).

    Args:
        target: Folder to create (it may exist, but must not hold the files we write).
        template: Template name (see ``TEMPLATES``); default 'minimal'.
        from_dbt: An existing dbt project to wrap, where it lives, instead of the template's.
        force: Replace floe.yaml (and the template's dbt files) when they exist.

    Raises:
        FloeError: unknown template, files in the way, or not a readable dbt project.
    """
    if template is not None and template not in TEMPLATES:
        raise FloeError(f"unknown template '{template}'", hint=f"choose one of: {', '.join(TEMPLATES)}")
    if template is not None and from_dbt is not None:
        raise FloeError("--template and --from-dbt exclude each other: a template brings its own dbt project",
                        hint="drop --template to wrap the dbt project, or drop --from-dbt to start from the template")
    root = target.resolve()
    if from_dbt is None and is_dbt_project(root):
        if template is not None:
            raise FloeError(f"{root} is a dbt project: a template would add a second dbt project to it",
                            hint=f"drop --template to wrap it where it is, or create the project elsewhere "
                                 f"('floe init NAME --from-dbt {target}')")
        from_dbt = target
    name = project_name_for(root)
    result = InitResult(root, name)
    planned: dict[Path, str] = {}
    gitignore: list[str] = []
    if from_dbt is None:
        for relative, text in _template_files(files("floe.templates").joinpath(template or DEFAULT_TEMPLATE)):
            planned[root / _RENAMED.get(relative.name, relative.as_posix())] = text.replace(_PLACEHOLDER, name)
        result.dbt_project_dir = root / "dbt"
        gitignore = planned.pop(root / GITIGNORE, "").splitlines()
    else:
        dbt_dir, dbt_path = _locate_dbt_project(from_dbt, root)
        _check_dbt_project(dbt_dir)
        for relative, text in _template_files(files("floe.templates").joinpath(DEFAULT_TEMPLATE)):
            if relative.as_posix() == PLATFORM_FILE:
                planned[root / PLATFORM_FILE] = text
        dbt_path = dbt_path if dbt_path == "." or dbt_path.startswith("../") else f"./{dbt_path}"
        planned[root / "floe.yaml"] = _wrapping_pipeline(name, dbt_path)
        result.dbt_project_dir, result.dbt_path, result.wrapped = dbt_dir, dbt_path, True
        gitignore = _wrapped_gitignore(dbt_dir, root)
        stale = root / "dbt"
        if is_dbt_project(stale) and stale.resolve() != dbt_dir.resolve():
            # What an earlier floe init copied, or the template's project: no longer run.
            result.notes.append(f"{stale} is not used any more (floe.yaml runs {dbt_path}); "
                                "delete it if it was an earlier copy")
    platform = root / PLATFORM_FILE
    if platform.exists():
        planned.pop(platform)
        result.kept.append(platform)
    existing = [path for path in planned if path.exists() or path.is_symlink()]
    if existing and not force:
        shown = ", ".join(str(path.relative_to(root)) for path in existing[:5])
        raise FloeError(f"{root}: would overwrite {shown}",
                        hint="choose another folder, or pass --force to replace floe's own files "
                             "(platform.yaml and .gitignore are never replaced)")
    try:
        for path, text in planned.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            result.written.append(path)
        _write_gitignore(root / GITIGNORE, gitignore, result)
    except OSError as exc:
        raise FloeError(f"{getattr(exc, 'filename', None) or root}: cannot write ({exc.strerror or exc})",
                        hint="choose a folder you can write to") from None
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


def _locate_dbt_project(given: Path, root: Path) -> tuple[Path, str]:
    """The dbt project's folder and its path relative to ``root``, as the user named it.

    Only the folders above the given one are resolved (``root`` is resolved too, as floe
    resolves floe.yaml's folder when it loads it), so a symlinked project keeps its link name.
    When that relative path would not lead to the same folder (a symlink above it makes
    ``..`` go elsewhere), the resolved location is used instead.
    """
    absolute = Path(os.path.abspath(given))
    if not absolute.exists():
        raise FloeError(f"{given}: no such folder",
                        hint="pass the folder of an existing dbt project (the one holding dbt_project.yml)")
    named = absolute if absolute == root else absolute.parent.resolve() / absolute.name
    relative = Path(os.path.relpath(named, root)).as_posix()
    if (root / relative).resolve() != absolute.resolve():
        named = absolute.resolve()
        relative = Path(os.path.relpath(named, root)).as_posix()
    return named, relative


def _check_dbt_project(dbt_dir: Path) -> None:
    project_file = dbt_dir / "dbt_project.yml"
    if not dbt_dir.is_dir():
        raise FloeError(f"{dbt_dir}: not a folder", hint="pass the folder that holds dbt_project.yml")
    if not project_file.is_file():
        raise FloeError(f"{dbt_dir}: not a dbt project (no dbt_project.yml here)",
                        hint="pass the folder that holds dbt_project.yml")
    try:
        document = yaml.safe_load(project_file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FloeError(f"{project_file}: cannot be read ({exc.strerror or exc})",
                        hint="make it readable by this user and run floe init again") from None
    except UnicodeDecodeError as exc:
        raise FloeError(f"{project_file}: not UTF-8 text ({exc.reason} at byte {exc.start})",
                        hint="save it as UTF-8") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f":{where.line + 1}:{where.column + 1}" if where is not None else ""
        raise FloeError(f"{project_file}{line}: not valid YAML ({getattr(exc, 'problem', None) or exc})",
                        hint="fix the file ('dbt debug' shows the same problem) and run floe init again") from None
    if not isinstance(document, dict) or "name" not in document:
        raise FloeError(f"{project_file}: not a dbt project file (no 'name')",
                        hint="a dbt_project.yml starts with 'name: <project>'; see 'dbt init'")


def _wrapped_gitignore(dbt_dir: Path, root: Path) -> list[str]:
    """A new .gitignore for a wrapped project: floe's state, and dbt's outputs when inside root."""
    lines = [_FLOE_IGNORED]
    if dbt_dir == root or dbt_dir.is_relative_to(root):
        # Anchored ("/target/", "shop/target/"): a models/target/ folder holds sources, not outputs.
        inner = dbt_dir.relative_to(root).as_posix()
        prefix = "/" if inner == "." else f"{inner}/"
        lines += [f"{prefix}{name}/" for name in _DBT_OUTPUT_DIRS]
    return lines


def _write_gitignore(path: Path, lines: list[str], result: InitResult) -> None:
    """Write a new .gitignore, or append to an existing one what it lacks of floe's own line."""
    if not path.exists():
        path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        result.written.append(path)
        return
    text = path.read_text(encoding="utf-8")
    present = {line.strip().lstrip("/").rstrip("/") for line in text.splitlines()}
    if _FLOE_IGNORED.rstrip("/") in present:
        result.kept.append(path)
        return
    separator = "" if not text or text.endswith("\n") else "\n"
    path.write_text(f"{text}{separator}{_FLOE_IGNORED}\n", encoding="utf-8")
    result.appended.append(path)


def _wrapping_pipeline(name: str, dbt_path: str) -> str:
    return (
        "# The pipeline: wraps an existing dbt project where it lives. Connection details live in\n"
        "# platform.yaml; the dbt project's own profiles.yml is not used.\n"
        f"name: {name}\n"
        'version: "0.1.0"\n\n'
        "transforms:\n"
        "  - type: dbt\n"
        f"    path: {_yaml_scalar(dbt_path)}\n"
    )


def _yaml_scalar(value: str) -> str:
    """``value`` as a YAML scalar: plain when it stays a string, quoted otherwise."""
    dumped = yaml.safe_dump(value, default_flow_style=True)
    return dumped.removesuffix("...\n").strip()
