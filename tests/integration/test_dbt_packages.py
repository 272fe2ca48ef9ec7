"""dbt packages of a wrapped project: dbt deps when missing, vendored ones as they are, and
what the compile says when neither works (no network here: a closed port or a hub that
answers 404 stands in for an unreachable dbt Hub, so the tests never wait on the internet).
"""

from __future__ import annotations

import http.server
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

pytestmark = pytest.mark.integration

PROJECT = "name: shop\nversion: '1.0'\nconfig-version: 2\nprofile: shop\nmodels:\n  +materialized: table\n"


def _rows(root: Path, sql: str) -> list[tuple[object, ...]]:
    with duckdb.connect(str(root / ".floe" / "warehouse.duckdb"), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def _package(path: Path, name: str) -> Path:
    """A dbt package with a macro and a model of its own."""
    (path / "macros").mkdir(parents=True)
    (path / "models").mkdir()
    (path / "dbt_project.yml").write_text(f"name: {name}\nversion: '1.0'\nconfig-version: 2\n")
    (path / "macros" / "cents.sql").write_text(
        "{% macro cents_to_units(column) %}({{ column }} / 100.0){% endmacro %}")
    (path / "models" / f"{name}_currencies.sql").write_text("select 'EUR' as code")
    return path


def _shop(path: Path, packages: str, package: str = "common") -> Path:
    (path / "models").mkdir(parents=True)
    (path / "dbt_project.yml").write_text(PROJECT)
    (path / "packages.yml").write_text(packages)
    (path / "models" / "prices.sql").write_text(f"select {{{{ {package}.cents_to_units('1250') }}}} as price")
    return path


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A local port that refuses connections while the test runs."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        yield taken.getsockname()[1]


def test_a_local_package_beside_the_project_is_installed_and_runs(floe, tmp_path: Path) -> None:
    _package(tmp_path / "common", "common")
    source = _shop(tmp_path / "shop_dbt", "packages:\n  - local: ../common\n")
    assert floe("init", "platform", "--from-dbt", "shop_dbt", cwd=tmp_path).returncode == 0
    root = tmp_path / "platform"

    compiled = floe("compile", cwd=root)
    assert compiled.returncode == 0, compiled.stderr
    assert "installed 1 dbt package into" in compiled.stdout
    # dbt deps wrote where a dbt user expects it: the dbt project's own folder.
    assert (source / "dbt_packages" / "common").resolve() == (tmp_path / "common").resolve()
    assert (source / "package-lock.yml").is_file()

    run = floe("run", cwd=root)
    assert run.returncode == 0, run.stderr + run.stdout
    assert "installed" not in run.stderr, "installed packages are not installed again"
    assert _rows(root, "select price from prices") == [(12.5,)]
    assert _rows(root, "select code from common_currencies") == [("EUR",)]

    # An edit to the local package is a source change of the pipeline.
    (tmp_path / "common" / "models" / "common_currencies.sql").write_text("select 'USD' as code")
    again = floe("run", cwd=root)
    assert again.returncode == 0, again.stderr + again.stdout
    assert "sources changed" in again.stderr
    assert _rows(root, "select code from common_currencies") == [("USD",)]


def test_a_hub_package_without_network_says_what_dbt_said_and_what_to_do(
    floe, tmp_path: Path, closed_port: int
) -> None:
    _shop(tmp_path / "shop_dbt", "packages:\n  - package: dbt-labs/dbt_utils\n    version: 1.3.0\n")
    assert floe("init", "shop", "--from-dbt", "shop_dbt", cwd=tmp_path).returncode == 0
    started = time.monotonic()
    compiled = floe("compile", cwd=tmp_path / "shop", timeout=120,
                    env={"DBT_PACKAGE_HUB_URL": f"http://127.0.0.1:{closed_port}/"})
    assert compiled.returncode == 1
    assert time.monotonic() - started < 60, "the compile waited on the network"
    # dbt's own words, then why floe could not install, then what to do.
    assert 'Run "dbt deps" to install package dependencies.' in compiled.stderr
    assert f"127.0.0.1:{closed_port} cannot be reached" in compiled.stderr
    assert "run 'dbt deps' in the dbt project where the network reaches" in compiled.stderr
    assert "'local:' packages" in compiled.stderr
    assert "Traceback" not in compiled.stderr
    assert not (tmp_path / "shop_dbt" / "dbt_packages").exists()


class _NoIndex(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_error(404)

    def log_message(self, *args: object) -> None:
        pass


def test_when_dbt_deps_itself_fails_its_message_is_shown(floe, tmp_path: Path) -> None:
    _shop(tmp_path / "shop_dbt", "packages:\n  - package: dbt-labs/dbt_utils\n    version: 1.3.0\n")
    assert floe("init", "shop", "--from-dbt", "shop_dbt", cwd=tmp_path).returncode == 0
    hub = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NoIndex)
    threading.Thread(target=hub.serve_forever, daemon=True).start()
    try:
        compiled = floe("compile", cwd=tmp_path / "shop", timeout=180,
                        env={"DBT_PACKAGE_HUB_URL": f"http://127.0.0.1:{hub.server_address[1]}/"})
    finally:
        hub.shutdown()
        hub.server_close()
    assert compiled.returncode == 1
    assert "dbt deps failed:" in compiled.stderr
    assert "404 Client Error" in compiled.stderr
    assert 'Run "dbt deps"' in compiled.stderr
    assert "Traceback" not in compiled.stderr


def test_vendored_packages_are_used_without_dbt_deps(floe, tmp_path: Path, closed_port: int) -> None:
    source = _shop(tmp_path / "shop_dbt", "packages:\n  - package: acme/money\n    version: 1.0.0\n", "money")
    (source / "package-lock.yml").write_text(
        "packages:\n  - package: acme/money\n    version: 1.0.0\n    name: money\nsha1_hash: x\n")
    _package(source / "dbt_packages" / "money", "money")
    marker = source / "dbt_packages" / "money" / "VENDORED"
    marker.write_text("kept")
    assert floe("init", "shop", "--from-dbt", "shop_dbt", cwd=tmp_path).returncode == 0
    root = tmp_path / "shop"
    run = floe("run", cwd=root, env={"DBT_PACKAGE_HUB_URL": f"http://127.0.0.1:{closed_port}/"})
    assert run.returncode == 0, run.stderr + run.stdout
    assert "installed" not in run.stderr and "packages are missing" not in run.stderr
    assert marker.read_text() == "kept", "dbt deps ran and replaced the vendored packages"
    assert _rows(root, "select price from prices") == [(12.5,)]
    assert _rows(root, "select code from money_currencies") == [("EUR",)]
