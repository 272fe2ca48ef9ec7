"""The Compose stack: schema, and a cross-check of every variable, mount, port and dependency."""

from __future__ import annotations

import copy
import json
import os
import re
import secrets
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from floe.spec.project import load_project
from floe.spec.secrets import SecretRef
from tests.conftest import REPO_ROOT
from tests.docker.conftest import COMPOSE_SCHEMA, DOCKER_DIR, INTERPOLATION, interpolate
from tests.docker.dockerfile import parse

FLOE_IMAGE = "floe/dagster:"
SRC_TEXT = "\n".join(p.read_text(encoding="utf-8") for p in (REPO_ROOT / "src").rglob("*.py"))

# Variables third-party images read, per image repository, with where each is documented.
THIRD_PARTY_ENV: dict[str, set[str]] = {
    # postgres image: its superuser and first database; the rest are read by our init script.
    "postgres": {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"},
    # Jaeger all-in-one: accept OTLP (on by default since 1.35; stated for clarity).
    "jaegertracing/all-in-one": {"COLLECTOR_OTLP_ENABLED"},
    # Marquez API: its ports and its database (marquez.yml reads POSTGRES_*), search off (no OpenSearch).
    "marquezproject/marquez": {"MARQUEZ_PORT", "MARQUEZ_ADMIN_PORT", "POSTGRES_HOST", "POSTGRES_PORT",
                               "POSTGRES_DB", "POSTGRES_USER", "POSTGRES_PASSWORD", "SEARCH_ENABLED"},
    # Marquez web: where the API is, and its own port.
    "marquezproject/marquez-web": {"MARQUEZ_HOST", "MARQUEZ_PORT", "WEB_PORT"},
    # Cube: the PostgreSQL driver, the API secret, pre-aggregations in the database, the refresh
    # worker, cache and queue (cube.dev/docs/reference/configuration/environment-variables).
    "floe/cube": {"CUBEJS_DB_TYPE", "CUBEJS_DB_HOST", "CUBEJS_DB_PORT", "CUBEJS_DB_NAME", "CUBEJS_DB_USER",
                  "CUBEJS_DB_PASS", "CUBEJS_API_SECRET", "CUBEJS_DEV_MODE", "CUBEJS_EXTERNAL_DEFAULT",
                  "CUBEJS_PRE_AGGREGATIONS_SCHEMA", "CUBEJS_REFRESH_WORKER", "CUBEJS_CACHE_AND_QUEUE_DRIVER",
                  "CUBEJS_TELEMETRY"},
}
# Variables of the Dagster services that Dagster itself reads (not through dagster.yaml).
DAGSTER_OWN_ENV = {"DAGSTER_HOME"}
# The stack's URLs, as in the deployment view.
PUBLISHED = {"dagster-webserver": 3000, "jaeger": 16686, "marquez-web": 3001, "marquez": 5000, "cube": 4000}


def image_repository(service: dict[str, Any]) -> str:
    return str(service["image"]).rsplit(":", 1)[0]


def floe_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in compose["services"].items() if str(s["image"]).startswith(FLOE_IMAGE)}


def dagster_yaml_env() -> set[str]:
    """Environment variables docker/dagster.yaml reads ({env: NAME})."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if set(node) == {"env"}:
                found.add(node["env"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(yaml.safe_load((DOCKER_DIR / "dagster.yaml").read_text(encoding="utf-8")))
    return found


def compose_platform():
    return load_project(REPO_ROOT / "demo" / "floe.yaml", environment="compose",
                        platform_path=DOCKER_DIR / "platform.yaml", environ={})


def secret_refs(node: Any) -> set[str]:
    if isinstance(node, SecretRef):
        return {node.secret_ref}
    if hasattr(node, "model_fields"):
        return set().union(*(secret_refs(getattr(node, f)) for f in type(node).model_fields)) or set()
    if isinstance(node, dict):
        return set().union(*(secret_refs(v) for v in node.values())) if node else set()
    return set()


def mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(source, target) of each short-syntax volume; an anonymous volume has source ''."""
    pairs = []
    for entry in service.get("volumes", []):
        parts = str(entry).split(":")
        pairs.append(("", parts[0]) if len(parts) == 1 else (parts[0], parts[1]))
    return pairs


# --- schema -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def validator():
    if not COMPOSE_SCHEMA.is_file():
        pytest.skip(f"the Compose spec schema is not here ({COMPOSE_SCHEMA}; ../shared is absent)")
    import jsonschema

    schema = json.loads(COMPOSE_SCHEMA.read_text(encoding="utf-8"))
    return jsonschema.validators.validator_for(schema)(schema)


