"""Reading and writing the artifacts file: atomic writes, explicit version handling."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from floe.contract.v1 import SCHEMA_VERSION, ArtifactsV1
from floe.errors import ContractError

ARTIFACTS_FILE = "artifacts.json"
DEFAULT_OUTPUT_DIR = ".floe"


def write_text_atomic(path: Path, text: str) -> None:
    """Write a file so that readers see either the old or the new content, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; images and pods read as another user
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_artifacts(artifacts: ArtifactsV1, path: Path) -> None:
    """Write the artifacts file atomically, keys in a stable order."""
    document = artifacts.model_dump(mode="json", by_alias=True)
    if document.get("mesh") is None:
        document.pop("mesh", None)  # a plain project's artifacts stay as they were before the data mesh
    write_text_atomic(path, json.dumps(document, indent=2, sort_keys=False) + "\n")


def load_artifacts(path: Path) -> ArtifactsV1:
    """Read an artifacts file of any supported version, upgrading older versions.

    Raises:
        ContractError: missing, unreadable, corrupt, or written by an unsupported version.
    """
    fix = "run 'floe compile' to write it again"
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ContractError(f"{path}: compiled artifacts not found",
                            hint="run 'floe compile --env ENV' first") from None
    except OSError as exc:
        raise ContractError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ContractError(f"{path}: not valid UTF-8 (byte {exc.start}); the file is corrupt", hint=fix) from None
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ContractError(f"{path}:{exc.lineno}:{exc.colno}  not valid JSON ({exc.msg})", hint=fix) from None
    if not isinstance(document, dict):
        raise ContractError(f"{path}: expected a JSON object", hint=fix)
    version = document.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ContractError(f"{path}: 'schema_version' is missing or not a number", hint=fix)
    if version > SCHEMA_VERSION:
        raise ContractError(
            f"{path}: artifacts schema_version {version} is newer than this floe understands "
            f"(up to {SCHEMA_VERSION})",
            hint="upgrade floe (pip install -U floe-runtime), or compile with this version",
        )
    upgraded = _upgrade(document, version, path)
    try:
        return ArtifactsV1.model_validate(upgraded)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ContractError(
            f"{path}: artifacts are corrupt: {where}: {first['msg']} "
            f"({exc.error_count()} problem{'s' if exc.error_count() > 1 else ''})",
            hint=fix,
        ) from None


def _upgrade(document: dict[str, Any], version: int, path: Path) -> dict[str, Any]:
    """Bring an older document up to the current version, one explicit step at a time."""
    if version < 1:
        raise ContractError(f"{path}: artifacts schema_version {version} is not supported",
                            hint="run 'floe compile' to write it again")
    return document
