"""Contracts between data products: the input ports a product reads, checked at compile.

For each ``product.ports.inputs`` entry the compile checks, in order: the producer is registered
(its record exists) with that port, the port's table is in the shared catalog, the port's
version is in the accepted range, and every column the consumer reads is there with a type it
can read. Each broken rule is one located issue in floe.yaml naming the port, the column and
the change (dropped, retyped, major version bump); all of them are reported at once.

A port that passes is pinned: the artifacts carry the metadata file (one snapshot) whose schema
was checked, and runs read exactly that snapshot through a DuckDB view (:mod:`floe.mesh.views`).
A producer registering again is seen by the consumer's next compile, which checks it again.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from floe.contract.v1 import InputPortInfo
from floe.errors import SpecError, SpecIssue
from floe.mesh.records import read_record, record_path
from floe.spec.mesh import InputPort, parse_version
from floe.spec.mesh_rules import RECORDS_DIR
from floe.spec.mesh_versions import highest_major, satisfies
from floe.spec.project import Project

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

PORT_VERSION_PROPERTY = "floe.port.version"
PORT_SCHEMA_PROPERTY = "floe.port.schema"  # JSON list of {name, type}; the table's schema is what compile reads

# Declared type (as a consumer writes it) -> Iceberg types a port column may have for it.
# Widening is compatible (bigint reads an int column); narrowing and changing kind are not.
_READABLE: dict[str, frozenset[str]] = {
    "integer": frozenset({"int"}),
    "bigint": frozenset({"int", "long"}),
    "float": frozenset({"float"}),
    "double": frozenset({"float", "double"}),
    "decimal": frozenset({"decimal"}),
    "string": frozenset({"string"}),
    "boolean": frozenset({"boolean"}),
    "date": frozenset({"date"}),
    "timestamp": frozenset({"timestamp", "timestamptz"}),
}
_ALIASES = {"int": "integer", "long": "bigint", "varchar": "string", "text": "string", "bool": "boolean",
            "real": "float", "timestamptz": "timestamp", "numeric": "decimal"}
DECLARABLE_TYPES = sorted(_READABLE)


def declared_type(text: str) -> str | None:
    """The canonical name of a type a consumer declares, or None when floe does not know it."""
    name = text.strip().lower().split("(", 1)[0]
    name = _ALIASES.get(name, name)
    return name if name in _READABLE else None


def readable(declared: str, iceberg_type: str) -> bool:
    """Whether a column of ``iceberg_type`` can be read as ``declared`` (a canonical name)."""
    return iceberg_type.lower().split("(", 1)[0] in _READABLE[declared]


def port_parts(dataset: str) -> tuple[str, str, str]:
    """``<domain>.<product>.<port>`` split in three."""
    domain, product, port = dataset.split(".")
    return domain, product, port


def check_input_ports(project: Project, catalog: Catalog) -> list[InputPortInfo]:
    """Check every input port of a product; returns them pinned to the snapshots checked.

    Raises:
        SpecError: every broken contract, each located at the input port in floe.yaml.
    """
    assert project.mesh is not None and project.pipeline.model.product is not None
    domains_dir = project.mesh.domain_path.parent.parent
    issues: list[SpecIssue] = []
    pinned: list[InputPortInfo] = []
    for index, port in enumerate(project.pipeline.model.product.ports.inputs):
        found = _check_one(project, catalog, domains_dir, index, port, issues)
        if found is not None:
            pinned.append(found)
    if issues:
        raise SpecError(issues)
    return pinned


def _check_one(project: Project, catalog: Catalog, domains_dir: Path, index: int, port: InputPort,
               issues: list[SpecIssue]) -> InputPortInfo | None:
    source = project.pipeline.source
    where = ("product", "ports", "inputs", index)
    domain, product, name = port_parts(port.name)
    record_file = record_path(domains_dir / domain / RECORDS_DIR, product)
    fix_producer = f"register it: 'floe product register' in the folder of product {product}"
    if not record_file.is_file():
        issues.append(source.issue((*where, "name"), f"input port {port.name}: product {domain}.{product} is not "
                                   "registered", f"no {record_file}; {fix_producer}"))
        return None
    record = read_record(record_file)
    registered = {p.name: p for p in record.ports}
    if name not in registered:
        offered = ", ".join(sorted(registered)) or "none"
        issues.append(source.issue((*where, "name"), f"input port {port.name}: product {domain}.{product} has no "
                                   f"output port '{name}'", f"its registered ports: {offered}"))
        return None
    identifier = (domain, product, name)
    if not catalog.table_exists(identifier):
        issues.append(source.issue((*where, "name"), f"input port {port.name} is registered but its table is not in "
                                   "the shared catalog", f"{fix_producer} again"))
        return None
    table = catalog.load_table(identifier)
    version = table.properties.get(PORT_VERSION_PROPERTY, registered[name].version)
    parsed = parse_version(version)
    if parsed is None or not satisfies(parsed, port.version):
        top = highest_major(port.version)
        bump = (f" — a major version bump to {parsed[0]}.x, a breaking change"
                if parsed is not None and top is not None and parsed[0] > top else "")
        issues.append(source.issue((*where, "version"), f"input port {port.name} is at version {version}, outside "
                                   f"the accepted range '{port.version}'{bump}",
                                   "read the producer's release notes, adapt this product, then widen the range"))
    columns = {field.name: str(field.field_type) for field in table.schema().fields}
    for column, wanted in port.columns.items():
        at = (*where, "columns", column)
        if column not in columns:
            issues.append(source.issue(at, f"input port {port.name} (version {version}): column '{column}' was "
                                       "dropped", f"the port's columns now: {', '.join(columns)}; stop reading "
                                       "it or ask the producer to restore it", prefer_key=True))
            continue
        if wanted is None:
            continue
        canonical = declared_type(wanted)
        if canonical is None:
            issues.append(source.issue(at, f"unknown column type '{wanted}'",
                                       f"use one of {', '.join(DECLARABLE_TYPES)}, or null for any type"))
        elif not readable(canonical, columns[column]):
            issues.append(source.issue(at, f"input port {port.name} (version {version}): column '{column}' was "
                                       f"retyped to {columns[column]}; this product reads it as {wanted}",
                                       "adapt this product to the new type (and the declared type), or ask the "
                                       "producer to keep the old one"))
    metadata = table.metadata_location
    return InputPortInfo(dataset=port.name, version=version, metadata_location=metadata,
                         schema_name=f"{domain}_{product}", table=name)


def input_ports_sources(pinned: list[InputPortInfo], project: Project) -> str:
    """The dbt sources file that declares each input port's view, so models read it with source()."""
    import yaml

    assert project.pipeline.model.product is not None
    declared = {port.name: port for port in project.pipeline.model.product.ports.inputs}
    by_schema: dict[str, list[dict[str, object]]] = {}
    for port in pinned:
        columns = [{"name": name, **({"data_type": kind} if kind else {})}
                   for name, kind in declared[port.dataset].columns.items()]
        by_schema.setdefault(port.schema_name, []).append({
            "name": port.table,
            "description": f"Input port {port.dataset} (version {port.version}), a view over its Iceberg table.",
            "meta": {"floe_port": port.dataset},
            "columns": columns,
        })
    document = {"version": 2, "sources": [{"name": schema, "schema": schema, "tables": tables}
                                          for schema, tables in sorted(by_schema.items())]}
    header = ("# Generated by 'floe compile' from product.ports.inputs in floe.yaml: do not edit.\n"
              "# Read an input port with {{ source('<domain>_<product>', '<port>') }}.\n")
    return header + yaml.safe_dump(document, sort_keys=False)
