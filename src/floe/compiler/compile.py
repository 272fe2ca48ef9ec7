"""``floe compile``: join the specs with one environment into the artifacts.

Nothing is written over the previous compile until every step has succeeded: the new files
are prepared in a staging folder beside the output, then moved into place, artifacts last.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

import floe
from floe.compiler.dbt_deps import NO_PACKAGES_HINT, DepsOutcome, ensure_dbt_packages
from floe.compiler.dbt_process import dbt_environment, dbt_error_summary, run_dbt
from floe.compiler.freshness import PARSED_ROOT
from floe.compiler.graph_check import check_no_ref_cycle
from floe.compiler.hashing import source_hash
from floe.compiler.profiles import PROFILE_NAME, profiles_document, profiles_text, secret_names
from floe.contract.io import ARTIFACTS_FILE, write_artifacts, write_text_atomic
from floe.contract.v1 import SCHEMA_VERSION, ArtifactsV1, DbtInfo, InputPortInfo, MeshInfo, ProjectInfo
from floe.errors import CompileError
from floe.processes import owned_prefix, remove_orphaned
from floe.spec.dbt_vars import dbt_vars_json
from floe.spec.pipeline import JobSpec
from floe.spec.project import ALL_ASSETS_JOB, Project
from floe.targets import require_adapter

DBT_DIR = "dbt"
MANIFEST = "manifest.json"
PARTIAL_PARSE = "partial_parse.msgpack"
# The staging folder of one compile, under the output folder: <prefix><pid>.<start>-<random>.
STAGING_PREFIX = ".compile-"


@dataclass(frozen=True)
class CompileResult:
    """What a compile produced."""

    artifacts: ArtifactsV1
    artifacts_path: Path
    model_count: int
    node_count: int
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # The warnings about the dbt project itself (``warnings`` also has the tracer's, about
    # exporting the compile's spans, which a run reports again for its own).
    project_warnings: list[str] = field(default_factory=list)


Stage = Callable[[str], AbstractContextManager[Any]]


def compile_project(project: Project, output_dir: Path | None = None) -> CompileResult:
    """Compile ``project`` for its chosen environment into ``output_dir`` (default ``.floe``).

    With tracing configured for the environment, the compile and each of its stages are spans.

    Raises:
        CompileError: dbt could not parse the project, or two assets share an asset key.
        MissingExtraError: the compute target's dbt adapter is not installed.
    """
    tracer = _compile_tracer(project)
    if tracer is None:
        return _compile(project, output_dir, lambda _name: nullcontext())
    try:
        with tracer.span("floe.compile", {"floe.pipeline": project.pipeline.model.name,
                                          "floe.environment": project.environment_name}):
            result = _compile(project, output_dir, lambda name: tracer.span(name, None))
    finally:
        warnings = tracer.shutdown()
    return replace(result, warnings=[*result.warnings, *warnings])


def _compile_tracer(project: Project) -> Any:
    """The environment's tracer, or None when compile is not traced (import-free then)."""
    observability = project.environment.observability
    if observability.tracing.type == "none" or not project.pipeline.model.observability.tracing:
        return None
    from floe.observability.tracing import RunTracer

    return RunTracer(observability.tracing, service_name=project.pipeline.model.name,
                     namespace=observability.namespace or project.pipeline.model.name,
                     timeout=observability.timeout, project_root=project.root,
                     resource_attributes={"deployment.environment": project.environment_name})


