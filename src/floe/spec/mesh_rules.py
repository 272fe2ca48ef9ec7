"""Finding a product's domain and enterprise, and checking that each layer only narrows the one above.

How the layers are found (README.md, "Data mesh"):

* The mesh folder holds the enterprise's ``platform.yaml`` and ``domains/<name>/domain.yaml``.
  A product (a floe.yaml with ``product:``) finds it by walking up from its own folder to the
  first folder with ``domains/<its domain>/domain.yaml``; the platform is that folder's
  platform.yaml unless one is beside floe.yaml, ``--platform`` or $FLOE_PLATFORM_FILE says
  otherwise.
* $FLOE_DOMAIN_FILE names the domain file explicitly (a domain kept in its own repository).

Every rule reports where the lower layer breaks it and names the upper layer's file, key and
what it allows.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from floe.errors import SpecError, SpecIssue
from floe.spec.loading import LoadedSpec, load_spec
from floe.spec.mesh import DOMAIN_FILE, DOMAINS_DIR, MESH_NAME_PATTERN, DomainSpec, same_version
from floe.spec.pipeline import PipelineSpec
from floe.spec.platform import PLATFORM_FILE, EnvironmentSpec, PlatformSpec

DOMAIN_FILE_VARIABLE = "FLOE_DOMAIN_FILE"
RECORDS_DIR = "products"


@dataclass(frozen=True)
class MeshContext:
    """Where a product sits in the mesh: its domain (validated) and the folders that matter."""

    domain_path: Path
    domain: LoadedSpec[DomainSpec]
    product: str

    @property
    def records_dir(self) -> Path:
        """Where the domain keeps its products' registration records."""
        return self.domain_path.parent / RECORDS_DIR


def product_domain_name(pipeline_file: Path) -> str | None:
    """The domain a floe.yaml's ``product:`` names, read leniently (None: not a product, or unreadable).

    For questions asked before (or without) validating floe.yaml: which platform.yaml and
    domain.yaml a product's compile reads.
    """
    from floe.spec.yaml_source import load_yaml_file

    try:
        # floe's bounded reader, as every spec read: a hostile floe.yaml (endless, a pipe, nested
        # 300,000 levels) is refused there, never parsed without limits.
        data = load_yaml_file(pipeline_file).data
    except SpecError:
        return None
    product = data.get("product") if isinstance(data, dict) else None
    domain = product.get("domain") if isinstance(product, dict) else None
    name = domain.get("name") if isinstance(domain, dict) else None
    return name if isinstance(name, str) and name else None


def find_mesh_root(start: Path, domain: str) -> Path | None:
    """The first folder from ``start`` upward that holds ``domains/<domain>/domain.yaml``."""
    for folder in (start, *start.parents):
        if (folder / DOMAINS_DIR / domain / DOMAIN_FILE).is_file():
            return folder
    return None


def mesh_platform_path(pipeline_file: Path, domain: str) -> Path | None:
    """The enterprise platform.yaml a product uses when none is beside it (None: not in a mesh)."""
    start = pipeline_file.absolute().parent
    root = find_mesh_root(start, domain)
    if root is None:
        # No such domain: still the mesh's platform, so that the missing domain is what gets reported.
        root = next((folder for folder in (start, *start.parents)
                     if (folder / DOMAINS_DIR).is_dir() and (folder / PLATFORM_FILE).is_file()), None)
    return root / PLATFORM_FILE if root is not None else None


def domain_path_for(pipeline_file: Path, domain: str, environ: Mapping[str, str]) -> Path | None:
    """$FLOE_DOMAIN_FILE, else ``domains/<domain>/domain.yaml`` of the mesh folder above the product."""
    explicit = environ.get(DOMAIN_FILE_VARIABLE)
    if explicit:
        return Path(explicit)
    root = find_mesh_root(pipeline_file.absolute().parent, domain)
    return root / DOMAINS_DIR / domain / DOMAIN_FILE if root is not None else None


