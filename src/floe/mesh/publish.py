"""``floe product register``: publish a compiled, built product's output ports and record it.

Each output port's model is read from the product's DuckDB warehouse (it must have been built:
``floe run``) and written as the Iceberg table ``<domain>.<product>.<port>`` of the shared
catalog, replacing the previous registration's table (its files stay, so consumers pinned to
the old snapshot still read it until they compile again). The table carries the port's version
and schema in its properties. Then the registration record is written, atomically, last: a
product is registered once its ports are readable.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from floe.errors import FloeError
from floe.mesh.ports import PORT_SCHEMA_PROPERTY, PORT_VERSION_PROPERTY
from floe.mesh.records import PortColumn, ProductRecord, RegisteredPort, list_records, write_record
from floe.spec.platform import DuckDBCompute
from floe.spec.project import Project

if TYPE_CHECKING:
    import pyarrow as pa


@dataclass(frozen=True)
class Registration:
    """What a registration wrote."""

    record: ProductRecord
    record_path: Path


# The new port is built under this name beside the old one, then takes its place.
STAGING_SUFFIX = "__floe_staging"


def register_product(project: Project, artifacts_path: Path, manifest: dict[str, Any], *,
                     image_repository: str | None = None, image_tag: str | None = None) -> Registration:
    """Publish the output ports of a compiled product and write its registration record.

    Args:
        project: The loaded product (``project.mesh`` set).
        artifacts_path: Its compiled artifacts.json.
        manifest: The dbt manifest compile wrote (to find each port model's relation).
        image_repository: Image the product runs from; default ``floe-<domain>-<product>``.
        image_tag: Its tag; default the product's version.

    Raises:
        FloeError: not a product, over the domain's product quota, a compute other than DuckDB,
            a port's model not built yet, or the shared catalog refused the write.
    """
    if project.mesh is None or project.pipeline.model.product is None:
        raise FloeError(f"{project.pipeline_path} declares no 'product:'; only data products are registered",
                        hint="add product: {domain: {name, version}, ports: ...} or create one with "
                             "'floe product init NAME --domain NAME:VERSION'")
    spec = project.pipeline.model
    domain = project.mesh.domain.model
    records_dir = project.mesh.records_dir
    registered = {record.name for record in list_records(records_dir)}
    quota = domain.quotas.max_products
    if quota is not None and spec.name not in registered and len(registered) >= quota:
        raise FloeError(f"domain {domain.name} already has {len(registered)} registered products, its quota "
                        f"({project.mesh.domain_path} quotas.max_products: {quota})",
                        hint="retire a product (delete its record) or ask the domain owners to raise the quota")
    compute = project.environment.compute
    if not isinstance(compute, DuckDBCompute):
        raise FloeError(f"registering reads the built marts from DuckDB; environment '{project.environment_name}' "
                        f"uses {compute.type}", hint="register from an environment on the duckdb compute target")
    from floe.lakehouse import open_catalog

    environment = project.environment
    catalog = open_catalog(environment.catalog, environment.storage, project.root)
    ports = []
    for port in spec.product.ports.outputs if spec.product else []:
        data = _read_model(project, compute, manifest, port.model)
        identifier = (domain.name, spec.name, port.name)
        columns = _publish(catalog, identifier, data, {
            PORT_VERSION_PROPERTY: port.version,
            "floe.port.model": port.model,
            "floe.product": spec.name,
            "floe.product.version": spec.version,
            "floe.domain": domain.name,
        })
        ports.append(RegisteredPort(name=port.name, version=port.version, model=port.model,
                                    table=".".join(identifier), columns=columns, rows=data.num_rows))
    record = ProductRecord(
        name=spec.name, version=spec.version, domain=domain.name, domain_version=domain.version,
        image_repository=image_repository or f"floe-{domain.name}-{spec.name}".replace("_", "-"),
        image_tag=image_tag or spec.version,
        artifacts_json=Path(os.path.relpath(artifacts_path.resolve(), project.mesh.domain_path.parent.resolve()))
        .as_posix(),
        ports=ports,
        registered_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
    return Registration(record, write_record(records_dir, record))


def _read_model(project: Project, compute: DuckDBCompute, manifest: dict[str, Any], model: str) -> pa.Table:
    import duckdb

    from floe.lakehouse.duckdb_read import quote_identifier
    from floe.targets.duckdb import warehouse_path

    node = next((node for node in manifest.get("nodes", {}).values()
                 if node.get("resource_type") == "model" and node.get("name") == model), None)
    if node is None:
        raise FloeError(f"model '{model}' is not in the compiled manifest", hint="run 'floe compile' again")
    relation = f"{quote_identifier(str(node['schema']))}.{quote_identifier(str(node.get('alias') or model))}"
    database = warehouse_path(compute, project.root)
    not_built = FloeError(f"model '{model}' of output port is not built in {database}",
                          hint="build the product first: 'floe run', then 'floe product register'")
    if not database.is_file():
        raise not_built
    with duckdb.connect(str(database), read_only=True) as connection:
        try:
            table = connection.execute(f"SELECT * FROM {relation}").to_arrow_table()
        except duckdb.CatalogException:
            raise not_built from None
    return _microseconds(table)


def _microseconds(table: pa.Table) -> pa.Table:
    """Iceberg keeps timestamps in microseconds; DuckDB may hand out nanoseconds."""
    import pyarrow as pa

    fields = [pa.field(field.name, pa.timestamp("us", field.type.tz), field.nullable)
              if pa.types.is_timestamp(field.type) and field.type.unit == "ns" else field
              for field in table.schema]
    return table.cast(pa.schema(fields)) if fields != list(table.schema) else table


def _publish(catalog: Any, identifier: tuple[str, str, str], data: pa.Table,
             properties: dict[str, str]) -> list[PortColumn]:
    import uuid

    from floe.lakehouse.errors import translated_errors
    from floe.lakehouse.properties import TABLE_ROOT

    where = "the shared catalog"
    name = ".".join(identifier)
    staging = (*identifier[:2], f"{identifier[2]}{STAGING_SUFFIX}")
    with translated_errors(where=where, action=f"publish port {name}"):
        catalog.create_namespace_if_not_exists(identifier[:2])
        if catalog.table_exists(staging):  # left by a registration that failed midway
            catalog.drop_table(staging)
        root = catalog.properties.get(TABLE_ROOT)
        # Each registration writes under a folder of its own: the previous port keeps its files
        # (a consumer may be reading them) and never shares a folder with the next.
        location = f"{root.rstrip('/')}/{'/'.join(identifier)}/{uuid.uuid4().hex[:12]}" if root else None
        from pyiceberg.io.pyarrow import UnsupportedPyArrowTypeException

        try:
            table = catalog.create_table(staging, schema=data.schema, location=location, properties=properties)
        except UnsupportedPyArrowTypeException as exc:
            raise FloeError(f"output port {name}: {exc} (Iceberg has no such type)",
                            hint="cast the column in the port's model to a type Iceberg holds (e.g. a string or "
                                 "a number of seconds), then 'floe run' and register again") from None
        columns = [PortColumn(name=field.name, type=str(field.field_type)) for field in table.schema().fields]
        # One commit: the rows, and the schema as consumers' contracts name it (Iceberg types).
        with table.transaction() as transaction:
            transaction.set_properties({PORT_SCHEMA_PROPERTY: json.dumps([c.model_dump() for c in columns])})
            transaction.append(data)
        # Only now, with the new port complete, does it replace the old one (a schema may change
        # between registrations, which no in-place Iceberg commit allows).
        if catalog.table_exists(identifier):
            catalog.drop_table(identifier)
        catalog.rename_table(staging, identifier)
        return columns
