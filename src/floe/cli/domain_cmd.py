"""``floe domain``: a data mesh domain as Kubernetes deploys it (the floe-domain chart's values).

The registered products of a domain (``domains/<domain>/products/*.json``, written by ``floe
product register``) become the values of the domain's ``charts/floe-domain`` release: one code
location of the domain's Dagster per product, with its image and its compiled artifacts. ``floe
product register`` refreshes the file after each registration; ``floe domain values`` writes it
again (e.g. for another platform namespace). The glue lives here because the mesh (records)
and the platform (chart values) are two layers that do not know each other.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

VALUES_FILE = "floe-domain.values.yaml"


def write_domain_values(domain_file: Path, platform_namespace: str | None = None) -> tuple[Path, int]:
    """Write ``floe-domain.values.yaml`` beside ``domain_file`` from the domain's registration
    records (atomically); returns the file and how many products it holds.

    Raises:
        FloeError: a record's artifacts are missing, or the values break the chart's rules.
    """
    import yaml

    from floe.contract.io import write_text_atomic
    from floe.errors import FloeError
    from floe.mesh.records import list_records
    from floe.platform.helm.domain_values import DEFAULT_PLATFORM_NAMESPACE, ProductRelease, domain_release_values
    from floe.spec.mesh_rules import RECORDS_DIR, load_domain

    folder = domain_file.parent
    domain = load_domain(domain_file, os.environ).model
    products = []
    for record in list_records(folder / RECORDS_DIR):
        artifacts = folder / record.artifacts_json
        try:
            artifacts_text = artifacts.read_text(encoding="utf-8")
        except OSError as exc:
            raise FloeError(f"{folder / RECORDS_DIR / (record.name + '.json')}: the product's artifacts {artifacts} "
                            f"cannot be read ({exc.strerror})",
                            hint=f"compile and register product '{record.name}' again") from None
        products.append(ProductRelease(record.name, record.version, record.image_repository, record.image_tag,
                                       artifacts_text))
    try:
        values = domain_release_values(domain.name, domain.version, products,
                                       platform_namespace=platform_namespace or DEFAULT_PLATFORM_NAMESPACE)
    except ValueError as exc:
        raise FloeError(f"{domain_file}: the domain's products cannot be deployed by floe-domain: {exc}",
                        hint="rename or re-register the product the message names") from None
    target = folder / VALUES_FILE
    header = (f"# floe-domain values of domain {domain.name} {domain.version}: written by floe from\n"
              f"# {RECORDS_DIR}/*.json (floe product register / floe domain values); do not edit.\n")
    write_text_atomic(target, header + yaml.safe_dump(values, sort_keys=False))
    return target, len(products)


@click.group("domain")
def domain() -> None:
    """Data mesh domains: what Kubernetes deploys for each (charts/floe-domain).

    \b
    floe domain values sales                  domains/sales/floe-domain.values.yaml
    helm upgrade --install sales charts/floe-domain -n sales \\
        -f domains/sales/floe-domain.values.yaml
    """


@domain.command("values")
@click.argument("name")
@click.option("--platform-namespace", default=None, metavar="NAMESPACE",
              help="Namespace of the shared services (Polaris, the collector, Marquez) [default: floe-platform].")
@click.option("--json", "as_json", is_flag=True, help="Print the file written and the products as JSON.")
def values(name: str, platform_namespace: str | None, as_json: bool) -> None:
    """Write the floe-domain values of domain NAME from its registered products.

    The domain is found in the mesh folder at or above the working folder
    (domains/NAME/domain.yaml), or at $FLOE_DOMAIN_FILE. Each registered product becomes a code
    location of the domain's Dagster: its image, and its compiled artifacts in a ConfigMap.
    """
    from floe.errors import FloeError
    from floe.mesh.records import domain_record_dirs

    folders = domain_record_dirs(Path.cwd(), os.environ)
    if name not in folders:
        known = ", ".join(sorted(folders)) or "none"
        raise FloeError(f"no domain '{name}' in the mesh folder at or above {Path.cwd()} (domains: {known})",
                        hint="run in the mesh folder (the one holding domains/<name>/domain.yaml), or set "
                             "$FLOE_DOMAIN_FILE")
    from floe.spec.mesh import DOMAIN_FILE

    target, count = write_domain_values(folders[name].parent / DOMAIN_FILE, platform_namespace)
    if as_json:
        click.echo(json.dumps({"domain": name, "values": str(target), "products": count}, indent=2))
        return
    click.echo(f"wrote {target} ({count} product{'s' if count != 1 else ''})")
    click.echo(f"  helm upgrade --install {name} charts/floe-domain -n {name} -f {target}")
