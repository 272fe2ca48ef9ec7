"""``floe platform render --chart floe-platform``: the shared layer's plugins from platform.yaml.

The environment's ``services:`` block (floe.spec.platform_services) chooses the plugins of
charts/floe-platform; this module turns it into the plugin switches and wires the plugins
together: the orchestrator gets floe-runtime's generated ``dagster`` and ``floe-dagster`` blocks
(the same layout), Polaris bootstraps the catalog the artifacts name (``catalog.warehouse``), the
observability chart deploys exactly the services selected, and the namespace plugin guards the
services' namespace. The spec already refused a selection the environment contradicts (the
catalog URL, the tracing endpoint and the lineage URL name these Services), so the wiring the
runs use and the objects deployed agree. The release's namespace is the services' namespace.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml

from floe.contract.io import write_text_atomic
from floe.contract.v1 import ArtifactsV1
from floe.errors import FloeError
from floe.platform.helm.generate import cube_model_files, deep_merge, runtime_values
from floe.platform.helm.platform_chart_values import PLUGINS
from floe.platform.helm.render import (
    RenderResult,
    _drop_official_dependency,
    _load_yaml,
    _renderer,
    _validate,
    official_chart_present,
    package_local_dependencies,
)
from floe.platform.helm.runtime_values import check_dagster_workloads, floe_image_overrides
from floe.spec.platform_services import PlatformServices

PLATFORM_CHART = "floe-platform"
VALUES_FILE = "values-{env}.floe-platform.generated.yaml"
MANIFESTS_FILE = "manifests-{env}.floe-platform.yaml"


def selected_plugins(services: PlatformServices) -> dict[str, bool]:
    """floe-platform's switch of each plugin for a ``services:`` selection."""
    return {
        "orchestrator": services.orchestrator == "dagster",
        "catalog": services.catalog == "polaris",
        "semantic": services.semantic == "cube",
        "observability": services.observability.any,
        "namespace": services.guard_namespace,
    }


def merged_platform_values(charts_dir: Path, env: str) -> dict[str, Any]:
    """floe-platform's values for ``env``: each plugin chart's defaults, the meta-chart's, the env file."""
    values = _load_yaml(charts_dir / PLATFORM_CHART / "values.yaml")
    for chart in PLUGINS.values():
        values[chart] = deep_merge(_load_yaml(charts_dir / chart / "values.yaml"), values.get(chart, {}))
    return deep_merge(values, _load_yaml(charts_dir / PLATFORM_CHART / f"values-{env}.yaml"))


def platform_values(artifacts: ArtifactsV1, artifacts_text: str, chart_values: dict[str, Any],
                    cube_model: dict[str, str], declared: dict[str, Any] | None = None) -> dict[str, Any]:
    """The values floe generates for floe-platform (over ``chart_values``, its merged values).

    Raises:
        FloeError: the environment selects no services.
    """
    services = artifacts.environment.services
    if services is None:
        raise FloeError(f"environment '{artifacts.environment_name}' declares no services: floe-platform has "
                        "nothing to deploy",
                        hint="add environments.<env>.services to platform.yaml (e.g. catalog: polaris, "
                        "observability: {collector: true}), or render floe-runtime (without --chart)")
    switches = selected_plugins(services)
    values: dict[str, Any] = {plugin: {"enabled": on} for plugin, on in switches.items()}
    runtime = runtime_values(artifacts, artifacts_text, chart_values, cube_model, declared=declared)
    if switches["orchestrator"]:
        values["dagster"] = runtime["dagster"]
        values["floe-dagster"] = runtime["floe-dagster"]
    if switches["semantic"]:
        values["floe-cube"] = runtime.get("floe-cube", {})
    catalog = artifacts.environment.catalog
    if switches["catalog"] and catalog.type == "rest":
        # The catalog the runs open is the one the bootstrap hook creates.
        values["floe-polaris"] = {"bootstrap": {"catalog": {"name": catalog.warehouse}}}
    if switches["observability"]:
        chosen = services.observability
        values["floe-observability"] = {
            "collector": {"enabled": chosen.collector}, "marquez": {"enabled": chosen.marquez},
            "jaeger": {"enabled": chosen.jaeger}, "prometheus": {"serviceMonitor": {"enabled": chosen.prometheus}},
        }
    if switches["namespace"]:
        values["floe-namespace"] = {"namespaces": [
            {"name": services.namespace, "create": False, "labels": {"floe.dev/layer": "platform"}}]}
    return values


def _orchestrator_view(values: dict[str, Any]) -> dict[str, Any]:
    """floe-platform's values as floe-runtime's checks read them (one switch for both blocks)."""
    on = bool(values.get("orchestrator", {}).get("enabled", True))
    return {**values, "dagster": {**values.get("dagster", {}), "enabled": on},
            "floe-dagster": {**values.get("floe-dagster", {}), "enabled": on}}


