"""The data mesh layers: enterprise (platform.yaml) → domain (domain.yaml) → product (floe.yaml).

* The enterprise is platform.yaml with an ``enterprise: {name, version}`` identity; what it
  allows is what its environments declare (their compute targets and catalogs).
* A domain (``domains/<name>/domain.yaml`` in the mesh folder) names its enterprise by name and
  version and narrows what the enterprise allows: compute targets, catalogs, quotas.
* A product is a floe.yaml with a ``product:`` block naming its domain by name and version, and
  its ports: output ports (marts it exposes) and input ports (other products' outputs it reads).

A lower layer may only narrow the upper one; the checks live in :mod:`floe.spec.mesh_rules`.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field, field_validator

from floe.spec.base import StrictModel, rule_error

DOMAIN_FILE = "domain.yaml"
DOMAINS_DIR = "domains"

MESH_NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
MeshName = Annotated[str, Field(pattern=MESH_NAME_PATTERN, min_length=1, max_length=63)]
"""A domain, product or port name: lower case, usable as an Iceberg namespace and a SQL schema."""

_VERSION = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)$")


def parse_version(text: str) -> tuple[int, int, int] | None:
    """``1.2.3`` or ``v1.2.3`` as a tuple; None when it is not such a version."""
    match = _VERSION.match(text.strip())
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def same_version(left: str, right: str) -> bool:
    """Whether two versions are the same release (``v1.0.0`` is ``1.0.0``)."""
    return parse_version(left) == parse_version(right) is not None or left == right


def check_version(value: str) -> str:
    """The version, or a validation error saying what a version looks like."""
    if parse_version(value) is None:
        raise rule_error(f"expected a version MAJOR.MINOR.PATCH such as 1.0.0, got {value!r}")
    return value


# A version field of the mesh layers: MAJOR.MINOR.PATCH, refused otherwise with what it looks like.
MeshVersion = Annotated[str, AfterValidator(check_version)]


class VersionedRef(StrictModel):
    """A reference to an upper layer by name and exact version."""

    name: MeshName = Field(description="Name of the layer referred to.")
    version: MeshVersion = Field(description="Its exact version, MAJOR.MINOR.PATCH (a leading 'v' is allowed).")


class EnterpriseIdentity(StrictModel):
    """``enterprise:`` in platform.yaml: the top layer of a data mesh."""

    name: MeshName = Field(description="Enterprise name that domain.yaml files refer to.")
    version: MeshVersion = Field(description="Version of the enterprise platform, MAJOR.MINOR.PATCH.")


class DomainAllows(StrictModel):
    """What a domain's products may use: a subset of what the enterprise declares."""

    compute: list[str] | None = Field(
        default=None, min_length=1,
        description="Compute target types products may compile for (e.g. [duckdb]); each must be one the "
        "enterprise's environments use. Omitted: every one the enterprise uses.")
    catalogs: list[str] | None = Field(
        default=None, min_length=1,
        description="Iceberg catalog types products may use (sql, rest); each must be one the enterprise's "
        "environments use. Omitted: every one the enterprise uses.")
    environments: list[str] | None = Field(
        default=None, min_length=1,
        description="Enterprise environments products may compile for; each must exist in platform.yaml. "
        "Omitted: all.")


class DomainQuotas(StrictModel):
    """Limits on the domain's products, checked at compile, 'floe product init' and 'register'."""

    max_products: int | None = Field(
        default=None, ge=1, description="How many products may be registered in the domain.")
    max_schedules: int | None = Field(
        default=None, ge=0, description="How many schedules one product may declare in floe.yaml.")
    max_threads: int | None = Field(
        default=None, ge=1, le=256, description="Most dbt threads a product's compute target may use.")


class DomainSpec(StrictModel):
    """The whole of ``domain.yaml``."""

    name: MeshName = Field(description="Domain name; its folder under domains/ has the same name.")
    version: MeshVersion = Field(description="Version of the domain, MAJOR.MINOR.PATCH; products pin it.")
    description: str | None = Field(default=None, description="What the domain owns.")
    enterprise: VersionedRef = Field(description="The enterprise (platform.yaml) this domain belongs to.")
    allows: DomainAllows = Field(default_factory=DomainAllows, description="What products may use.")
    quotas: DomainQuotas = Field(default_factory=DomainQuotas, description="Limits on products.")


class OutputPort(StrictModel):
    """A mart this product exposes to other products, published by 'floe product register'."""

    name: MeshName = Field(description="Port name; the Iceberg table <domain>.<product>.<name>.")
    model: str = Field(min_length=1, description="The dbt model (a mart) whose rows the port publishes.")
    version: MeshVersion = Field(description="Port version, MAJOR.MINOR.PATCH: bump MAJOR on a breaking change.")
    description: str | None = Field(default=None, description="What the port holds.")


class InputPort(StrictModel):
    """Another product's output port this product reads (a contract checked at compile)."""

    name: str = Field(
        pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$",
        description="The port as <domain>.<product>.<port>.")
    version: str = Field(
        description="Versions accepted: comparisons joined by commas ('>=1.0.0,<2.0.0'), '^1.2.0' (same "
        "major, at least 1.2.0), or one exact version.")
    columns: dict[str, str | None] = Field(
        min_length=1,
        description="Columns this product reads, each with the type it expects (integer, bigint, double, "
        "decimal, string, boolean, date, timestamp) or null for any type.")

    @field_validator("version")
    @classmethod
    def _check_range(cls, value: str) -> str:
        from floe.spec.mesh_versions import range_problem

        problem = range_problem(value)
        if problem:
            raise rule_error(problem)
        return value


class ProductPorts(StrictModel):
    """The product's ports."""

    outputs: list[OutputPort] = Field(default_factory=list, description="Marts this product exposes.")
    inputs: list[InputPort] = Field(default_factory=list, description="Other products' ports it reads.")


class ProductSpec(StrictModel):
    """``product:`` in floe.yaml: the pipeline is a data product of a domain."""

    domain: VersionedRef = Field(description="The domain this product belongs to, by name and exact version.")
    ports: ProductPorts = Field(default_factory=ProductPorts, description="Output and input ports.")