def load_domain(path: Path, environ: Mapping[str, str]) -> LoadedSpec[DomainSpec]:
    """Load and validate one domain.yaml (raises SpecError)."""
    return load_spec(path, DomainSpec, environ, display_name=_shown(path), pipeline_file=False,
                     missing_hint="create it ('floe product init' needs an existing domain)")


def check_domain(domain: LoadedSpec[DomainSpec], platform: LoadedSpec[PlatformSpec],
                 domain_path: Path) -> list[SpecIssue]:
    """The domain belongs to this enterprise and allows nothing the enterprise does not."""
    spec, source = domain.model, domain.source
    enterprise = platform.model.enterprise
    where = platform.source.file
    issues: list[SpecIssue] = []
    if domain_path.parent.parent.name == DOMAINS_DIR and domain_path.parent.name != spec.name:
        issues.append(source.issue(("name",), f"domain '{spec.name}' is in the folder of '{domain_path.parent.name}'",
                                   f"rename the folder to {DOMAINS_DIR}/{spec.name}, or the domain"))
    if enterprise is None:
        issues.append(source.issue(("enterprise",), f"{where} declares no enterprise",
                                   f"add 'enterprise: {{name: {spec.enterprise.name}, version: "
                                   f"{spec.enterprise.version}}}' to {where}", prefer_key=True))
    else:
        if spec.enterprise.name != enterprise.name:
            issues.append(source.issue(("enterprise", "name"), f"enterprise '{spec.enterprise.name}' is not this "
                                       f"platform's: {where} enterprise.name is '{enterprise.name}'",
                                       f"set enterprise.name: {enterprise.name}"))
        elif not same_version(spec.enterprise.version, enterprise.version):
            issues.append(source.issue(("enterprise", "version"), f"enterprise {enterprise.name} is at version "
                                       f"{enterprise.version} ({where} enterprise.version), not "
                                       f"{spec.enterprise.version}",
                                       f"set enterprise.version: {enterprise.version} once the domain is ready "
                                       "for it"))
    environments = platform.model.environments
    offered: dict[str, list[str]] = {
        "compute": sorted({env.compute.type for env in environments.values()}),
        "catalogs": sorted({env.catalog.type for env in environments.values()}),
        "environments": list(environments),
    }
    for key, allowed in offered.items():
        for index, value in enumerate(getattr(spec.allows, key) or []):
            if value not in allowed:
                what = "environment" if key == "environments" else key.rstrip("s")
                issues.append(source.issue(
                    ("allows", key, index), f"{what} '{value}' is not allowed by the enterprise",
                    f"{where} environments offer: {', '.join(allowed)}; a domain may only narrow them"))
    return issues


