"""Registration records: what 'floe product register' says about a product, one JSON file per product.

A domain keeps them in ``domains/<domain>/products/<product>.json`` beside its domain.yaml. The
lead's floe-domain chart turns them into its ``products`` values (name, version, image,
artifacts), so the field names are a public interface: add fields, never rename them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError

from floe.contract.io import write_text_atomic
from floe.contract.product_record import PortColumn, ProductRecord, RegisteredPort
from floe.errors import FloeError

RECORD_SUFFIX = ".json"

__all__ = ["PortColumn", "ProductRecord", "RegisteredPort", "list_records", "read_record", "record_path",
           "write_record"]


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
