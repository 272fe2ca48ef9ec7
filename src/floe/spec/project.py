"""A floe project: ``floe.yaml`` and ``platform.yaml`` loaded together and cross-checked."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from floe.errors import SpecError, SpecIssue
from floe.spec.cron import cron_problem
from floe.spec.ingestion import NULLABLE_COLUMNS
from floe.spec.loading import LoadedSpec, load_spec
from floe.spec.mesh_rules import (
    MeshContext,
    check_domain,
    check_product,
    domain_path_for,
    load_domain,
    mesh_platform_path,
    product_domain_name,
    resolve_mesh,
)
from floe.spec.pipeline import PIPELINE_FILE, PipelineSpec
from floe.spec.platform import PLATFORM_FILE, EnvironmentSpec, LocalStorage, PlatformSpec, SqlCatalog

DEFAULT_ENVIRONMENT = "dev"
ALL_ASSETS_JOB = "all"


@dataclass(frozen=True)
class Project:
    """Both specs of a project, validated, with the chosen environment resolved."""

    root: Path
    pipeline_path: Path
    platform_path: Path
    pipeline: LoadedSpec[PipelineSpec]
    platform: LoadedSpec[PlatformSpec]
    environment_name: str
    environment: EnvironmentSpec
    # Set when floe.yaml declares 'product:': the product's domain in the data mesh.
    mesh: MeshContext | None = None

    @property
    def dbt_project_dir(self) -> Path:
        """Absolute directory of the dbt project."""
        return (self.root / self.pipeline.model.transforms[0].path).resolve()

    @property
    def variables(self) -> frozenset[str]:
        """Every environment variable the specs interpolated."""
        return self.pipeline.variables | self.platform.variables


def project_root(pipeline_path: Path | str) -> Path:
    """The project folder: where floe.yaml is, as named, even when floe.yaml is a symbolic link.

    Only the folder is resolved, never the file: a floe.yaml linked from elsewhere (a shared
    spec) belongs to the folder it is linked into, the one that holds platform.yaml, .floe/
    and the paths floe.yaml gives. Resolving the link would split the project in two.
    """
    folder = Path(pipeline_path).absolute().parent
    try:
        return folder.resolve()
    except (OSError, RuntimeError, ValueError):  # a loop of links (RuntimeError before 3.13), a NUL byte
        return folder


def spec_present(path: Path) -> bool:
    """Whether ``path`` names anything at all (a file, a folder, a pipe, a dangling link).

    Commands that can run from compiled artifacts alone ask this rather than ``is_file()``: a
    floe.yaml that is there but is not a readable file must be reported as what it is (a
    folder, a pipe), not as missing.
    """
    try:
        os.lstat(path)
    except ValueError:  # a NUL byte in the path: loading it says so
        return True
    except OSError:
        return False
    return True


def default_platform_path(pipeline_path: Path) -> Path:
    """platform.yaml beside floe.yaml, unless FLOE_PLATFORM_FILE says otherwise."""
    override = os.environ.get("FLOE_PLATFORM_FILE")
    return Path(override) if override else pipeline_path.parent / PLATFORM_FILE


def spec_files_of(pipeline_file: Path, platform_file: Path | None, environ: Mapping[str, str]) -> list[Path]:
    """The spec files a compile of ``pipeline_file`` reads: floe.yaml, platform.yaml, and a data
    product's domain.yaml (the platform of a product being its mesh folder's, see load_project)."""
    platform = platform_file or default_platform_path(pipeline_file)
    domain = product_domain_name(pipeline_file)
    if domain is None:
        return [pipeline_file, platform]
    if platform_file is None and not environ.get("FLOE_PLATFORM_FILE") and not spec_present(platform):
        platform = mesh_platform_path(pipeline_file, domain) or platform
    domain_file = domain_path_for(pipeline_file, domain, environ)
    return [pipeline_file, platform, *([domain_file] if domain_file is not None else [])]


def load_project(
    pipeline_path: Path | str = PIPELINE_FILE,
    *,
    environment: str | None = None,
    platform_path: Path | str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Project:
    """Load and cross-check a project. Every problem in either file is raised at once.

    Args:
        pipeline_path: Path of floe.yaml.
        environment: Environment name; defaults to $FLOE_ENV, then 'dev', then the only one.
        platform_path: Path of platform.yaml; defaults to the one beside floe.yaml.
        environ: Variables for ${VAR} interpolation; defaults to the process environment.

    Raises:
        SpecError: with every problem found, each located.
    """
    env = os.environ if environ is None else environ
    pipeline_file = Path(pipeline_path)
    issues: list[SpecIssue] = []
    pipeline: LoadedSpec[PipelineSpec] | None = None
    platform: LoadedSpec[PlatformSpec] | None = None
    try:
        pipeline = load_spec(pipeline_file, PipelineSpec, env, display_name=_display(pipeline_file),
                             pipeline_file=True,
                             missing_hint="run 'floe init NAME' to create a project, or pass -f PATH")
    except SpecError as exc:
        issues.extend(exc.issues)
    platform_file = Path(platform_path) if platform_path else default_platform_path(pipeline_file)
    domain = (pipeline.model.product.domain.name if pipeline is not None and pipeline.model.product is not None
              else product_domain_name(pipeline_file) if pipeline is None else None)
    if domain is not None and not platform_path and not env.get("FLOE_PLATFORM_FILE") \
            and not spec_present(platform_file):
        # A data product uses its enterprise's platform.yaml, in the mesh folder above it.
        platform_file = mesh_platform_path(pipeline_file, domain) or platform_file
    try:
        platform = load_spec(platform_file, PlatformSpec, env, display_name=_display(platform_file),
                             pipeline_file=False,
                             missing_hint="put platform.yaml beside floe.yaml ('floe init' writes one), "
                                          "or pass --platform PATH or set FLOE_PLATFORM_FILE")
    except SpecError as exc:
        issues.extend(exc.issues)
    root = project_root(pipeline_file)
    chosen = environment or env.get("FLOE_ENV")
    env_spec: EnvironmentSpec | None = None
    if platform is not None:
        envs = platform.model.environments
        if chosen is None:
            chosen = DEFAULT_ENVIRONMENT if DEFAULT_ENVIRONMENT in envs or len(envs) != 1 else next(iter(envs))
        env_spec = envs.get(chosen)
        if env_spec is None:
            issues.append(platform.source.issue(
                ("environments",), f"environment '{chosen}' is not defined",
                f"defined environments: {', '.join(envs)}; pass --env NAME or add '{chosen}:'",
                prefer_key=True,
            ))
    if platform is not None:
        issues.extend(check_platform(platform))
        if env_spec is not None:
            issues.extend(check_local_paths(platform, chosen or "", env_spec, root))
    if pipeline is not None:
        issues.extend(check_pipeline(pipeline, root))
        if env_spec is not None:
            issues.extend(check_ingestion_target(pipeline, env_spec, chosen or ""))
    mesh: MeshContext | None = None
    if pipeline is not None and pipeline.model.product is not None and platform is not None and env_spec is not None:
        mesh, mesh_issues = _load_mesh(pipeline, pipeline_file, platform, platform_file, chosen or "", env_spec, env)
        issues.extend(mesh_issues)
        if mesh is not None and project_root(platform_file) != root:
            env_spec = shared_paths_from(env_spec, project_root(platform_file))
    if issues:
        raise SpecError(issues)
    assert pipeline is not None and platform is not None and env_spec is not None and chosen
    return Project(root, pipeline_file, platform_file, pipeline, platform, chosen, env_spec, mesh)


def _load_mesh(pipeline: LoadedSpec[PipelineSpec], pipeline_file: Path, platform: LoadedSpec[PlatformSpec],
               platform_file: Path, environment_name: str, environment: EnvironmentSpec,
               env: Mapping[str, str]) -> tuple[MeshContext | None, list[SpecIssue]]:
    """The product's domain, checked against the enterprise above it and the product below it."""
    domain_path, issues = resolve_mesh(pipeline, pipeline_file, env)
    if domain_path is None:
        return None, issues
    try:
        domain = load_domain(domain_path, env)
    except SpecError as exc:
        return None, exc.issues
    issues = check_domain(domain, platform, domain_path)
    issues.extend(check_product(pipeline, platform, domain, domain_path, environment_name, environment))
    return MeshContext(domain_path, domain, pipeline.model.name), issues