def test_the_compose_file_validates_against_the_compose_spec(validator, compose: dict[str, Any],
                                                             compose_raw: dict[str, Any]) -> None:
    for document in (compose_raw, compose):
        errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
        assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_the_schema_does_reject_a_misspelt_key(validator, compose: dict[str, Any]) -> None:
    broken = copy.deepcopy(compose)
    broken["services"]["postgres"]["helthcheck"] = broken["services"]["postgres"].pop("healthcheck")
    assert list(validator.iter_errors(broken))


# --- variables ----------------------------------------------------------------------------

def test_every_interpolated_variable_is_in_the_generated_env_file(compose_text: str,
                                                                  env_values: dict[str, str]) -> None:
    used = {m.group(1) for m in INTERPOLATION.finditer(compose_text)}
    assert used, "the reader found no ${VAR} at all"
    assert used <= set(env_values), f"missing from the .env floe writes: {sorted(used - set(env_values))}"
    assert set(env_values) <= used, f"keys floe writes that nothing uses: {sorted(set(env_values) - used)}"


def test_every_variable_is_required_with_a_message(compose_text: str) -> None:
    for match in INTERPOLATION.finditer(compose_text):
        assert match.group(2) == ":?" and "floe dev" in match.group(3), f"${{{match.group(1)}}} has no :?message"


def test_a_missing_env_file_stops_compose_with_the_message(compose_text: str) -> None:
    with pytest.raises(KeyError, match="run 'floe dev'"):
        interpolate(compose_text, {})


