"""The registration record of a data product: a public file format, like the artifacts.

'floe product register' writes one per product (``domains/<domain>/products/<product>.json``);
the floe-domain chart's values are made from them (name, version, image, artifacts). Its JSON
Schema is committed as ``schemas/product-record.v1.schema.json``. Add fields; never rename one.
"""

from __future__ import annotations

from pydantic import Field

from floe.spec.base import StrictModel


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
