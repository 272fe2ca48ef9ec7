"""JSON Schemas of the two spec files and of the compiled artifacts, generated from the models.

The generated files are committed under ``schemas/`` (``make generate`` writes them) so that
editors can complete and check ``floe.yaml`` and ``platform.yaml``, and so that other tools can
read ``.floe/artifacts.json`` without importing floe. A test fails when the committed copies
drift from what this module generates.

The schemas describe the files as written, before ``${VAR}`` interpolation: a value that only
becomes a number after interpolation (``port: ${PG_PORT}``) is valid for floe but not for the
schema.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from floe.contract.io import write_text_atomic
from floe.contract.preflight_report import PreflightReport
from floe.contract.product_record import ProductRecord
from floe.contract.v1 import ArtifactsV1
from floe.errors import FloeError
from floe.spec.mesh import DomainSpec
from floe.spec.pipeline import PipelineSpec
from floe.spec.platform import PlatformSpec

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
DEFAULT_SCHEMA_DIR = "schemas"

# short name -> file name; the short names are what `floe schema show` takes.
SCHEMA_FILES: dict[str, str] = {
    "floe": "floe.schema.json",
    "platform": "platform.schema.json",
    "domain": "domain.schema.json",
    "artifacts": "artifacts.v1.schema.json",
    "preflight": "preflight.v1.schema.json",
    "product-record": "product-record.v1.schema.json",
}

_SOURCES: dict[str, tuple[type[BaseModel], str]] = {
    SCHEMA_FILES["floe"]: (PipelineSpec, "floe.yaml: the pipeline spec"),
    SCHEMA_FILES["platform"]: (PlatformSpec, "platform.yaml: the platform spec"),
    SCHEMA_FILES["domain"]: (DomainSpec, "domain.yaml: a data mesh domain"),
    SCHEMA_FILES["artifacts"]: (ArtifactsV1, "floe compiled artifacts (.floe/artifacts.json), schema_version 1"),
    SCHEMA_FILES["preflight"]: (PreflightReport, "floe preflight --json report, schema_version 1"),
    SCHEMA_FILES["product-record"]: (ProductRecord, "a data product's registration record "
                                                    "(domains/<domain>/products/<product>.json)"),
}


def json_schemas() -> dict[str, dict[str, Any]]:
    """Generate every schema from its model.

    Returns:
        File name (``floe.schema.json``, ``platform.schema.json``,
        ``artifacts.v1.schema.json``) to JSON Schema (draft 2020-12), keys sorted.
    """
    return {name: _generate(model, title) for name, (model, title) in _SOURCES.items()}


def render_schema(schema: dict[str, Any]) -> str:
    """The exact text of a schema file: two-space indent, sorted keys, trailing newline."""
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def schema_text(name: str) -> str:
    """The text of one schema, by short name (``floe``) or file name (``floe.schema.json``).

    Raises:
        FloeError: no schema has that name.
    """
    file_name = SCHEMA_FILES.get(name, name)
    if file_name not in _SOURCES:
        known = ", ".join(SCHEMA_FILES)
        raise FloeError(
            f"no schema named '{name}'", hint=f"use one of {known}, or a file name such as {SCHEMA_FILES['floe']}"
        )
    model, title = _SOURCES[file_name]
    return render_schema(_generate(model, title))


def export_schemas(directory: Path) -> list[Path]:
    """Write every schema into ``directory`` (created if needed), each file atomically.

    Returns:
        The files written, in a fixed order.

    Raises:
        FloeError: a file cannot be written (for example, the folder is read-only).
    """
    written: list[Path] = []
    for name, schema in json_schemas().items():
        path = directory / name
        try:
            write_text_atomic(path, render_schema(schema))
        except OSError as exc:
            raise FloeError(
                f"{path}: cannot write: {exc.strerror or exc}",
                hint="choose another folder with --output, or check its permissions",
            ) from None
        written.append(path)
    return written


def _generate(model: type[BaseModel], title: str) -> dict[str, Any]:
    schema = model.model_json_schema(mode="validation", by_alias=True)
    schema.pop("$id", None)
    schema["$schema"] = JSON_SCHEMA_DIALECT
    schema["title"] = title
    sorted_schema: dict[str, Any] = sort_keys(schema)
    return sorted_schema


def sort_keys(value: Any) -> Any:
    """Sort mapping keys at every depth, so the dict itself has the order of the file."""
    if isinstance(value, dict):
        return {key: sort_keys(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [sort_keys(item) for item in value]
    return value