def test_no_credential_is_written_in_the_compose_file(compose_raw: dict[str, Any]) -> None:
    seen = 0
    for name, service in compose_raw["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if re.search(r"PASSWORD|SECRET|TOKEN", key):
                seen += 1
                assert INTERPOLATION.fullmatch(str(value)), f"{name}.{key} is a literal credential"
    assert seen >= 6


def test_floe_services_read_only_variables_floe_or_dagster_read(compose: dict[str, Any]) -> None:
    dagster_env = dagster_yaml_env()
    platform_secrets = secret_refs(compose_platform().environment)
    services = floe_services(compose)
    assert {"dagster-webserver", "dagster-daemon", "dagster-user-code", "demo"} <= set(services)
    for name, service in services.items():
        for key in service.get("environment", {}):
            if key.startswith("FLOE_"):
                assert re.search(rf"\b{key}\b", SRC_TEXT), f"{name}: {key} is not read anywhere in src/"
            else:
                assert key in dagster_env | DAGSTER_OWN_ENV | platform_secrets, f"{name}: nobody reads {key}"
        # Each Dagster process loads docker/dagster.yaml, so each must have what it reads.
        missing = dagster_env - set(service.get("environment", {}))
        assert not missing, f"{name}: dagster.yaml reads {sorted(missing)}"


def test_the_user_code_server_gets_every_secret_the_platform_names(compose: dict[str, Any]) -> None:
    needed = secret_refs(compose_platform().environment)
    assert needed == {"DAGSTER_PG_PASSWORD", "SERVING_PG_PASSWORD"}
    user_code = compose["services"]["dagster-user-code"]["environment"]
    assert needed <= set(user_code)
    assert user_code["FLOE_ENV"] == "compose" and user_code["FLOE_PROJECT_DIR"] == "/opt/floe/project"


def test_third_party_services_read_only_allow_listed_variables(compose: dict[str, Any]) -> None:
    init_script = (DOCKER_DIR / "postgres-init" / "10-floe-databases.sh").read_text(encoding="utf-8")
    for name, service in compose["services"].items():
        if name in floe_services(compose):
            continue
        repository = image_repository(service)
        allowed = THIRD_PARTY_ENV.get(repository)
        if not service.get("environment"):
            continue
        assert allowed is not None, f"{name}: no documented allow-list for image {repository}"
        for key in service["environment"]:
            if repository == "postgres" and key not in allowed:
                assert f"${key}" in init_script or f"${{{key}" in init_script, f"postgres: {key} is unused"
            else:
                assert key in allowed, f"{name}: {key} is not a variable {repository} reads"


def test_credentials_agree_between_services(compose: dict[str, Any]) -> None:
    services = compose["services"]
    pg = services["postgres"]["environment"]
    user_code = services["dagster-user-code"]["environment"]
    marquez = services["marquez"]["environment"]
    for key in ("DAGSTER_PG_USER", "DAGSTER_PG_DB", "DAGSTER_PG_PASSWORD"):
        assert user_code[key] == pg[key]
    assert (marquez["POSTGRES_USER"], marquez["POSTGRES_DB"], marquez["POSTGRES_PASSWORD"]) == (
        pg["MARQUEZ_PG_USER"], pg["MARQUEZ_PG_DB"], pg["MARQUEZ_PG_PASSWORD"])
    storage = compose_platform().environment.orchestrator.storage
    assert (storage.host, str(storage.port), storage.user, storage.database) == (  # type: ignore[union-attr]
        user_code["DAGSTER_PG_HOST"], user_code["DAGSTER_PG_PORT"], pg["DAGSTER_PG_USER"], pg["DAGSTER_PG_DB"])
    serving = compose_platform().environment.serving
    assert serving is not None and serving.password is not None
    assert (serving.user, serving.database) == (pg["SERVING_PG_USER"], pg["SERVING_PG_DB"])
    assert user_code[serving.password.secret_ref] == pg["SERVING_PG_PASSWORD"]


# --- mounts, ports, dependencies ----------------------------------------------------------------

def test_every_mounted_host_path_exists_in_the_repository(compose: dict[str, Any]) -> None:
    checked = 0
    for name, service in compose["services"].items():
        for source, _target in mounts(service):
            if not source.startswith((".", "/")):
                assert not source or source in compose["volumes"], f"{name}: undeclared volume {source}"
                continue
            path = (DOCKER_DIR / source).resolve()
            assert path.exists(), f"{name}: {source} does not exist"
            assert REPO_ROOT in path.parents, f"{name}: {source} is outside the repository"
            checked += 1
    assert checked >= 8


def test_published_host_ports_are_unique_and_the_documented_ones(compose: dict[str, Any]) -> None:
    published: dict[int, str] = {}
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            host = int(str(port).rpartition(":")[0])
            assert host not in published, f"{name} and {published.get(host)} both publish host port {host}"
            published[host] = name
    for name, port in PUBLISHED.items():
        assert published.get(port) == name, f"{name} is not on host port {port}"


def test_healthy_dependencies_have_health_checks(compose: dict[str, Any]) -> None:
    image_checked = {FLOE_IMAGE.rstrip(":"), "floe/cube"}  # HEALTHCHECK in our Dockerfiles
    conditions = 0
    for name, service in compose["services"].items():
        for dependency, rule in service.get("depends_on", {}).items():
            assert dependency in compose["services"], f"{name} depends on unknown {dependency}"
            target = compose["services"][dependency]
            if rule["condition"] == "service_healthy":
                conditions += 1
                assert "healthcheck" in target or image_repository(target) in image_checked, \
                    f"{name} waits for {dependency} to be healthy, which has no health check"
            else:
                assert rule["condition"] == "service_started" and dependency == "otel-collector"
    assert conditions >= 10
    without = {n for n, s in compose["services"].items() if "healthcheck" not in s}
    # The collector image is distroless (documented in the file); 'demo' is a one-shot job whose
    # image health check reports healthy for anything but a long-running Dagster service.
    assert without == {"otel-collector", "demo"}


def test_dagster_services_share_instance_storage_and_the_workspace_points_at_user_code(
        compose: dict[str, Any]) -> None:
    services = compose["services"]
    workspace = yaml.safe_load((DOCKER_DIR / "workspace.yaml").read_text(encoding="utf-8"))
    server = workspace["load_from"][0]["grpc_server"]
    command = services["dagster-user-code"]["command"]
    assert server["host"] == "dagster-user-code"
    assert str(server["port"]) == command[command.index("-p") + 1]
    assert "floe.orchestration.definitions" in command
    for name in ("dagster-webserver", "dagster-daemon", "dagster-user-code"):
        service = services[name]
        home = service["environment"]["DAGSTER_HOME"]
        targets = dict((t, s) for s, t in mounts(service))
        assert targets[f"{home}/dagster.yaml"] == "./dagster.yaml"
        assert targets["/var/lib/dagster"] == "dagster-storage"
        assert service["read_only"] is True and service["user"] == "1000:1000"
        if name != "dagster-user-code":
            assert targets[f"{home}/workspace.yaml"] == "./workspace.yaml"
            flag = "--workspace" if name == "dagster-daemon" else "-w"  # the daemon runs under floe's wrapper
            command = service["command"]
            assert command[command.index(flag) + 1] == f"{home}/workspace.yaml"


def test_runs_in_user_code_write_only_to_volumes(compose: dict[str, Any]) -> None:
    dockerfile = parse(DOCKER_DIR / "Dockerfile.dagster")
    declared = json.loads(dockerfile.final.all("VOLUME")[0].value)
    user_code = compose["services"]["dagster-user-code"]
    targets = {t for _s, t in mounts(user_code)} | set(user_code.get("tmpfs", []))
    assert set(declared) <= targets, f"not mounted explicitly: {set(declared) - targets}"
    dbt_mount = [(s, t) for s, t in mounts(compose["services"]["dagster-user-code"]) if t.endswith("/dbt")]
    assert dbt_mount and dbt_mount[0][0] == "../demo/dbt" and str(user_code["volumes"][1]).endswith(":ro")


def test_the_demo_profile_starts_the_demo_schedule_and_queues_batches(compose: dict[str, Any]) -> None:
    services = compose["services"]
    demo = services["demo"]
    assert demo["profiles"] == ["demo"] and demo["restart"] == "no"
    script = demo["command"][-1]
    match = re.search(r"dagster schedule start (\S+) -w (\S+)", script)
    assert match is not None
    project = compose_platform()
    schedules = {s.name: s for s in project.pipeline.model.schedules}
    assert match.group(1) in schedules and schedules[match.group(1)].cron == "*/5 * * * *"
    assert match.group(2) == f"{demo['environment']['DAGSTER_HOME']}/workspace.yaml"
    # The batches are launched through the webserver's GraphQL API, at its address inside the network.
    trigger = re.search(r"floe demo trigger --batches \d+ --url http://([\w-]+):(\d+) --no-wait", script)
    assert trigger is not None
    webserver = services[trigger.group(1)]
    assert webserver["command"][webserver["command"].index("-p") + 1] == trigger.group(2)
    assert demo["depends_on"][trigger.group(1)]["condition"] == "service_healthy"
    assert demo["depends_on"]["dagster-daemon"]["condition"] == "service_healthy"
    assert "floe-triggers" not in compose["volumes"]


def test_cube_reads_the_serving_database_the_runs_publish_to(compose: dict[str, Any]) -> None:
    """The platform's serving block and Cube's connection name the same server, database, role
    and password; Cube keeps its pre-aggregations there (no Cube Store) and never mounts the
    DuckDB state volume (a DuckDB file has one writer)."""
    services = compose["services"]
    cube, pg, user_code = services["cube"], services["postgres"], services["dagster-user-code"]
    env = cube["environment"]
    serving = compose_platform().environment.serving
    assert serving is not None and serving.type == "postgres" and serving.password is not None
    assert env["CUBEJS_DB_TYPE"] == "postgres"
    assert (env["CUBEJS_DB_HOST"], env["CUBEJS_DB_PORT"]) == (serving.host, str(serving.port))
    assert serving.host in services and "healthcheck" in services[serving.host]
    assert (env["CUBEJS_DB_NAME"], env["CUBEJS_DB_USER"]) == (serving.database, serving.user)
    secret = serving.password.secret_ref
    assert env["CUBEJS_DB_PASS"] == user_code["environment"][secret] == pg["environment"]["SERVING_PG_PASSWORD"]
    assert env["CUBEJS_EXTERNAL_DEFAULT"] == "false" and env["CUBEJS_REFRESH_WORKER"] == "true"
    assert env["CUBEJS_PRE_AGGREGATIONS_SCHEMA"] not in {serving.schema_, "public"}
    assert cube["depends_on"] == {serving.host: {"condition": "service_healthy"}}
    assert not [t for s, t in mounts(cube) if s == "floe-state"], "Cube must not open the DuckDB state volume"
    assert cube["build"]["args"]["FLOE_IMAGE"] == user_code["image"]
    # The live demo brings Cube up with it; 'cube' alone serves what earlier runs published.
    assert set(cube["profiles"]) == {"demo", "cube"}


def test_traces_and_lineage_reach_the_collector_jaeger_and_marquez(compose: dict[str, Any]) -> None:
    services = compose["services"]
    observability = compose_platform().environment.observability
    tracing = urlsplit(observability.tracing.endpoint)  # type: ignore[union-attr]
    collector = yaml.safe_load((DOCKER_DIR / "otel-config.yaml").read_text(encoding="utf-8"))
    protocols = collector["receivers"]["otlp"]["protocols"].values()
    receiver_ports = {int(p["endpoint"].rsplit(":", 1)[1]) for p in protocols}
    assert tracing.hostname == "otel-collector" and tracing.port in receiver_ports
    assert observability.tracing.protocol == "grpc" and observability.tracing.insecure  # type: ignore[union-attr]
    pipeline = collector["service"]["pipelines"]["traces"]
    for kind in ("receivers", "processors", "exporters"):
        assert set(pipeline[kind]) <= set(collector[kind]), f"undefined {kind} in the traces pipeline"
    exporter = collector["exporters"][pipeline["exporters"][0]]
    host, port = exporter["endpoint"].rsplit(":", 1)
    assert host == "jaeger" and port == "4317" and exporter["tls"]["insecure"] is True
    assert services["jaeger"]["environment"]["COLLECTOR_OTLP_ENABLED"] == "true"
    mount = dict((t, s) for s, t in mounts(services["otel-collector"]))
    assert mount[services["otel-collector"]["command"][0].split("=", 1)[1]] == "./otel-config.yaml"
    lineage = urlsplit(observability.lineage.url)  # type: ignore[union-attr]
    assert lineage.hostname == "marquez" and str(lineage.port) == services["marquez"]["environment"]["MARQUEZ_PORT"]
    assert services["marquez-web"]["environment"]["MARQUEZ_HOST"] == "marquez"


# --- the configuration files, checked by the tools that read them -------------------------------

# Dagster's import can start a process (platform probing): integration tier.
@pytest.mark.integration
def test_dagster_yaml_is_a_valid_instance_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 compose: dict[str, Any]) -> None:
    from dagster._core.instance.config import dagster_instance_config

    for key, value in compose["services"]["dagster-webserver"]["environment"].items():
        monkeypatch.setenv(key, str(value))
    (tmp_path / "dagster.yaml").write_text((DOCKER_DIR / "dagster.yaml").read_text(encoding="utf-8"),
                                           encoding="utf-8")
    config, _ = dagster_instance_config(str(tmp_path))
    assert config["storage"]["postgres"]["postgres_db"]["scheme"] == "postgresql+psycopg2"
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert config["run_launcher"]["class"] == "DefaultRunLauncher"
    assert config["compute_logs"]["config"]["base_dir"].startswith("/var/lib/dagster/")