def shared_paths_from(environment: EnvironmentSpec, base: Path) -> EnvironmentSpec:
    """The environment with its shared parts' relative paths made absolute against ``base``.

    Every product of a mesh reads and writes the one shared catalog and storage of the enterprise:
    their relative paths are the enterprise platform.yaml's, not each product's. The compute
    target (each product's own warehouse) stays project-relative.
    """
    catalog, storage = environment.catalog, environment.storage
    if isinstance(catalog, SqlCatalog):
        updates: dict[str, str] = {}
        scheme, _, rest = catalog.uri.partition(":///")
        if scheme.lower().startswith("sqlite") and not rest.startswith("/"):
            updates["uri"] = f"{scheme}:///{(base / rest).as_posix()}"
        warehouse = catalog.warehouse
        if warehouse is not None and "://" not in warehouse and not Path(warehouse).is_absolute():
            updates["warehouse"] = (base / warehouse).as_posix()
        catalog = catalog.model_copy(update=updates)
    if isinstance(storage, LocalStorage) and not Path(storage.path).is_absolute() \
            and not storage.path.lower().startswith("file://"):
        storage = storage.model_copy(update={"path": (base / storage.path).as_posix()})
    return environment.model_copy(update={"catalog": catalog, "storage": storage})


def check_pipeline(pipeline: LoadedSpec[PipelineSpec], root: Path) -> list[SpecIssue]:
    """Checks that need more than one field: paths on disk, names, references, cron, zones."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    spec, source = pipeline.model, pipeline.source
    issues: list[SpecIssue] = []
    for index, transform in enumerate(spec.transforms):
        path = ("transforms", index, "path")
        try:
            target = (root / transform.path).resolve()
            is_dir, exists = target.is_dir(), target.exists()
        except (OSError, RuntimeError, ValueError) as exc:  # a NUL byte, a name too long, a loop of links
            issues.append(source.issue(path, f"path {transform.path!r} is not usable: "
                                             f"{getattr(exc, 'strerror', None) or exc}",
                                       "give the relative directory of the dbt project, e.g. ./dbt"))
            continue
        if Path(transform.path).is_absolute():
            issues.append(source.issue(path, f"path '{transform.path}' is absolute",
                                       "give the dbt project's folder relative to floe.yaml (e.g. ../shop_dbt), "
                                       "so the project works wherever it is checked out"))
        elif not is_dir:
            # A dbt project beside the floe project must be beside it wherever floe compiles.
            outside = ("; it is outside the folder of floe.yaml, so it must sit at that relative place "
                       "wherever floe compiles (an image build copies only the project folder)"
                       if not target.is_relative_to(root) else "")
            issues.append(source.issue(
                path,
                f"'{transform.path}' is a file, not a directory" if exists
                else f"directory '{transform.path}' does not exist",
                f"create it, or run 'floe init NAME --from-dbt PATH'{outside}"))
        elif not (target / "dbt_project.yml").is_file():
            issues.append(source.issue(path, f"'{transform.path}' has no dbt_project.yml",
                                       "point 'path' at the folder that holds dbt_project.yml"))
    source_names: dict[str, int] = {}
    tables: dict[tuple[str, str], int] = {}
    for index, source_spec in enumerate(spec.ingestion):
        where = ("ingestion", index)
        if source_spec.name in source_names:
            issues.append(source.issue((*where, "name"), f"source '{source_spec.name}' is declared twice",
                                       f"the first is ingestion[{source_names[source_spec.name]}]; rename one"))
        source_names.setdefault(source_spec.name, index)
        allowed = NULLABLE_COLUMNS[source_spec.dataset]
        for column in source_spec.defects.null_rates:
            if column not in allowed:
                issues.append(source.issue(
                    (*where, "defects", "null_rates", column),
                    f"'{column}' cannot hold nulls in the {source_spec.dataset} data set",
                    f"nullable columns: {', '.join(sorted(allowed))}", prefer_key=True))
        for table in source_spec.tables:
            other = tables.setdefault((source_spec.namespace, table), index)
            if other != index:
                issues.append(source.issue(
                    (*where, "namespace"),
                    f"table {source_spec.namespace}.{table} is also written by ingestion[{other}]",
                    "give each source its own namespace"))
                break
    job_names: dict[str, int] = {}
    for index, job in enumerate(spec.jobs):
        if job.name in job_names:
            issues.append(source.issue(("jobs", index, "name"), f"job '{job.name}' is declared twice",
                                       f"the first is jobs[{job_names[job.name]}]; rename one"))
        job_names.setdefault(job.name, index)
    known_jobs = set(job_names) | {ALL_ASSETS_JOB}
    schedule_names: dict[str, int] = {}
    for index, schedule in enumerate(spec.schedules):
        where = ("schedules", index)
        if schedule.name in schedule_names or schedule.name in known_jobs:
            issues.append(source.issue((*where, "name"), f"name '{schedule.name}' is already used",
                                       "job and schedule names share one namespace; rename it"))
        schedule_names.setdefault(schedule.name, index)
        if schedule.job not in known_jobs:
            issues.append(source.issue((*where, "job"), f"job '{schedule.job}' is not declared",
                                       f"declared jobs: {', '.join(sorted(known_jobs))}"))
        problem = cron_problem(schedule.cron)
        if problem:
            issues.append(source.issue((*where, "cron"), f"invalid cron '{schedule.cron}': {problem}",
                                       "example: '0 6 * * *' runs daily at 06:00"))
        try:
            ZoneInfo(schedule.timezone)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long to be a file
            issues.append(source.issue((*where, "timezone"), f"unknown time zone '{schedule.timezone}'",
                                       "use an IANA name such as 'UTC' or 'Europe/Berlin'"))
    return issues


def check_platform(platform: LoadedSpec[PlatformSpec]) -> list[SpecIssue]:
    """Every environment's catalog must fit its storage (warehouse location, credentials)."""
    issues: list[SpecIssue] = []
    for name, environment in platform.model.environments.items():
        for problem in environment.catalog.storage_problems(environment.storage):
            issues.append(platform.source.issue(
                ("environments", name, "catalog"), problem,
                "make the catalog's warehouse and credentials match the environment's storage", prefer_key=True))
    return issues