def _compile(project: Project, output_dir: Path | None, stage: Stage) -> CompileResult:
    """The compile itself; ``stage(name)`` wraps each stage (a tracing span, or nothing)."""
    out = (output_dir or project.root / ".floe").resolve()
    compute = project.environment.compute
    require_adapter(compute.type)
    secrets = secret_names(project.environment)
    out.mkdir(parents=True, exist_ok=True)
    # Staging folders of compiles killed before they could remove theirs: the name records the owner.
    remove_orphaned(out, STAGING_PREFIX)
    staging = Path(tempfile.mkdtemp(prefix=owned_prefix(STAGING_PREFIX), dir=out))
    try:
        inputs: list[InputPortInfo] = []
        if project.mesh is not None:
            from floe.mesh.product_compile import prepare_product

            with stage("floe.compile.input_ports"):
                inputs = prepare_product(project)  # before dbt parses: it declares the ports as sources
        lands_iceberg = bool(project.pipeline.model.ingestion) or bool(inputs)
        with stage("floe.compile.profiles"):
            profiles = profiles_document(compute, project.environment_name,
                                         iceberg_storage=project.environment.storage if lands_iceberg else None)
            (staging / "profiles.yml").write_text(profiles_text(profiles), encoding="utf-8")
        with stage("floe.compile.dbt_parse"):
            manifest, packages = _parse(project, staging, secrets)
        check_no_ref_cycle(manifest)  # first: building asset keys of a cyclic graph never ends
        serving = project.environment.serving
        if serving is not None:
            from floe.serving import published_models

            published_models(manifest, serving.models)  # serving.models must name models of the project
        asset_warnings = _check_asset_keys(project, manifest)
        mesh: MeshInfo | None = None
        if project.mesh is not None:
            from floe.mesh.product_compile import mesh_info

            mesh = mesh_info(project, manifest, inputs)
        digest = source_hash(
            spec_files=[project.pipeline_path, project.platform_path,
                        *([project.mesh.domain_path] if project.mesh is not None else [])],
            dbt_project_dir=project.dbt_project_dir,
            environment=project.environment_name,
            variables=project.variables,
            environ=os.environ,
        )
        artifacts = _artifacts(project, out, digest, secrets, profiles, mesh)
        # Commit: dbt files first, the artifacts (which point at them) last.
        with stage("floe.compile.commit"):
            dbt_dir = out / DBT_DIR
            (dbt_dir / "target").mkdir(parents=True, exist_ok=True)
            write_text_atomic(dbt_dir / "profiles.yml", profiles_text(profiles))
            (staging / "target" / MANIFEST).replace(dbt_dir / MANIFEST)
            partial = staging / "target" / PARTIAL_PARSE
            if partial.is_file():
                partial.replace(dbt_dir / "target" / PARTIAL_PARSE)
            # dbt's manifest and partial-parse file name the project by absolute path (a seed is
            # read from there): a moved or copied project must compile again (see freshness).
            write_text_atomic(dbt_dir / "target" / PARSED_ROOT, f"{project.dbt_project_dir.resolve()}\n")
            artifacts_path = out / ARTIFACTS_FILE
            write_artifacts(artifacts, artifacts_path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    nodes = manifest.get("nodes", {})
    models = sum(1 for node in nodes.values() if node.get("resource_type") == "model")
    return CompileResult(artifacts, artifacts_path, models, len(nodes), warnings=asset_warnings,
                         notes=[*packages.notes(), *_port_notes(inputs)], project_warnings=asset_warnings)


def _parse(project: Project, staging: Path, secrets: list[str]) -> tuple[dict[str, Any], DepsOutcome]:
    """Install missing dbt packages, run ``dbt parse`` into the staging folder, return the manifest."""
    # Parsing renders the profile, so every env_var() must exist; real values are not needed
    # (parse never connects), so absent secrets get a placeholder in dbt's environment only.
    placeholders = {name: "floe-compile-placeholder" for name in secrets if name not in os.environ}
    env = dbt_environment(project.root, {
        **placeholders,
        "DBT_LOG_PATH": str(staging / "logs"),
        "DBT_TARGET_PATH": str(staging / "target"),
        "DBT_PARTIAL_PARSE": "false",
    })
    args = [
        "--no-use-colors", "parse",
        "--project-dir", str(project.dbt_project_dir),
        "--profiles-dir", str(staging),
        "--profile", PROFILE_NAME,
        "--target", project.environment_name,
        *_vars_args(project),
    ]
    # dbt deps gets what dbt parse gets: the project, floe's profile, the same environment.
    packages = ensure_dbt_packages(project.dbt_project_dir, dbt_args=args[args.index("parse") + 1:], env=env)
    result = run_dbt(args, cwd=project.dbt_project_dir, env=env)
    manifest_path = staging / "target" / MANIFEST
    if result.returncode != 0 or not manifest_path.is_file():
        summary = dbt_error_summary(result.stdout + "\n" + result.stderr)
        if packages.failure is not None:
            raise CompileError(f"dbt parse failed for {project.dbt_project_dir}:\n{summary}\n{packages.failure}",
                               hint=NO_PACKAGES_HINT)
        raise CompileError(
            f"dbt parse failed for {project.dbt_project_dir}:\n{summary}",
            hint="fix the dbt project (run 'dbt parse' in it for details) and compile again",
        )
    loaded: dict[str, Any] = json.loads(manifest_path.read_text(encoding="utf-8"))
    return loaded, packages


def _vars_args(project: Project) -> list[str]:
    """The transform's vars for ``dbt parse``: those read in dbt_project.yml shape the manifest."""
    values = project.pipeline.model.transforms[0].vars
    return ["--vars", dbt_vars_json(values)] if values else []


def _check_asset_keys(project: Project, manifest: dict[str, Any]) -> list[str]:
    """Fail the compile, not the first run, when two assets would share a Dagster asset key.

    Returns notes worth a user's attention (sources over tables the project builds)."""
    # Imported here: dagster is needed for the keys, and only once dbt has parsed.
    from floe.orchestration.dbt_specs import check_asset_keys
    from floe.orchestration.ingestion_assets import ingestion_asset_keys

    ingestion = {key: source.name for source in project.pipeline.model.ingestion
                 for key in ingestion_asset_keys(source)}
    return check_asset_keys(manifest, ingestion)


def _artifacts(
    project: Project, out: Path, digest: str, secrets: list[str], profiles: dict[str, Any],
    mesh: MeshInfo | None = None,
) -> ArtifactsV1:
    spec = project.pipeline.model
    jobs = list(spec.jobs)
    if all(job.name != ALL_ASSETS_JOB for job in jobs):
        jobs.insert(0, JobSpec(name=ALL_ASSETS_JOB, select="fqn:*", description="Every asset of the pipeline."))
    root = Path(_relative(project.root, out))
    return ArtifactsV1(
        schema_version=SCHEMA_VERSION,
        floe_version=floe.__version__,
        compiled_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        source_hash=digest,
        project=ProjectInfo(name=spec.name, version=spec.version, description=spec.description,
                            root=root.as_posix()),
        environment_name=project.environment_name,
        environment=project.environment,
        dbt=DbtInfo(
            project_dir=_relative(project.dbt_project_dir, project.root),
            profiles_dir=DBT_DIR,
            manifest_path=f"{DBT_DIR}/{MANIFEST}",
            target_path=f"{DBT_DIR}/target",
            profile=PROFILE_NAME,
            profiles=profiles,
            target=project.environment_name,
            adapter=project.environment.compute.type,
            dbt_version=package_version("dbt-core"),
            vars=spec.transforms[0].vars,
        ),
        jobs=jobs,
        schedules=list(spec.schedules),
        ingestion=list(spec.ingestion),
        observability=spec.observability,
        secrets=secrets,
        variables=sorted(project.variables),
        mesh=mesh,
    )


def _relative(path: Path, start: Path) -> str:
    return Path(os.path.relpath(path, start)).as_posix()


def _port_notes(inputs: list[InputPortInfo]) -> list[str]:
    """What a data product's compile pinned: runs read these snapshots until the next compile."""
    return [f"input port {port.dataset} {port.version}: contract checked, runs read its current snapshot "
            f"as source('{port.schema_name}', '{port.table}')" for port in inputs]
