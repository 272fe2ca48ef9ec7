"""Values of ``charts/floe-domain``: one domain's Dagster with one code location per data product.

A domain runs in its own namespace with its own Dagster (the official chart, a direct dependency).
Each product is a ``dagster-user-deployments`` entry named ``<domain>-<product>``: the product's
image, its compiled artifacts from the ConfigMap ``<domain>-<product>-artifacts`` (rendered by
floe-domain from ``products[].artifacts``) staged into a writable folder as floe-runtime's
``floe`` location does, and the platform's shared services (Polaris, the OTLP collector, Marquez
in the platform namespace) as env. The products differ in image, artifacts and env, so each
location passes its config to its runs (``includeConfigInLaunchedRuns``): a run pod is shaped
like its product's code location, init container included.

The official chart takes the locations as literal values, so ``domain_release_values`` writes
them from the products; the chart refuses a release where the two disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import Field, field_validator, model_validator

from floe.platform.helm.dagster_values import DagsterBlock
from floe.platform.helm.observability_values import (
    COLLECTOR_GRPC_PORT,
    COLLECTOR_SERVICE,
    MARQUEZ_PORT,
    MARQUEZ_SERVICE,
)
from floe.platform.helm.polaris_values import POLARIS_PORT, POLARIS_SERVICE
from floe.platform.helm.values_common import FLOE_UID, ChartValues, HelmModel, Image, K8sName

DEFAULT_PLATFORM_NAMESPACE = "floe-platform"
PROJECT_DIR = "/opt/floe/project"
ARTIFACTS_DIR = "/opt/floe/artifacts"
SECRETS_DIR = "/run/secrets/floe"
SECRETS_NAME = "floe-secrets"
GRPC_PORT = 3030
# A product or domain name: a DNS label short enough for "<domain>-<product>-artifacts".
NAME = r"^[a-z0-9]([-a-z0-9]{0,28}[a-z0-9])?$"


@dataclass(frozen=True)
class ProductRelease:
    """One data product as the domain deploys it (``floe product register`` output)."""

    name: str
    version: str
    image_repository: str
    image_tag: str
    artifacts_json: str


def shared_service_urls(platform_namespace: str) -> dict[str, str]:
    """The platform's shared services by cluster DNS, as env of every product pod."""
    def host(service: str) -> str:
        return f"{service}.{platform_namespace}.svc.cluster.local"

    return {
        "FLOE_POLARIS_URI": f"http://{host(POLARIS_SERVICE)}:{POLARIS_PORT}/api/catalog",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{host(COLLECTOR_SERVICE)}:{COLLECTOR_GRPC_PORT}",
        "OPENLINEAGE_URL": f"http://{host(MARQUEZ_SERVICE)}:{MARQUEZ_PORT}",
    }


def location_name(domain: str, product: str) -> str:
    """The code location (and its Service) of a product: unique across domains."""
    return f"{domain}-{product}"


def artifacts_configmap(domain: str, product: str) -> str:
    return f"{domain}-{product}-artifacts"


_CONTAINER_SECURITY: dict[str, Any] = {
    "runAsNonRoot": True, "runAsUser": FLOE_UID, "runAsGroup": FLOE_UID, "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"},
}
_POD_SECURITY: dict[str, Any] = {
    "runAsNonRoot": True, "runAsUser": FLOE_UID, "runAsGroup": FLOE_UID, "fsGroup": FLOE_UID,
    "seccompProfile": {"type": "RuntimeDefault"},
}
# Copies the image's artifacts folder (profiles.yml, dbt manifest) into a writable emptyDir and
# adds the product's artifacts.json from its ConfigMap, as floe-runtime's stage-floe-state does.
_STAGE_SCRIPT = (
    "set -eu\n"
    'if [ -d "$FLOE_IMAGE_ARTIFACTS" ]; then cp -R "$FLOE_IMAGE_ARTIFACTS/." /floe-state/; fi\n'
    "cp /etc/floe/artifacts/artifacts.json /floe-state/artifacts.json\n"
)