def check_local_paths(platform: LoadedSpec[PlatformSpec], name: str, environment: EnvironmentSpec,
                      root: Path) -> list[SpecIssue]:
    """The chosen environment's local files must be of the right kind where they already exist.

    floe creates them on first use; a folder where the DuckDB file goes, or a file where
    Dagster's SQLite folder goes, would fail the run later, far from its cause.
    """
    issues: list[SpecIssue] = []
    where = ("environments", name)
    compute = environment.compute
    if compute.type == "duckdb" and _kind(root, compute.path) == "folder":
        issues.append(platform.source.issue(
            (*where, "compute", "path"), f"'{compute.path}' is a folder; DuckDB needs a database file here",
            "give the path of the database file, e.g. .floe/warehouse.duckdb"))
    storage = environment.orchestrator.storage
    if storage.type == "sqlite" and _kind(root, storage.path) == "file":
        issues.append(platform.source.issue(
            (*where, "orchestrator", "storage", "path"),
            f"'{storage.path}' is a file; Dagster keeps its SQLite storage in a folder here",
            "give a folder (the default is .floe/dagster), or move the file away"))
    return issues


def _kind(root: Path, path: str) -> str | None:
    """'folder', 'file' (anything else that exists) or None, for a path relative to the project."""
    candidate = Path(path) if Path(path).is_absolute() else root / path
    try:
        info = candidate.stat()
    except (OSError, ValueError):  # absent, or a name the file system refuses: created (or refused) later
        return None
    return "folder" if stat.S_ISDIR(info.st_mode) else "file"


