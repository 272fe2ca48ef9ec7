"""``floe init``."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("name", type=click.Path(path_type=Path), required=False)
@click.option("--template", "-t", type=click.Choice(["minimal", "ecommerce"]), default=None,
              help="minimal (the default): seeds, a staging view, a mart. ecommerce: the live demo, "
                   "synthetic orders landing in Iceberg, built through staging, intermediate and marts.")
@click.option("--from-dbt", "from_dbt", type=click.Path(path_type=Path), default=None,
              help="Wrap this existing dbt project where it lives: floe.yaml refers to it by a relative "
                   "path; nothing is copied and its files stay as they are.")
@click.option("--force", is_flag=True,
              help="Replace floe.yaml (and a template's dbt files) when they exist. An existing "
                   "platform.yaml is never replaced, and an existing .gitignore only gets '.floe/' added.")
def init(name: Path | None, template: str | None, from_dbt: Path | None, force: bool) -> None:
    """Create a project NAME that runs as it is.

    \b
    Writes floe.yaml, platform.yaml (a 'dev' environment on embedded DuckDB and SQLite)
    and a dbt project with seeds, a staging view, a mart table and tests. Then:
      cd NAME && floe validate && floe compile && floe run

    \b
    With --from-dbt PATH, or run inside a dbt project (NAME may then be omitted), floe.yaml
    wraps that dbt project instead: 'path: ../shop_dbt', or 'path: .' when floe.yaml sits
    in it. Edits to the dbt project are seen by the next compile; its own profiles.yml is
    not used (platform.yaml says where models are built).
    """
    from floe.errors import FloeError
    from floe.scaffold import init_project
    from floe.scaffold.init import is_dbt_project

    if name is None:
        if from_dbt is None and not is_dbt_project(Path.cwd()):
            raise FloeError("floe init needs NAME, the folder to create",
                            hint="run 'floe init NAME', or run 'floe init' inside a dbt project to wrap it")
        name = Path(".")
    result = init_project(name, template=template, from_dbt=from_dbt, force=force)
    click.secho("✓ ", fg="green", nl=False)
    click.echo(f"created project '{result.name}' in {result.root}")
    for path in result.written:
        click.echo(f"  {path.relative_to(result.root)}")
    for path in result.appended:
        click.echo(f"  {path.relative_to(result.root)} (added .floe/)")
    for path in result.kept:
        click.echo(f"  {path.relative_to(result.root)} (kept as it was)")
    if result.wrapped:
        click.echo(f"  wraps the dbt project in {result.dbt_project_dir} as 'path: {result.dbt_path}' "
                   "(nothing copied; its files are unchanged)")
    for note in result.notes:
        click.secho(f"note: {note}", fg="yellow", err=True)
    where = "" if result.root == Path.cwd().resolve() else f"cd {name} && "
    click.echo(f"\nnext: {where}floe validate && floe compile && floe run")