def check_product(pipeline: LoadedSpec[PipelineSpec], platform: LoadedSpec[PlatformSpec],
                  domain: LoadedSpec[DomainSpec], domain_path: Path,
                  environment_name: str, environment: EnvironmentSpec) -> list[SpecIssue]:
    """The product names its domain as it is, and uses only what the domain allows."""
    import re

    spec, source = pipeline.model, pipeline.source
    product = spec.product
    assert product is not None
    rules = domain.model
    domain_file = _shown(domain_path)
    issues: list[SpecIssue] = []
    if not re.match(MESH_NAME_PATTERN, spec.name):
        issues.append(source.issue(("name",), f"product name '{spec.name}' must be lower case "
                                   "(it names an Iceberg namespace and a SQL schema)",
                                   f"rename it, e.g. {spec.name.lower()}"))
    if product.domain.name != rules.name:
        issues.append(source.issue(("product", "domain", "name"),
                                   f"domain '{product.domain.name}' is not the one in {domain_file} "
                                   f"('{rules.name}')",
                                   f"set product.domain.name: {rules.name}, or point {DOMAIN_FILE_VARIABLE} at "
                                   f"the domain's file"))
    elif not same_version(product.domain.version, rules.version):
        issues.append(source.issue(("product", "domain", "version"),
                                   f"domain {rules.name} is at version {rules.version} ({domain_file} version), "
                                   f"not {product.domain.version}",
                                   f"set product.domain.version: {rules.version} and compile again"))
    allows, quotas = rules.allows, rules.quotas
    env_where = ("environments", environment_name)
    if allows.environments is not None and environment_name not in allows.environments:
        issues.append(platform.source.issue(
            env_where, f"domain {rules.name} does not allow environment '{environment_name}'",
            f"{domain_file} allows.environments: {', '.join(allows.environments)}; compile with --env one of them",
            prefer_key=True))
    if allows.compute is not None and environment.compute.type not in allows.compute:
        issues.append(platform.source.issue(
            (*env_where, "compute", "type"),
            f"domain {rules.name} does not allow compute '{environment.compute.type}' for its products",
            f"{domain_file} allows.compute: {', '.join(allows.compute)}; compile for an environment that uses one"))
    if allows.catalogs is not None and environment.catalog.type not in allows.catalogs:
        issues.append(platform.source.issue(
            (*env_where, "catalog", "type"),
            f"domain {rules.name} does not allow catalog '{environment.catalog.type}' for its products",
            f"{domain_file} allows.catalogs: {', '.join(allows.catalogs)}; compile for an environment that uses one"))
    if quotas.max_schedules is not None and len(spec.schedules) > quotas.max_schedules:
        issues.append(source.issue(
            ("schedules",), f"{len(spec.schedules)} schedules; domain {rules.name} allows at most "
                            f"{quotas.max_schedules} per product",
            f"{domain_file} quotas.max_schedules is {quotas.max_schedules}; remove schedules or merge them into "
            "one job", prefer_key=True))
    if quotas.max_threads is not None and environment.compute.threads > quotas.max_threads:
        issues.append(platform.source.issue(
            (*env_where, "compute", "threads"),
            f"{environment.compute.threads} dbt threads; domain {rules.name} allows at most {quotas.max_threads}",
            f"{domain_file} quotas.max_threads is {quotas.max_threads}; set compute.threads to at most that",
            prefer_key=True))
    issues.extend(_check_ports(pipeline, rules.name))
    return issues


def _check_ports(pipeline: LoadedSpec[PipelineSpec], domain: str) -> list[SpecIssue]:
    spec, source = pipeline.model, pipeline.source
    assert spec.product is not None
    ports = spec.product.ports
    issues: list[SpecIssue] = []
    seen: dict[str, int] = {}
    for index, port in enumerate(ports.outputs):
        if port.name in seen:
            issues.append(source.issue(("product", "ports", "outputs", index, "name"),
                                       f"output port '{port.name}' is declared twice",
                                       f"the first is product.ports.outputs[{seen[port.name]}]; rename one"))
        seen.setdefault(port.name, index)
    own = f"{domain}.{spec.name}."
    for index, consumed in enumerate(ports.inputs):
        if consumed.name.startswith(own):
            issues.append(source.issue(("product", "ports", "inputs", index, "name"),
                                       f"'{consumed.name}' is this product's own port",
                                       "read your own marts with ref(); input ports are other products'"))
    return issues


def resolve_mesh(pipeline: LoadedSpec[PipelineSpec], pipeline_file: Path,
                 environ: Mapping[str, str]) -> tuple[Path | None, list[SpecIssue]]:
    """The domain file of a product, or the issue saying why none was found."""
    product = pipeline.model.product
    assert product is not None
    path = domain_path_for(pipeline_file, product.domain.name, environ)
    if path is None:
        return None, [pipeline.source.issue(
            ("product", "domain", "name"), f"domain '{product.domain.name}' was not found",
            f"no {DOMAINS_DIR}/{product.domain.name}/{DOMAIN_FILE} in this folder or above it; create the domain "
            f"in the mesh folder (beside the enterprise's platform.yaml), or set {DOMAIN_FILE_VARIABLE}")]
    return path, []


def _shown(path: Path) -> str:
    try:
        return str(path.absolute().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def environ_or_default(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    """The process environment unless one was given."""
    return os.environ if environ is None else environ
