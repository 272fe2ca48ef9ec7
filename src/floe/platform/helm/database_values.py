"""A chart's own PostgreSQL: an external server by reference, or a one-replica StatefulSet.

Polaris (its metastore) and Marquez (its lineage store) each need one; their values take the
same shape, with their own defaults, so both charts read ``database.*`` the same way.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from floe.platform.helm.values_common import HelmModel, Image, K8sName, Memory, OptionalK8sName, Resources


class SecretKey(HelmModel):
    """One key of a Secret."""

    name: K8sName = Field(description="Secret name.")
    key: str = Field(min_length=1, description="Key inside it.")


class DatabaseStatefulSet(HelmModel):
    """The one-replica PostgreSQL of dev and demo."""

    image: Image = Field(description="PostgreSQL image.")
    uid: int = Field(default=70, ge=1, description="The image's postgres user.")
    storage: Memory = Field(default="5Gi", description="Size of the data volume.")
    storage_class_name: OptionalK8sName = Field(default="", description="StorageClass; empty: the default.")
    resources: Resources = Field(description="Requests and limits.")


class ChartDatabase(HelmModel):
    """A PostgreSQL: external by reference, or the StatefulSet (subclasses set name and user)."""

    # Where the block sits in the chart's values, for the message of a missing host.
    values_path: ClassVar[str] = "database"

    mode: Literal["external", "statefulset"] = Field(default="statefulset", description="Where it runs.")
    host: str = Field(default="", description="Host of the external server (mode external).")
    port: int = Field(default=5432, ge=1, le=65535, description="Port.")
    name: str = Field(min_length=1, description="Database.")
    user: str = Field(min_length=1, description="Role.")
    password_secret: SecretKey = Field(description="The role's password, by reference.")
    statefulset: DatabaseStatefulSet = Field(description="Settings of mode statefulset.")

    @model_validator(mode="after")
    def _external_needs_host(self) -> ChartDatabase:
        if self.mode == "external" and not self.host:
            raise ValueError(f"{self.values_path}.mode external needs {self.values_path}.host")
        return self