def render_platform_environment(
    artifacts_path: Path, charts_dir: Path, output: Path, *, release: str = "floe-platform",
    namespace: str | None = None, cube_dir: Path | None = None,
) -> RenderResult:
    """Write floe-platform's generated values and rendered manifests for the artifacts' environment.

    Raises:
        FloeError: no services selected, a namespace other than the services', values refused by a
            plugin's schema, or Helm refusing the release.
    """
    from floe.contract.io import load_artifacts

    artifacts = load_artifacts(artifacts_path)
    env = artifacts.environment_name
    if not (charts_dir / PLATFORM_CHART / "Chart.yaml").is_file():
        raise FloeError(f"{charts_dir}: not floe's charts folder (no {PLATFORM_CHART}/Chart.yaml)",
                        hint="pass --charts with the path of floe's charts/ folder")
    chart_values = merged_platform_values(charts_dir, env)
    env_file = charts_dir / PLATFORM_CHART / f"values-{env}.yaml"
    declared = _load_yaml(env_file)
    generated = platform_values(artifacts, artifacts_path.read_text(encoding="utf-8"), chart_values,
                                cube_model_files(cube_dir or artifacts_path.parent / "cube"), declared=declared)
    services = artifacts.environment.services
    assert services is not None  # platform_values refused it otherwise
    if namespace is not None and namespace != services.namespace:
        raise FloeError(f"--namespace {namespace} differs from services.namespace '{services.namespace}' of "
                        f"environment '{env}': the catalog URL and the endpoints in the artifacts name that namespace",
                        hint=f"drop --namespace, or set services.namespace: {namespace} in platform.yaml")
    merged = deep_merge(chart_values, generated)
    if generated["orchestrator"]["enabled"]:
        check_dagster_workloads(_orchestrator_view(merged), where=f"{env_file} (over {PLATFORM_CHART}/values.yaml)")
        image = floe_image_overrides(_orchestrator_view(merged))
        generated = deep_merge(generated, {"dagster": image["dagster"], "floe-dagster": image["floe-dagster"]})
        merged = deep_merge(chart_values, generated)
    for plugin, chart in PLUGINS.items():
        if generated[plugin]["enabled"]:
            _validate(chart, merged.get(chart, {}), env_file, f"{chart}.")
    _validate(PLATFORM_CHART, merged, env_file, "")
    values = deep_merge(declared, generated)
    notes: list[str] = []
    policy = merged.get("floe-namespace", {}).get("networkPolicy", {})
    if generated["namespace"]["enabled"] and policy.get("enabled", True) and not policy.get("egressTo"):
        # Default deny: PostgreSQL, object storage and vaults outside the cluster are unreachable
        # until listed; the platform cannot know their addresses.
        notes.append("floe-namespace denies egress beyond the cluster: list the addresses of your PostgreSQL "
                     f"servers and object storage in floe-namespace.networkPolicy.egressTo ({env_file.name})")
    with tempfile.TemporaryDirectory(prefix="floe-charts-") as tmp:
        copy = Path(tmp) / "charts"
        shutil.copytree(charts_dir, copy, ignore=shutil.ignore_patterns("*.generated.yaml"))
        package_local_dependencies(copy / PLATFORM_CHART)
        if not official_chart_present(charts_dir / PLATFORM_CHART):
            _drop_official_dependency(copy / PLATFORM_CHART)
            if generated["orchestrator"]["enabled"]:
                notes.append(f"the official dagster chart is not in charts/{PLATFORM_CHART}/charts: rendered "
                             "without Dagster's own objects (run 'helm dependency build "
                             f"charts/{PLATFORM_CHART}' online first)")
        try:
            text = _renderer()(copy / PLATFORM_CHART, values, release, services.namespace)
        except FloeError:
            raise
        except Exception as exc:  # noqa: BLE001 - Helm's own errors carry the template and key
            raise FloeError(f"helm could not render {PLATFORM_CHART} for '{env}': {exc}") from None
    documents = [d for d in yaml.safe_load_all(text) if d]
    values_path = output / VALUES_FILE.format(env=env)
    manifests_path = output / MANIFESTS_FILE.format(env=env)
    header = (f"# Generated by 'floe platform render --chart {PLATFORM_CHART}' for '{env}'. "
              "Secrets appear by name only.\n")
    write_text_atomic(values_path, header + yaml.safe_dump(values, sort_keys=False))
    write_text_atomic(manifests_path, header + text)
    objects = [f"{d['kind']}/{d['metadata']['name']}" for d in documents]
    return RenderResult(values_path, manifests_path, objects, notes)
