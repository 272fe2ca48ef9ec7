"""Registration records: what 'floe product register' says about a product, one JSON file per product.

A domain keeps them in ``domains/<domain>/products/<product>.json`` beside its domain.yaml. The
lead's floe-domain chart turns them into its ``products`` values (name, version, image,
artifacts), so the field names are a public interface: add fields, never rename them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from pydantic import Field, ValidationError

from floe.contract.io import write_text_atomic
from floe.errors import FloeError
from floe.spec.base import StrictModel

RECORD_SUFFIX = ".json"


class PortColumn(StrictModel):
    """One column of a published port, with its Iceberg type."""

    name: str = Field(description="Column name.")
    type: str = Field(description="Iceberg type, e.g. long, double, string, date, decimal(18, 2).")


class RegisteredPort(StrictModel):
    """An output port as published to the shared catalog."""

    name: str = Field(description="Port name.")
    version: str = Field(description="Port version.")
    model: str = Field(description="The dbt model its rows come from.")
    table: str = Field(description="Iceberg table identifier in the shared catalog: <domain>.<product>.<port>.")
    columns: list[PortColumn] = Field(description="The table's columns.")
    rows: int = Field(description="Rows published by the registration.")


class ProductRecord(StrictModel):
    """One registered data product."""

    name: str = Field(description="Product name.")
    version: str = Field(description="Product version (floe.yaml version).")
    domain: str = Field(description="Domain name.")
    domain_version: str = Field(description="Domain version the product was registered against.")
    image_repository: str = Field(description="Container image repository the product runs from.")
    image_tag: str = Field(description="Image tag.")
    artifacts_json: str = Field(
        description="Path of the product's compiled artifacts.json, relative to the domain folder (the one "
        "holding domain.yaml).")
    ports: list[RegisteredPort] = Field(description="Output ports published.")
    registered_at: str = Field(description="UTC time of the registration, ISO 8601.")


def record_path(records_dir: Path, product: str) -> Path:
    """The record file of ``product``."""
    return records_dir / f"{product}{RECORD_SUFFIX}"


def write_record(records_dir: Path, record: ProductRecord) -> Path:
    """Write (atomically) and return the record's file."""
    path = record_path(records_dir, record.name)
    write_text_atomic(path, json.dumps(record.model_dump(mode="json"), indent=2) + "\n")
    return path


def read_record(path: Path) -> ProductRecord:
    """Read one record.

    Raises:
        FloeError: unreadable or not a record.
    """
    try:
        return ProductRecord.model_validate_json(path.read_bytes())
    except (OSError, ValidationError) as exc:
        detail = exc.strerror if isinstance(exc, OSError) else f"{exc.error_count()} invalid fields"
        raise FloeError(f"{path}: not a readable product record ({detail})",
                        hint="register the product again with 'floe product register'") from None


def list_records(records_dir: Path) -> list[ProductRecord]:
    """Every record of a domain, by product name."""
    if not records_dir.is_dir():
        return []
    return [read_record(path) for path in sorted(records_dir.glob(f"*{RECORD_SUFFIX}"))]


def domain_record_dirs(start: Path, environ: Mapping[str, str]) -> dict[str, Path]:
    """Each domain's records folder: $FLOE_DOMAIN_FILE's domain, else every domain of the mesh folder
    at or above ``start`` (the first with a ``domains/`` folder holding a domain.yaml)."""
    from floe.spec.mesh import DOMAIN_FILE, DOMAINS_DIR
    from floe.spec.mesh_rules import DOMAIN_FILE_VARIABLE, RECORDS_DIR

    explicit = environ.get(DOMAIN_FILE_VARIABLE)
    if explicit:
        folder = Path(explicit).parent
        return {folder.name: folder / RECORDS_DIR}
    for folder in (start, *start.parents):
        found = sorted((folder / DOMAINS_DIR).glob(f"*/{DOMAIN_FILE}"))
        if found:
            return {path.parent.name: path.parent / RECORDS_DIR for path in found}
    return {}
