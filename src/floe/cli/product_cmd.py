"""``floe product``: data products of a data mesh domain — init, register, list."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from floe.cli.options import spec_options


@click.group("product")
def product() -> None:
    """Data products: create one in a domain, publish its output ports, list the registered ones.

    \b
    A mesh folder holds the enterprise's platform.yaml and domains/<name>/domain.yaml;
    a product is a floe project below it whose floe.yaml has 'product:'.
      floe product init orders --domain sales:1.0.0
      cd orders && floe compile && floe run && floe product register
      floe product list --json
    """


@product.command("init")
@click.argument("name")
@click.option("--domain", "domain", required=True, metavar="NAME:VERSION",
              help="The domain the product belongs to, at its exact version, e.g. sales:1.0.0.")
def init(name: str, domain: str) -> None:
    """Create data product NAME (folder ./NAME) bound to an existing domain.

    The domain is found in the mesh folder at or above the working folder
    (domains/<name>/domain.yaml), or at $FLOE_DOMAIN_FILE. The product gets the minimal
    template's dbt project, its mart as an output port, and no platform.yaml of its own: it
    runs on the enterprise's.
    """
    from floe.mesh.product_init import init_product

    result = init_product(name, domain)
    click.secho("✓ ", fg="green", nl=False)
    click.echo(f"created product '{name}' of domain {result.domain} {result.domain_version} in {result.project.root}")
    for path in result.project.written:
        click.echo(f"  {path.relative_to(result.project.root)}")
    click.echo(f"\nnext: cd {name} && floe compile && floe run && floe product register")


@product.command("register")
@spec_options
@click.option("--image", default=None, metavar="REPOSITORY[:TAG]",
              help="Image the product runs from [default: floe-<domain>-<product>:<version>].")
def register(pipeline_file: Path, platform_file: Path | None, environment: str | None, image: str | None) -> None:
    """Compile the product, publish its output ports to the shared catalog, record it in its domain.

    Each port's model must be built ('floe run'); its rows become the Iceberg table
    <domain>.<product>.<port> with the port's version and schema in the table's properties.
    The record goes to domains/<domain>/products/<product>.json, and the domain's
    floe-domain.values.yaml is written again from all its records (each product a code location
    of the domain's Dagster).
    """
    from floe.compiler import compile_project
    from floe.mesh.publish import register_product
    from floe.spec.project import load_project

    project = load_project(pipeline_file, environment=environment, platform_path=platform_file)
    result = compile_project(project)
    manifest_path = result.artifacts_path.parent / result.artifacts.dbt.manifest_path
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    repository, tag = _split_image(image)
    registration = register_product(project, result.artifacts_path, manifest,
                                    image_repository=repository, image_tag=tag)
    record = registration.record
    click.secho("✓ ", fg="green", nl=False)
    click.echo(f"registered {record.domain}.{record.name} {record.version} ({registration.record_path})")
    for port in record.ports:
        click.echo(f"  port {port.table} {port.version}: {port.rows} rows, "
                   f"{', '.join(f'{c.name} {c.type}' for c in port.columns)}")
    if project.mesh is not None:
        from floe.cli.domain_cmd import write_domain_values

        # The product becomes a code location of its domain's Dagster at the next helm upgrade.
        services = project.environment.services
        values, count = write_domain_values(project.mesh.domain_path, services.namespace if services else None)
        click.echo(f"  domain release: {values} ({count} product{'s' if count != 1 else ''}; helm upgrade --install "
                   f"{record.domain} charts/floe-domain -n {record.domain} -f {values.name})")


@product.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the registration records as JSON.")
def list_(as_json: bool) -> None:
    """The registered products of every domain of the mesh folder at or above the working folder."""
    from floe.mesh.records import domain_record_dirs, list_records

    records = [record for folder in domain_record_dirs(Path.cwd(), os.environ).values()
               for record in list_records(folder)]
    if as_json:
        click.echo(json.dumps([record.model_dump(mode="json") for record in records], indent=2))
        return
    if not records:
        click.echo("no registered products")
        return
    for record in records:
        ports = ", ".join(f"{port.name} {port.version}" for port in record.ports) or "no ports"
        click.echo(f"{record.domain}.{record.name} {record.version}  image {record.image_repository}:"
                   f"{record.image_tag}  ports: {ports}")


def _split_image(image: str | None) -> tuple[str | None, str | None]:
    if not image:
        return None, None
    repository, sep, tag = image.rpartition(":")
    if not sep or "/" in tag:  # no tag, or the colon was a registry's port
        return image, None
    return repository, tag