# Dagster's import can start a process (platform probing): integration tier.
@pytest.mark.integration
def test_workspace_yaml_is_a_valid_workspace() -> None:
    from dagster._config import validate_config
    from dagster._core.workspace.config_schema import WORKSPACE_CONFIG_SCHEMA

    document = yaml.safe_load((DOCKER_DIR / "workspace.yaml").read_text(encoding="utf-8"))
    assert validate_config(WORKSPACE_CONFIG_SCHEMA, document).success
    document["load_from"][0]["grpc_server"]["hots"] = "typo"
    assert not validate_config(WORKSPACE_CONFIG_SCHEMA, document).success


def test_the_postgres_init_script_is_executable_and_fed_by_compose(compose: dict[str, Any]) -> None:
    script = DOCKER_DIR / "postgres-init" / "10-floe-databases.sh"
    assert os.access(script, os.X_OK)
    needed = set(re.findall(r'"\$\{(\w+):\?\}"', script.read_text(encoding="utf-8")))
    assert needed == {f"{who}_PG_{what}" for who in ("DAGSTER", "MARQUEZ", "SERVING")
                      for what in ("USER", "PASSWORD", "DB")}
    assert needed <= set(compose["services"]["postgres"]["environment"])
    targets = dict((t, s) for s, t in mounts(compose["services"]["postgres"]))
    assert targets["/docker-entrypoint-initdb.d"] == "./postgres-init"


