"""``floe init``."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("name", type=click.Path(path_type=Path))
@click.option("--template", "-t", type=click.Choice(["minimal", "ecommerce"]), default="minimal", show_default=True,
              help="minimal: seeds, a staging view, a mart. ecommerce: the live demo, synthetic orders "
                   "landing in Iceberg, built through staging, intermediate and marts.")
@click.option("--from-dbt", "from_dbt", type=click.Path(path_type=Path), default=None,
              help="Wrap this existing dbt project instead of the template's (its files stay as they are).")
@click.option("--force", is_flag=True, help="Replace files that already exist.")
def init(name: Path, template: str, from_dbt: Path | None, force: bool) -> None:
    """Create a project NAME that runs as it is.

    \b
    Writes floe.yaml, platform.yaml (a 'dev' environment on embedded DuckDB and SQLite)
    and a dbt project with seeds, a staging view, a mart table and tests. Then:
      cd NAME && floe validate && floe compile && floe run
    """
    from floe.scaffold import init_project

    result = init_project(name, template=template, from_dbt=from_dbt, force=force)
    click.secho("✓ ", fg="green", nl=False)
    click.echo(f"created project '{result.name}' in {name}")
    for path in result.written:
        click.echo(f"  {path.relative_to(result.root)}")
    if result.copied_from is not None:
        click.echo(f"  dbt/ (copied from {result.copied_from}; the original is unchanged)")
    elif from_dbt is not None and result.dbt_project_dir is not None:
        click.echo(f"  wraps the dbt project in {result.dbt_project_dir} (its files are unchanged)")
    click.echo(f"\nnext: cd {name} && floe validate && floe compile && floe run")
