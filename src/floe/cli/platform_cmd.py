"""``floe platform``: Helm values and manifests for Kubernetes, and deploying them."""

from __future__ import annotations

from pathlib import Path

import click

from floe.cli.options import spec_options


def _artifacts_path(pipeline_file: Path, environment: str | None, platform_file: Path | None) -> Path:
    from floe.compiler.freshness import ensure_compiled

    fresh = ensure_compiled(pipeline_file, environment=environment, platform_file=platform_file, output_dir=None)
    if fresh.compiled:
        click.echo(f"compiled ({fresh.reason})", err=True)
    return fresh.artifacts_path


_charts = click.option("--charts", "charts_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
                       help="floe's charts/ folder [default: the charts/ folder beside the project or above it].")


def _find_charts(given: Path | None, pipeline_file: Path) -> Path:
    """``--charts``, else the nearest ``charts/`` holding floe-runtime, from the project upwards."""
    if given is not None:
        return given
    from floe.spec.project import project_root

    start = project_root(pipeline_file)
    for folder in [start, *start.parents]:
        if (folder / "charts" / "floe-runtime" / "Chart.yaml").is_file():
            return folder / "charts"
    return Path("charts")  # not found: rendering says so, with the --charts hint
_release = click.option("--release", default="floe", show_default=True, help="Helm release name.")
_namespace = click.option("--namespace", "-n", default="floe", show_default=True, help="Kubernetes namespace.")


@click.group("platform")
def platform() -> None:
    """Deploy the compiled project to Kubernetes with floe's Helm charts.

    \b
      floe platform render --env prod           values + manifests in .floe/platform/
      floe platform deploy --env prod --dry-run render and validate only
      floe platform deploy --env prod           helm upgrade --install (helm + cluster)
    """


@platform.command()
@spec_options
@_charts
@click.option("--chart", type=click.Choice(["floe-runtime", "floe-platform"]), default="floe-runtime",
              show_default=True, help="floe-runtime: the project's release; floe-platform: the shared services "
              "that the environment's services: block selects.")
@click.option("--release", default=None, help="Helm release name [default: floe, or floe-platform with --chart "
              "floe-platform].")
@click.option("--namespace", "-n", default=None, help="Kubernetes namespace [default: floe, or services.namespace "
              "with --chart floe-platform].")
@click.option("--output", "-o", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Folder for values-ENV.generated.yaml and manifests-ENV.yaml [default: .floe/platform].")
def render(pipeline_file: Path, platform_file: Path | None, environment: str | None, charts_dir: Path | None,
           chart: str, release: str | None, namespace: str | None, output: Path | None) -> None:
    """Write the Helm values generated from the artifacts, and the manifests they render."""
    artifacts = _artifacts_path(pipeline_file, environment, platform_file)
    charts = _find_charts(charts_dir, pipeline_file)
    folder = output or artifacts.parent / "platform"
    if chart == "floe-platform":
        from floe.platform.helm.platform_render import render_platform_environment

        result = render_platform_environment(artifacts, charts, folder, release=release or "floe-platform",
                                             namespace=namespace)
    else:
        from floe.platform.helm.render import render_environment

        result = render_environment(artifacts, charts, folder, release=release or "floe",
                                    namespace=namespace or "floe")
    _report(result)


@platform.command()
@spec_options
@_charts
@_release
@_namespace
@click.option("--dry-run", is_flag=True, help="Render and validate only; touch no cluster.")
def deploy(pipeline_file: Path, platform_file: Path | None, environment: str | None, charts_dir: Path | None,
           release: str, namespace: str, dry_run: bool) -> None:
    """helm dependency build + helm upgrade --install of floe-runtime for one environment."""
    from floe.platform.helm.render import deploy_environment

    artifacts = _artifacts_path(pipeline_file, environment, platform_file)
    charts = _find_charts(charts_dir, pipeline_file)
    result = deploy_environment(artifacts, charts, artifacts.parent / "platform", release=release,
                                namespace=namespace, dry_run=dry_run)
    _report(result)
    click.echo("dry run: nothing was installed" if dry_run else f"deployed release {release} in {namespace}")


def _report(result: object) -> None:
    from floe.platform.helm.render import RenderResult

    assert isinstance(result, RenderResult)
    click.echo(f"values:    {result.values_path}")
    click.echo(f"manifests: {result.manifests_path} ({len(result.objects)} objects)")
    for note in result.notes:
        click.secho(f"note: {note}", fg="yellow", err=True)
