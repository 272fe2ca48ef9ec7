"""``floe product init``: a data product bound to an existing domain, from the minimal template."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from floe.errors import FloeError, SpecError
from floe.mesh.records import list_records
from floe.scaffold import init_project
from floe.scaffold.init import InitResult
from floe.spec.mesh import DOMAIN_FILE, DOMAINS_DIR, MESH_NAME_PATTERN, parse_version, same_version
from floe.spec.mesh_rules import DOMAIN_FILE_VARIABLE, RECORDS_DIR, check_domain, find_mesh_root, load_domain
from floe.spec.platform import PLATFORM_FILE

# The template's mart, published as the new product's first output port.
TEMPLATE_MART = "customer_revenue"


@dataclass(frozen=True)
class ProductInitResult:
    """What ``floe product init`` did."""

    project: InitResult
    domain: str
    domain_version: str
    domain_path: Path


def parse_domain_ref(text: str) -> tuple[str, str]:
    """``sales:1.0.0`` (or ``sales:v1.0.0``) as name and version.

    Raises:
        FloeError: not NAME:VERSION.
    """
    import re

    name, sep, version = text.partition(":")
    if not sep or not re.match(MESH_NAME_PATTERN, name) or parse_version(version) is None:
        raise FloeError(f"--domain {text!r} is not NAME:VERSION",
                        hint="give the domain's name and exact version, e.g. --domain sales:1.0.0")
    return name, version


def init_product(name: str, domain_ref: str, *, parent: Path | None = None,
                 environ: Mapping[str, str] | None = None) -> ProductInitResult:
    """Create product ``name`` in ``parent/name`` (default: the working folder), bound to its domain.

    The domain is found as compile finds it ($FLOE_DOMAIN_FILE, else ``domains/<name>/domain.yaml``
    in ``parent`` or a folder above it); it must exist, be at the version asked for, belong to the
    enterprise, and have room for another product.

    Raises:
        FloeError: no such domain, another version, a full domain, a bad name, or files in the way.
    """
    import re

    env = os.environ if environ is None else environ
    if not re.match(MESH_NAME_PATTERN, name):
        suggestion = re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_") or "orders"
        raise FloeError(f"product name {name!r} must be lower case letters, digits and '_', starting with a letter",
                        hint=f"e.g. floe product init {suggestion}")
    domain_name, version = parse_domain_ref(domain_ref)
    base = (parent or Path.cwd()).absolute()
    domain_path = _domain_path(base, domain_name, env)
    try:
        domain = load_domain(domain_path, env)
        platform_path = _enterprise_platform(domain_path, env)
        from floe.spec.loading import load_spec
        from floe.spec.platform import PlatformSpec

        platform = load_spec(platform_path, PlatformSpec, env, display_name=str(platform_path), pipeline_file=False)
    except SpecError as exc:
        raise FloeError(f"domain {domain_name} cannot be used: {exc.message}",
                        hint="fix the domain (or the enterprise platform.yaml) first") from None
    issues = check_domain(domain, platform, domain_path)
    if issues:
        raise FloeError(f"domain {domain_name} cannot be used:\n" + "\n".join(i.render() for i in issues),
                        hint="fix domain.yaml so that it only narrows what the enterprise allows")
    if not same_version(version, domain.model.version):
        raise FloeError(f"domain {domain_name} is at version {domain.model.version} ({domain_path}), not {version}",
                        hint=f"run 'floe product init {name} --domain {domain_name}:{domain.model.version}'")
    quota = domain.model.quotas.max_products
    registered = {record.name for record in list_records(domain_path.parent / RECORDS_DIR)}
    if quota is not None and name not in registered and len(registered) >= quota:
        raise FloeError(f"domain {domain_name} already has {len(registered)} registered products, its quota "
                        f"({domain_path} quotas.max_products: {quota})",
                        hint="retire a product (delete its record) or ask the domain owners to raise the quota")
    target = base / name
    result = init_project(target, template="minimal")
    beside = target / PLATFORM_FILE
    if beside in result.written:
        # The product runs on its enterprise's platform, found in the mesh folder above it.
        beside.unlink()
        result.written.remove(beside)
    floe_yaml = target / "floe.yaml"
    text = floe_yaml.read_text(encoding="utf-8").replace(f"name: {project_name(target)}", f"name: {name}", 1)
    floe_yaml.write_text(text + _product_block(domain_name, domain.model.version), encoding="utf-8")
    _ignore_ports_sources(target)
    return ProductInitResult(result, domain_name, domain.model.version, domain_path)


def _ignore_ports_sources(root: Path) -> None:
    """Keep the input ports' dbt sources out of git: every compile rewrites them from the
    shared catalog, so they are a build output, not the product's code."""
    from floe.mesh.product_compile import ports_sources_path

    line = "/" + ports_sources_path(root / "dbt").relative_to(root).as_posix()
    path = root / ".gitignore"
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    if line in {entry.strip() for entry in text.splitlines()}:
        return
    separator = "" if not text or text.endswith("\n") else "\n"
    path.write_text(f"{text}{separator}{line}\n", encoding="utf-8")


def project_name(target: Path) -> str:
    """The name floe init gave the project in ``target``."""
    from floe.scaffold.init import project_name_for

    return project_name_for(target)


def _domain_path(base: Path, domain: str, env: Mapping[str, str]) -> Path:
    explicit = env.get(DOMAIN_FILE_VARIABLE)
    if explicit:
        return Path(explicit)
    root = find_mesh_root(base, domain)
    if root is None:
        known = sorted({path.parent.name for folder in (base, *base.parents)
                        for path in (folder / DOMAINS_DIR).glob(f"*/{DOMAIN_FILE}")})
        raise FloeError(f"domain '{domain}' does not exist: no {DOMAINS_DIR}/{domain}/{DOMAIN_FILE} in {base} or "
                        "above it",
                        hint=(f"existing domains: {', '.join(known)}" if known else
                              f"create {DOMAINS_DIR}/{domain}/{DOMAIN_FILE} beside the enterprise's platform.yaml")
                        + f", or set {DOMAIN_FILE_VARIABLE}")
    return root / DOMAINS_DIR / domain / DOMAIN_FILE


def _enterprise_platform(domain_path: Path, env: Mapping[str, str]) -> Path:
    override = env.get("FLOE_PLATFORM_FILE")
    return Path(override) if override else domain_path.parent.parent.parent / PLATFORM_FILE


def _product_block(domain: str, version: str) -> str:
    return f"""
# A data product of domain {domain}: compile checks it against domains/{domain}/domain.yaml,
# 'floe product register' publishes its output ports to the shared catalog.
product:
  domain:
    name: {domain}
    version: "{version}"
  ports:
    outputs:
      - name: {TEMPLATE_MART}
        model: {TEMPLATE_MART}
        version: "1.0.0"
        description: Revenue per customer.
    # Other products' ports this one reads, e.g.
    #   - name: <domain>.<product>.<port>
    #     version: "^1.0.0"
    #     columns: {{customer_id: bigint, revenue: double}}
    inputs: []
"""