def _code_location(domain: str, domain_version: str, product: ProductRelease,
                   platform_namespace: str) -> dict[str, Any]:
    image = f"{product.image_repository}:{product.image_tag}"
    env = [
        {"name": "FLOE_PROJECT_DIR", "value": PROJECT_DIR},
        {"name": "FLOE_ARTIFACTS_PATH", "value": f"{ARTIFACTS_DIR}/artifacts.json"},
        {"name": "FLOE_SECRETS_DIR", "value": SECRETS_DIR},
        {"name": "HOME", "value": "/tmp"},
        {"name": "DBT_SEND_ANONYMOUS_USAGE_STATS", "value": "false"},
        {"name": "FLOE_DOMAIN", "value": domain},
        {"name": "FLOE_DOMAIN_VERSION", "value": domain_version},
        {"name": "FLOE_PRODUCT", "value": product.name},
        {"name": "FLOE_PRODUCT_VERSION", "value": product.version},
        {"name": "OTEL_SERVICE_NAME", "value": f"{domain}.{product.name}"},
        *({"name": key, "value": value} for key, value in shared_service_urls(platform_namespace).items()),
    ]
    return {
        "name": location_name(domain, product.name),
        "image": {"repository": product.image_repository, "tag": product.image_tag, "pullPolicy": "IfNotPresent"},
        "dagsterApiGrpcArgs": ["--module-name", "floe.orchestration.definitions"],
        "port": GRPC_PORT,
        "includeConfigInLaunchedRuns": {"enabled": True},
        "labels": {"floe.dev/domain": domain, "floe.dev/product": product.name},
        "env": env,
        "podSecurityContext": _POD_SECURITY,
        "securityContext": _CONTAINER_SECURITY,
        "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"cpu": "2", "memory": "4Gi"}},
        "initContainers": [{
            "name": "stage-floe-state", "image": image, "imagePullPolicy": "IfNotPresent",
            "command": ["/bin/sh", "-c"], "args": [_STAGE_SCRIPT],
            "env": [{"name": "FLOE_IMAGE_ARTIFACTS", "value": ARTIFACTS_DIR}],
            "securityContext": _CONTAINER_SECURITY,
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
            "volumeMounts": [{"name": "floe-state", "mountPath": "/floe-state"},
                             {"name": "floe-artifacts", "mountPath": "/etc/floe/artifacts", "readOnly": True}],
        }],
        "volumes": [
            {"name": "floe-artifacts", "configMap": {"name": artifacts_configmap(domain, product.name)}},
            {"name": "floe-state", "emptyDir": {"sizeLimit": "2Gi"}},
            {"name": "floe-run-state", "emptyDir": {"sizeLimit": "2Gi"}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "512Mi"}},
            {"name": "floe-secrets", "secret": {"secretName": SECRETS_NAME, "optional": True}},
        ],
        "volumeMounts": [
            {"name": "floe-state", "mountPath": ARTIFACTS_DIR},
            {"name": "floe-run-state", "mountPath": f"{PROJECT_DIR}/.floe"},
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "floe-secrets", "mountPath": SECRETS_DIR, "readOnly": True},
        ],
    }


def domain_release_values(domain_name: str, domain_version: str, products: Sequence[ProductRelease],
                          platform_namespace: str = DEFAULT_PLATFORM_NAMESPACE) -> dict[str, Any]:
    """The values of one domain's floe-domain release: ``domain``, ``platform``, ``products`` and the
    products' code locations in ``dagster.dagster-user-deployments.deployments``.

    Raises:
        ValueError: a name is not a short DNS label, a product appears twice, or an image is unpinned
            (the same checks the chart's values schema makes).
    """
    values: dict[str, Any] = {
        "domain": {"name": domain_name, "version": domain_version},
        "platform": {"namespace": platform_namespace},
        "products": [{"name": p.name, "version": p.version,
                      "image": {"repository": p.image_repository, "tag": p.image_tag},
                      "artifacts": p.artifacts_json} for p in products],
        "dagster": {"dagster-user-deployments": {"deployments": [
            _code_location(domain_name, domain_version, p, platform_namespace) for p in products]}},
    }
    FloeDomainValues.model_validate(values)
    return values


# --- the values model (values.schema.json) ----------------------------------------------------

class Domain(HelmModel):
    """The domain this release deploys."""

    name: str = Field(
        default="", pattern=NAME.replace("$", "?$").replace("^", "^(", 1).replace("?$", ")?$"),
        description="Domain name (name the release after it); required to render.",
    )
    version: str = Field(default="", description="Domain version; required to render.")


class Platform(HelmModel):
    """Where the shared services live."""

    namespace: K8sName = Field(
        default=DEFAULT_PLATFORM_NAMESPACE, description="Namespace of polaris, otel-collector and marquez."
    )


class ProductImage(Image):
    """A product's image, pinned."""


class Product(HelmModel):
    """One data product: a code location of the domain's Dagster."""

    name: str = Field(pattern=NAME, description="Product name.")
    version: str = Field(min_length=1, description="Product version.")
    image: ProductImage = Field(description="The product's image (the floe image with its project).")
    artifacts: str = Field(min_length=2, description="The product's compiled artifacts (JSON text).")

    @field_validator("artifacts")
    @classmethod
    def _json_object(cls, value: str) -> str:
        if not value.lstrip().startswith("{"):
            raise ValueError("products[].artifacts must be the JSON text of the product's artifacts.json")
        return value


class FloeDomainValues(ChartValues):
    """Everything ``charts/floe-domain/values.yaml`` may hold."""

    domain: Domain = Field(default_factory=Domain, description="The domain.")
    platform: Platform = Field(default_factory=Platform, description="The platform namespace.")
    products: list[Product] = Field(default_factory=list, description="The domain's data products.")
    dagster: DagsterBlock = Field(default_factory=DagsterBlock, description="The domain's Dagster (official chart).")

    @model_validator(mode="after")
    def _unique_products(self) -> FloeDomainValues:
        names = [p.name for p in self.products]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"products named twice: {', '.join(twice)}")
        return self
