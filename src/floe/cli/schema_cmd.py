"""``floe schema``: the JSON Schemas of floe.yaml, platform.yaml and the compiled artifacts."""

from __future__ import annotations

from pathlib import Path

import click

from floe.contract.schema import DEFAULT_SCHEMA_DIR, SCHEMA_FILES


@click.group("schema")
def schema() -> None:
    """JSON Schemas of floe.yaml, platform.yaml and the compiled artifacts.

    \b
    floe.schema.json          floe.yaml, the pipeline spec
    platform.schema.json      platform.yaml, the platform spec
    domain.schema.json        domain.yaml, a data mesh domain
    artifacts.v1.schema.json  .floe/artifacts.json, schema_version 1
    preflight.v1.schema.json  the report of 'floe preflight --json'
    product-record.v1.schema.json  a data product's registration record

    Point your editor at them for completion and inline errors; with the YAML language
    server (VS Code's YAML extension), put this first line in floe.yaml:

    \b
      # yaml-language-server: $schema=schemas/floe.schema.json
    """


@schema.command("export")
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path(DEFAULT_SCHEMA_DIR),
    show_default=True,
    metavar="DIR",
    help="Folder to write the schemas into; created if missing.",
)
def export(output: Path) -> None:
    """Write every schema into a folder, replacing the files there.

    Writes floe.schema.json (for floe.yaml), platform.schema.json (for platform.yaml),
    domain.schema.json (for a data mesh's domain.yaml), artifacts.v1.schema.json (for
    .floe/artifacts.json), preflight.v1.schema.json (for 'floe preflight --json') and
    product-record.v1.schema.json (for 'floe product register' records). Each
    file is written atomically as sorted, indented JSON (JSON Schema draft 2020-12), so
    regenerated schemas diff cleanly.
    The floe repository commits its copy under schemas/ and regenerates it with
    'make generate'.

    \b
    Examples:
      floe schema export                     write ./schemas/*.schema.json
      floe schema export -o .vscode/schemas  somewhere else
    """
    from floe.contract.schema import export_schemas

    for path in export_schemas(output):
        click.secho("✓ ", fg="green", nl=False)
        click.echo(f"wrote {path}")


@schema.command("show")
@click.argument(
    "name", metavar="NAME", type=click.Choice([*SCHEMA_FILES, *SCHEMA_FILES.values()], case_sensitive=False)
)
def show(name: str) -> None:
    """Print one schema to stdout.

    NAME is floe, platform, domain, artifacts, preflight or product-record (or the file name, e.g. floe.schema.json).

    \b
    Example:
      floe schema show platform > platform.schema.json
    """
    from floe.contract.schema import schema_text

    click.echo(schema_text(name.lower()), nl=False)