@pytest.mark.postgres
def test_the_postgres_init_script_creates_roles_and_databases(postgres_admin_env: dict[str, str]) -> None:
    """Run the real script with psql against the test server; names are unique and dropped after."""
    suffix = secrets.token_hex(4)
    names = {"DAGSTER_PG_USER": f"floe_dagster_{suffix}", "DAGSTER_PG_DB": f"floe_dagster_{suffix}",
             "MARQUEZ_PG_USER": f"floe_marquez_{suffix}", "MARQUEZ_PG_DB": f"floe Marquez {suffix}",
             "DAGSTER_PG_PASSWORD": "it's-a \"quoted\" value", "MARQUEZ_PG_PASSWORD": secrets.token_urlsafe(16),
             "SERVING_PG_USER": f"floe_serving_{suffix}", "SERVING_PG_DB": f"floe_serving_{suffix}",
             "SERVING_PG_PASSWORD": secrets.token_urlsafe(16)}
    env = {**os.environ, **postgres_admin_env, **names}
    script = DOCKER_DIR / "postgres-init" / "10-floe-databases.sh"

    def sql(query: str) -> str:
        result = subprocess.run(["psql", "--no-psqlrc", "-tAc", query, "-U", env["POSTGRES_USER"], "-d",
                                 env["POSTGRES_DB"]], env=env, capture_output=True, text=True, check=True)
        return result.stdout.strip()

    try:
        result = subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 0, result.stderr
        for who in ("DAGSTER", "MARQUEZ", "SERVING"):
            user, database = names[f"{who}_PG_USER"], names[f"{who}_PG_DB"]
            owner = sql(f"select pg_get_userbyid(datdba) from pg_database where datname = '{database}'")
            assert owner == user
            assert sql(f"select rolcanlogin and rolpassword is not null from pg_authid where rolname = '{user}'") == "t"
        # A second run fails loudly instead of half-applying (the image runs it once, on an empty volume).
        again = subprocess.run(["sh", str(script)], env=env, capture_output=True, text=True, timeout=60, check=False)
        assert again.returncode != 0 and "already exists" in again.stderr
    finally:
        for who in ("DAGSTER", "MARQUEZ", "SERVING"):
            subprocess.run(["psql", "--no-psqlrc", "-c", f'drop database if exists "{names[f"{who}_PG_DB"]}"',
                            "-U", env["POSTGRES_USER"], "-d", env["POSTGRES_DB"]], env=env, capture_output=True,
                           check=False)
            subprocess.run(["psql", "--no-psqlrc", "-c", f'drop role if exists "{names[f"{who}_PG_USER"]}"',
                            "-U", env["POSTGRES_USER"], "-d", env["POSTGRES_DB"]], env=env, capture_output=True,
                           check=False)


