"""The parts of floe's Cube server that need no node: its pinned packages, tokens, queries, answers,
the database it reads, the package cache, and the record of a running server."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from floe.cube_server import CubeServerError, answer_table, api_token, parse_query, used_pre_aggregations
from floe.cube_server.database import PRE_AGGREGATIONS_SCHEMA, cube_database
from floe.cube_server.install import PACKAGE_DIR, PACKAGE_FILES, cache_root, ensure_installed, package_hash
from floe.cube_server.server import ServerRecord, record_file, remove_record, running_server, write_record
from floe.spec.platform import EnvironmentSpec


def test_the_shipped_packages_are_pinned_exactly_and_locked_as_declared() -> None:
    package = json.loads((PACKAGE_DIR / "package.json").read_text())
    lock = json.loads((PACKAGE_DIR / "package-lock.json").read_text())
    for name, version in package["dependencies"].items():
        assert version[0].isdigit(), f"{name} is not pinned to one version: {version}"
        assert lock["packages"][f"node_modules/{name}"]["version"] == version
    assert lock["packages"][""]["dependencies"] == package["dependencies"]
    assert package["dependencies"]["@cubejs-backend/server-core"] == "0.32.31"
    # Cube's postinstall scripts download binaries (Cube Store) that floe never uses.
    assert "ignore-scripts=true" in (PACKAGE_DIR / ".npmrc").read_text().splitlines()
    assert (PACKAGE_DIR / "server.js").is_file()


def test_the_install_folder_is_named_by_the_package_files() -> None:
    digest = package_hash()
    assert len(digest) == 16 and digest == package_hash()
    assert set(PACKAGE_FILES) == {"package.json", "package-lock.json", ".npmrc"}


def test_the_cache_is_floes_own_and_can_be_moved(tmp_path: Path) -> None:
    assert cache_root({"FLOE_CUBE_CACHE": str(tmp_path / "x")}) == tmp_path / "x"
    assert cache_root({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "floe" / "cube"
    assert cache_root({}) == Path.home() / ".cache" / "floe" / "cube"


def test_without_node_the_install_says_how_to_get_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: neither node nor npm
    with pytest.raises(CubeServerError) as raised:
        ensure_installed(lambda line: None, {"FLOE_CUBE_CACHE": str(tmp_path / "cache")})
    assert "node and npm is not on PATH" in str(raised.value) and "Node.js 20" in str(raised.value)
    assert not (tmp_path / "cache").exists()


@pytest.mark.process  # asks the (fake) node for its version
def test_an_installed_version_is_used_without_npm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # npm is never run when the folder of this lock file exists (a fake node/npm would fail if called).
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("node", "npm"):
        (bin_dir / name).write_text("#!/bin/sh\n[ \"$1\" = --version ] && echo v20.1.0 && exit 0\nexit 9\n")
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    modules = tmp_path / "cache" / package_hash() / "node_modules"
    modules.mkdir(parents=True)
    assert ensure_installed(lambda line: None, {"FLOE_CUBE_CACHE": str(tmp_path / "cache")}) == modules


def _decode(part: str) -> dict[str, Any]:
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


def test_tokens_are_hs256_jwts_signed_with_the_secret() -> None:
    token = api_token("s3cret", ttl_s=60, now=1_000)
    header, payload, signature = token.split(".")
    assert _decode(header) == {"alg": "HS256", "typ": "JWT"}
    assert _decode(payload) == {"iat": 1_000, "exp": 1_060}
    expected = hmac.new(b"s3cret", f"{header}.{payload}".encode(), hashlib.sha256).digest()
    assert base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)) == expected


@pytest.mark.parametrize(("text", "message"), [
    ('{"measures": ["orders.count"', "line 1, column"),
    ("[1, 2]", "must be a JSON object, not list"),
    ('{"mesures": ["orders.count"]}', "key(s) Cube does not know: mesures"),
    ("{}", "asks for nothing"),
])
def test_a_bad_query_is_refused_with_where_and_what(text: str, message: str) -> None:
    with pytest.raises(CubeServerError) as raised:
        parse_query(text)
    assert message in str(raised.value) and raised.value.hint


def test_a_bad_query_exits_1_before_anything_starts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from floe.cli.main import main

    monkeypatch.chdir(tmp_path)  # no project here: the query is checked before the project is read
    with pytest.raises(SystemExit) as exited:
        main(["cube", "query", '{"measures": ["orders.order_count"'])
    assert exited.value.code == 1
    error = capsys.readouterr().err
    assert "the query is not valid JSON: line 1, column 35" in error and "Traceback" not in error


def test_answers_read_as_a_table() -> None:
    answer = {"data": [
        {"orders.ordered_at.day": "2026-01-02T00:00:00.000", "orders.ordered_at": "2026-01-02T00:00:00.000",
         "orders.region": "europe", "orders.revenue": "120.50"},
        {"orders.ordered_at.day": "2026-01-03T00:00:00.000", "orders.ordered_at": "2026-01-03T00:00:00.000",
         "orders.region": None, "orders.revenue": "7"},
    ], "usedPreAggregations": {"pre.orders_rollup": {}}}
    lines = answer_table(answer)
    assert lines[0].split() == ["orders.ordered_at.day", "orders.region", "orders.revenue"]
    assert lines[2].split() == ["2026-01-02", "europe", "120.50"]
    assert lines[3].endswith("      7")  # numbers right-aligned
    assert lines[-1] == "(2 rows)"
    assert used_pre_aggregations(answer) == ["pre.orders_rollup"]
    assert answer_table({"data": []}) == ["(no rows)"]


def _compiled(environment: dict[str, Any]) -> Any:
    spec = EnvironmentSpec.model_validate(environment)
    return SimpleNamespace(artifacts=SimpleNamespace(environment=spec, environment_name="prod"))


def test_cube_reads_the_serving_database_with_its_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERVING_PW", "pw")
    database = cube_database(_compiled({"serving": {
        "type": "postgres", "host": "db", "user": "cube", "database": "marts", "schema": "pub",
        "password": {"secret_ref": "SERVING_PW"}, "sslmode": "require"}}))
    assert (database.host, database.user, database.password, database.schema, database.source) == \
        ("db", "cube", "pw", "pub", "serving")
    env = database.cube_environment()
    assert env["CUBEJS_DB_TYPE"] == "postgres" and env["CUBEJS_DB_PASS"] == "pw"
    assert env["CUBEJS_DB_SSL"] == "true" and env["CUBEJS_DB_SSL_REJECT_UNAUTHORIZED"] == "false"
    assert env["CUBEJS_PRE_AGGREGATIONS_SCHEMA"] == PRE_AGGREGATIONS_SCHEMA
    assert env["CUBEJS_EXT_DB_HOST"] == "db"  # dev mode's external database: the same one


def test_cube_reads_a_postgres_compute_directly() -> None:
    database = cube_database(_compiled({"compute": {"type": "postgres", "host": "pg", "user": "u",
                                                    "database": "d", "schema": "marts"}}))
    assert (database.host, database.schema, database.source, database.password) == ("pg", "marts", "compute", None)
    assert "CUBEJS_DB_SSL" not in database.cube_environment()


def test_duckdb_without_serving_is_refused_with_how_to_declare_it() -> None:
    with pytest.raises(CubeServerError) as raised:
        cube_database(_compiled({"compute": {"type": "duckdb"}}))
    assert "environment 'prod' has no serving database" in str(raised.value)
    assert "serving: {type: postgres" in str(raised.value)


def test_a_missing_password_secret_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE_PW", raising=False)
    monkeypatch.setenv("FLOE_SECRETS_DIR", "/nonexistent")
    with pytest.raises(Exception, match="NOPE_PW"):
        cube_database(_compiled({"serving": {"type": "postgres", "host": "h", "user": "u", "database": "d",
                                             "password": {"secret_ref": "NOPE_PW"}}}))


def test_a_record_is_found_while_its_server_runs_and_dropped_after(tmp_path: Path) -> None:
    from floe.processes import this_process

    me = this_process()
    live = ServerRecord(pid=me.pid, host=me.host, started=me.started, port=4123, secret="s", environment="dev",
                        owner_pid=me.pid)
    path = write_record(tmp_path, live)
    assert path.name == record_file("dev") and oct(path.stat().st_mode & 0o777) == "0o600"
    assert running_server(tmp_path, "dev") == live
    assert running_server(tmp_path, "prod") is None  # another environment's server is not this one
    remove_record(tmp_path, live)
    assert not path.exists()

    gone = dataclasses.replace(live, pid=2**22 + 12345)  # above pid_max: no such process
    write_record(tmp_path, gone)
    assert running_server(tmp_path, "dev") is None  # a killed serve's record is cleared
    assert not (tmp_path / record_file("dev")).exists()


_CTRL_C_HANDED_TO_ANOTHER_THREAD = """
import signal, subprocess, sys, threading, time
from pathlib import Path
from floe.cube_server.server import CubeServer