def check_ingestion_target(pipeline: LoadedSpec[PipelineSpec], environment: EnvironmentSpec,
                           name: str) -> list[SpecIssue]:
    """Ingestion lands Iceberg tables that dbt reads through DuckDB: other targets cannot yet."""
    if not pipeline.model.ingestion:
        return []
    issues: list[SpecIssue] = []
    if environment.compute.type != "duckdb":
        issues.append(pipeline.source.issue(
            ("ingestion",), f"ingestion needs a duckdb compute target; environment '{name}' uses "
                            f"{environment.compute.type}",
            "run this pipeline on duckdb (the default), or remove 'ingestion' and load bronze another way",
            prefer_key=True))
    if environment.storage.type not in ("local", "s3"):
        issues.append(pipeline.source.issue(
            ("ingestion",), f"dbt on DuckDB cannot read Iceberg tables on {environment.storage.type} "
                            f"storage yet (environment '{name}')",
            "use local or s3 storage for environments that run ingestion", prefer_key=True))
    return issues


def _display(path: Path) -> str:
    """The path as messages show it: relative to the working folder when inside it.

    The file itself is not resolved: a linked floe.yaml is shown by the name it was given, and
    ``--platform <(...)`` as /dev/fd/63, not as the pipe the link points at.
    """
    try:
        return str((project_root(path) / path.name).relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)