@pytest.fixture
def postgres_admin_env() -> dict[str, str]:
    """libpq settings for a superuser on the test server (FLOE_TEST_POSTGRES_DSN, as tests/conftest.py)."""
    from psycopg2.extensions import parse_dsn

    from tests.conftest import _postgres_dsn

    parts = parse_dsn(_postgres_dsn())
    env = {"PGHOST": parts.get("host", "127.0.0.1"), "PGPORT": str(parts.get("port", 5432)),
           "POSTGRES_USER": parts.get("user", "postgres"), "POSTGRES_DB": parts.get("dbname", "postgres")}
    if "password" in parts:
        env["PGPASSWORD"] = parts["password"]
    probe = subprocess.run(["psql", "--no-psqlrc", "-tAc", "select rolsuper from pg_roles where rolname = current_user",
                            "-U", env["POSTGRES_USER"], "-d", env["POSTGRES_DB"]], env={**os.environ, **env},
                           capture_output=True, text=True, check=False)
    if probe.returncode != 0 or probe.stdout.strip() != "t":
        pytest.skip(f"no superuser connection to PostgreSQL at {env['PGHOST']}:{env['PGPORT']}")
    return env


def test_the_daemon_runs_under_floes_wrapper_and_a_standby_waits_in_profile_ha(compose: dict[str, Any]) -> None:
    """orchestrator.daemon is honoured in Compose: the wrapper reads the mode from the baked
    contract; the standby (profile ha) insists on an election, so with mode single it refuses
    instead of running a second, unlocked daemon."""
    services = compose["services"]
    daemon, standby = services["dagster-daemon"], services["dagster-daemon-standby"]
    workspace = ["--workspace", "/opt/floe/dagster-home/workspace.yaml"]
    assert daemon["command"] == ["floe", "daemon", "run", *workspace]
    assert "profiles" not in daemon
    assert standby["command"] == ["floe", "daemon", "run", "--election", "postgres", *workspace]
    assert standby["profiles"] == ["ha"]
    # Same instance, same workspace, same database credentials: either can lead.
    for key in ("volumes", "environment", "image", "depends_on", "healthcheck"):
        assert standby[key] == daemon[key], key
    assert daemon["environment"]["DAGSTER_PG_PASSWORD"]  # the lock's connection resolves this secret