signal.signal(signal.SIGINT, signal.default_int_handler)  # whatever the test runner's workers ignore
server = CubeServer(modules=Path("."), model_dir=Path("."), database=None, secret="s", port=0,
                    log_path=Path("log"), environment="e")
server._process = subprocess.Popen(["sleep", "120"])
other = threading.Thread(target=time.sleep, args=(120,), daemon=True)  # the stdout pump's stand-in
other.start()
# The kernel may hand a process's SIGINT to any of its threads; hand it to the other one.
threading.Timer(0.5, signal.pthread_kill, args=(other.ident, signal.SIGINT)).start()
started = time.monotonic()
try:
    server.wait()
    print("returned")
except KeyboardInterrupt:
    print(f"interrupted after {time.monotonic() - started:.1f}s")
finally:
    server._process.kill()
"""


@pytest.mark.process
def test_ctrl_c_reaches_serve_even_when_the_kernel_hands_it_to_another_thread(tmp_path: Path) -> None:
    """A blocking waitpid in the main thread never ran the pending handler: 'floe cube serve'
    ignored Ctrl-C under load until it was killed. Waiting in slices lets the main thread look."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", _CTRL_C_HANDED_TO_ANOTHER_THREAD], cwd=tmp_path,
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.stdout.startswith("interrupted after"), result.stdout + result.stderr
    assert float(result.stdout.split()[2].rstrip("s")) < 60  # not the 120 s the child would take
