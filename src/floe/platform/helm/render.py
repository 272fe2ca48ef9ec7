"""``floe platform render`` and ``floe platform deploy``: values and manifests of one environment.

Rendering uses Helm's Go SDK through pip ``helm-python-sdk`` when it is installed, else the
``helm`` binary on PATH. Deploying needs the ``helm`` binary and a cluster (kubeconfig); with
``dry_run`` it only renders and validates.

The release is the umbrella chart floe-runtime, laid out as Argo CD and Flux install it: the
official Dagster chart is the umbrella's own dependency (top-level ``dagster:`` values, fetched
by ``helm dependency build charts/floe-runtime``) and floe's charts are ``file://`` subcharts,
packaged here from the working copy as that command would.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from floe.contract.io import write_text_atomic
from floe.errors import FloeError
from floe.platform.helm.generate import cube_model_files, deep_merge, runtime_values
from floe.platform.helm.runtime_values import check_dagster_workloads, floe_image_overrides
from floe.platform.helm.schema import CHART_MODELS

UMBRELLA = "floe-runtime"
SUBCHARTS = ("floe-dagster", "floe-cube", "floe-jobs")
VALUES_FILE = "values-{env}.generated.yaml"
MANIFESTS_FILE = "manifests-{env}.yaml"


@dataclass(frozen=True)
class RenderResult:
    """What ``render_environment`` wrote and what the reader should know."""

    values_path: Path
    manifests_path: Path
    objects: list[str]
    notes: list[str] = field(default_factory=list)


def _load_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise FloeError(f"{path}: expected a mapping of values")
    return data


def merged_chart_values(charts_dir: Path, env: str) -> dict[str, Any]:
    """The umbrella's values for ``env``: each chart's defaults, then the env files."""
    values = _load_yaml(charts_dir / UMBRELLA / "values.yaml")
    for chart in SUBCHARTS:
        values[chart] = deep_merge(_load_yaml(charts_dir / chart / "values.yaml"), values.get(chart, {}))
    return deep_merge(values, _load_yaml(charts_dir / UMBRELLA / f"values-{env}.yaml"))


def official_chart_present(chart_dir: Path) -> bool:
    """Whether ``helm dependency build`` has put the official dagster chart into ``chart_dir/charts``."""
    built = chart_dir / "charts"
    return any(built.glob("dagster-*.tgz")) or (built / "dagster" / "Chart.yaml").is_file()


def package_local_dependencies(chart_dir: Path) -> list[str]:
    """Put each ``file://`` dependency of ``chart_dir`` into its ``charts/`` folder, as ``helm
    dependency build`` does: the subchart folder archived as it is, without a ``charts/`` folder of
    its own (Helm never builds a subchart's dependencies). Older archives of it are replaced; other
    dependencies (the official chart) are left as they are. Returns the names packaged."""
    meta = yaml.safe_load((chart_dir / "Chart.yaml").read_text(encoding="utf-8")) or {}
    built = chart_dir / "charts"
    built.mkdir(exist_ok=True)
    packaged = []
    for dependency in meta.get("dependencies") or []:
        repository = str(dependency.get("repository", ""))
        if not repository.startswith("file://"):
            continue
        name = dependency["name"]
        for stale in built.glob(f"{name}-*.tgz"):
            stale.unlink()
        nested = f"{name}/charts"

        def as_in_git(info: tarfile.TarInfo, nested: str = nested) -> tarfile.TarInfo | None:
            return None if info.name == nested or info.name.startswith(nested + "/") else info

        with tarfile.open(built / f"{name}-{dependency['version']}.tgz", "w:gz") as archive:
            archive.add((chart_dir / repository.removeprefix("file://")).resolve(), arcname=name, filter=as_in_git)
        packaged.append(name)
    return packaged


def _drop_official_dependency(chart_dir: Path) -> None:
    """Without the official chart (offline), Helm would refuse the declared dependency: drop it."""
    path = chart_dir / "Chart.yaml"
    meta = yaml.safe_load(path.read_text(encoding="utf-8"))
    meta["dependencies"] = [d for d in meta.get("dependencies", []) if d["name"] != "dagster"]
    path.write_text(yaml.safe_dump(meta, sort_keys=False), encoding="utf-8")


def _validate(chart: str, values: dict[str, Any], env_file: Path, prefix: str) -> None:
    """Check one chart's merged values against its model; a refused value is the user's to fix.

    Raises:
        FloeError: naming each refused value path (as written in the umbrella's values) and why.
    """
    from pydantic import ValidationError

    try:
        CHART_MODELS[chart].model_validate(values)
    except ValidationError as exc:
        lines = []
        for error in exc.errors(include_url=False):
            path = prefix + ".".join(str(part) for part in error["loc"])
            lines.append(f"{path.rstrip('.') or chart}: {error['msg'].removeprefix('Value error, ')}")
        raise FloeError(f"{env_file}: values refused by {chart}'s schema:\n  " + "\n  ".join(lines),
                        hint=f"change those values in {env_file.name} (charts/{chart}/values.yaml documents "
                        "each key)") from None


def _render_with_sdk(chart: Path, values: dict[str, Any], release: str, namespace: str) -> str:
    import helm_python as helm

    with helm.Chart.load(str(chart)) as loaded:
        loaded.validate_schema(values)
        rendered = loaded.render(values, name=release, namespace=namespace, is_install=True)
    return "\n".join(f"---\n# Source: {name}\n{text.strip()}" for name, text in sorted(rendered.items())
                     if text.strip() and not name.endswith("NOTES.txt")) + "\n"


def _render_with_binary(chart: Path, values: dict[str, Any], release: str, namespace: str) -> str:
    helm = shutil.which("helm")
    if helm is None:
        raise FloeError("neither the Helm SDK nor the helm binary is available",
                        hint='pip install "helm-python-sdk", or install helm (https://helm.sh/docs/intro/install/)')
    values_file = chart.parent / "values.render.yaml"
    values_file.write_text(yaml.safe_dump(values), encoding="utf-8")
    return _run([helm, "template", release, str(chart), "--namespace", namespace, "-f", str(values_file)])


def _run(command: list[str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise FloeError(f"{' '.join(command[:3])} failed: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout


def _renderer() -> Callable[[Path, dict[str, Any], str, str], str]:
    try:
        import helm_python  # noqa: F401
    except ImportError:
        return _render_with_binary
    return _render_with_sdk


def validate_manifests(documents: list[dict[str, Any]], kubernetes_version: str = "1.29") -> list[str]:
    """Problems of the rendered objects against the Kubernetes schemas (needs kubernetes-validate)."""
    import kubernetes_validate  # type: ignore[import-untyped]

    problems = []
    for document in documents:
        if "." in document["apiVersion"].split("/")[0] and not document["apiVersion"].startswith(
                ("apps/", "batch/", "policy/", "networking.k8s.io/")):
            continue  # custom resources: their CRDs live in the cluster
        try:
            kubernetes_validate.validate(document, kubernetes_version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            where = f"{document['kind']}/{document['metadata']['name']}"
            problems.append(f"{where}: {'.'.join(map(str, exc.path))}: {exc.message}")
    return problems


def render_environment(
    artifacts_path: Path, charts_dir: Path, output: Path, *, release: str = "floe", namespace: str = "floe",
    cube_dir: Path | None = None,
) -> RenderResult:
    """Write the generated values and the rendered manifests of the artifacts' environment.

    Raises:
        FloeError: the artifacts are missing, the environment cannot run on Kubernetes, or Helm
            rejects the values.
    """
    from floe.contract.io import load_artifacts

    artifacts = load_artifacts(artifacts_path)
    env = artifacts.environment_name
    if not (charts_dir / UMBRELLA / "Chart.yaml").is_file():
        raise FloeError(f"{charts_dir}: not floe's charts folder (no {UMBRELLA}/Chart.yaml)",
                        hint="pass --charts with the path of floe's charts/ folder")
    chart_values = merged_chart_values(charts_dir, env)
    env_file = charts_dir / UMBRELLA / f"values-{env}.yaml"
    cube_model = cube_model_files(cube_dir or artifacts_path.parent / "cube")
    generated = runtime_values(artifacts, artifacts_path.read_text(encoding="utf-8"), chart_values, cube_model,
                               declared=_load_yaml(env_file))
    # After generating: the daemon's switches (official or floe's ha daemon) come from platform.yaml.
    check_dagster_workloads(deep_merge(chart_values, generated), where=f"{env_file} (over {UMBRELLA}/values.yaml)")
    # One floe image: floe-dagster.image, written into every place the charts take it.
    generated = deep_merge(generated, floe_image_overrides(deep_merge(chart_values, generated)))
    for chart in SUBCHARTS:
        _validate(chart, deep_merge(chart_values.get(chart, {}), generated.get(chart, {})), env_file, f"{chart}.")
    _validate(UMBRELLA, deep_merge(chart_values, generated), env_file, "")
    notes: list[str] = []
    values = deep_merge(_load_yaml(env_file), generated)
    with tempfile.TemporaryDirectory(prefix="floe-charts-") as tmp:
        copy = Path(tmp) / "charts"
        shutil.copytree(charts_dir, copy, ignore=shutil.ignore_patterns("*.generated.yaml"))
        package_local_dependencies(copy / UMBRELLA)
        render_values = values
        if not official_chart_present(charts_dir / UMBRELLA):
            notes.append(f"the official dagster chart is not in charts/{UMBRELLA}/charts: rendered floe's own "
                         f"objects only (run 'helm dependency build charts/{UMBRELLA}' online first)")
            _drop_official_dependency(copy / UMBRELLA)
            render_values = deep_merge(values, {"dagster": {"enabled": False}})
        try:
            text = _renderer()(copy / UMBRELLA, render_values, release, namespace)
        except FloeError:
            raise
        except Exception as exc:  # noqa: BLE001 - Helm's own errors carry the template and key
            raise FloeError(f"helm could not render {UMBRELLA} for '{env}': {exc}") from None
    documents = [d for d in yaml.safe_load_all(text) if d]
    values_path = output / VALUES_FILE.format(env=env)
    manifests_path = output / MANIFESTS_FILE.format(env=env)
    header = f"# Generated by 'floe platform render' from the artifacts of '{env}'. Secrets appear by name only.\n"
    write_text_atomic(values_path, header + yaml.safe_dump(values, sort_keys=False))
    write_text_atomic(manifests_path, header + text)
    objects = [f"{d['kind']}/{d['metadata']['name']}" for d in documents]
    return RenderResult(values_path, manifests_path, objects, notes)


def deploy_environment(
    artifacts_path: Path, charts_dir: Path, output: Path, *, release: str = "floe", namespace: str = "floe",
    dry_run: bool = False,
) -> RenderResult:
    """Render, validate, and (unless ``dry_run``) ``helm upgrade --install`` the environment.

    Raises:
        FloeError: rendering or validation failed, or helm is missing, or the install failed.
    """
    result = render_environment(artifacts_path, charts_dir, output, release=release, namespace=namespace)
    try:
        documents = [d for d in yaml.safe_load_all(result.manifests_path.read_text(encoding="utf-8")) if d]
        problems = validate_manifests(documents)
    except ImportError:
        problems = []
        result.notes.append("kubernetes-validate is not installed: manifests were not schema-checked")
    if problems:
        raise FloeError("rendered manifests are not valid Kubernetes objects:\n  " + "\n  ".join(problems))
    if dry_run:
        return result
    helm = shutil.which("helm")
    if helm is None:
        raise FloeError("helm is not on PATH", hint="install helm 3.8+ and point KUBECONFIG at the cluster; "
                        "--dry-run renders and validates without it")
    chart = charts_dir / UMBRELLA
    _run([helm, "dependency", "build", str(chart)])  # the official chart and floe's file:// subcharts
    _run([helm, "upgrade", "--install", release, str(chart), "--namespace", namespace, "--create-namespace",
          "-f", str(result.values_path), "--wait", "--timeout", "15m"])
    return result
