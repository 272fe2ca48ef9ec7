"""When compile runs dbt deps (cheap checks, no network), and what dbt's failures keep."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from floe.compiler.dbt_deps import (
    declared_packages,
    first_unreachable_host,
    missing_packages_reason,
    package_hosts,
)
from floe.compiler.dbt_process import dbt_error_summary

HUB = "packages:\n  - package: dbt-labs/dbt_utils\n    version: [\">=1.0.0\", \"<2.0.0\"]\n"
LOCK = "packages:\n  - package: dbt-labs/dbt_utils\n    version: 1.3.0\n    name: dbt_utils\nsha1_hash: abc\n"


def _project(path: Path, packages: str | None = HUB, *, file: str = "packages.yml") -> Path:
    path.mkdir(parents=True)
    (path / "dbt_project.yml").write_text("name: shop\nconfig-version: 2\n")
    if packages is not None:
        (path / file).write_text(packages)
    return path


def _install(project: Path, name: str, folder: str = "dbt_packages") -> None:
    (project / folder / name).mkdir(parents=True)
    (project / folder / name / "dbt_project.yml").write_text(f"name: {name}\n")


def _reason(project: Path) -> str | None:
    return missing_packages_reason(project, declared_packages(project))


def test_no_packages_declared_needs_nothing(tmp_path: Path) -> None:
    assert _reason(_project(tmp_path / "p", None)) is None
    assert _reason(_project(tmp_path / "q", "packages: []\n")) is None


@pytest.mark.parametrize("file", ["packages.yml", "dependencies.yml"])
def test_missing_install_folder_needs_deps(tmp_path: Path, file: str) -> None:
    assert _reason(_project(tmp_path / "p", file=file)) == "dbt_packages/ does not exist"


def test_fewer_installed_than_declared_needs_deps(tmp_path: Path) -> None:
    project = _project(tmp_path / "p", HUB + "  - local: ../common\n")
    _install(project, "dbt_utils")
    assert _reason(project) == "2 packages declared, 1 installed"


def test_vendored_packages_are_used_as_they_are(tmp_path: Path) -> None:
    project = _project(tmp_path / "p")
    _install(project, "dbt_utils")
    assert _reason(project) is None  # no lock: as many installed as declared, as dbt checks
    (project / "package-lock.yml").write_text(LOCK)
    assert _reason(project) is None


def test_a_locked_package_missing_from_the_install_folder_needs_deps(tmp_path: Path) -> None:
    project = _project(tmp_path / "p")
    _install(project, "something_else")
    (project / "package-lock.yml").write_text(LOCK)
    assert _reason(project) == "dbt_utils locked but not installed"


def test_a_declared_package_missing_from_the_lock_needs_deps(tmp_path: Path) -> None:
    project = _project(tmp_path / "p", "packages:\n  - package: acme/other\n    version: 1.0.0\n")
    _install(project, "dbt_utils")
    (project / "package-lock.yml").write_text(LOCK)
    assert _reason(project) == "acme/other not in package-lock.yml"


def test_packages_install_path_from_dbt_project_yml(tmp_path: Path) -> None:
    project = _project(tmp_path / "p")
    (project / "dbt_project.yml").write_text("name: shop\npackages-install-path: vendor\n")
    _install(project, "dbt_utils", folder="vendor")
    assert declared_packages(project).install_dir == project / "vendor"
    assert _reason(project) is None


def test_local_packages_resolve_from_the_project(tmp_path: Path) -> None:
    project = _project(tmp_path / "p", "packages:\n  - local: ../common\n")
    assert declared_packages(project).local_dirs(project) == [project / "../common"]


def test_hosts_to_download_from(tmp_path: Path) -> None:
    entries = [{"package": "a/b"}, {"git": "https://github.com/a/b.git"}, {"git": "git@gitlab.com:a/b.git"},
               {"tarball": "http://example.org/x.tgz"}, {"local": "../x"}, {"git": "{{ env_var('URL') }}"}]
    assert package_hosts(entries, {}) == [("hub.getdbt.com", 443), ("codeload.github.com", 443),
                                          ("github.com", 443), ("gitlab.com", 22), ("example.org", 80)]
    assert package_hosts([{"package": "a/b"}], {"DBT_PACKAGE_HUB_URL": "http://hub.local:8080/"}) == [
        ("hub.local", 8080)]


def test_an_unreachable_host_is_named_quickly() -> None:
    with socket.socket() as taken:  # a port nobody listens on: bound, never accepting
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        found = first_unreachable_host([("127.0.0.1", port)], {}, timeout=1.0)
    assert found is not None and found.startswith(f"127.0.0.1:{port} cannot be reached")
    assert first_unreachable_host([("127.0.0.1", port)], {"HTTPS_PROXY": "http://proxy:3128"}) is None


DEPS_OUTPUT = """\
\x1b[0m19:13:05  Running with dbt=1.11.16
\x1b[0m19:13:05  Encountered an error:
External connection exception occurred: HTTPSConnectionPool(host='hub.getdbt.com', port=443): Max retries exceeded
\x1b[0m19:13:05  Traceback (most recent call last):
  File "dbt/clients/registry.py", line 168, in _get_index
    resp = requests.get(url, timeout=30)
socket.gaierror: [Errno -2] Name or service not known

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "dbt_common/utils/connection.py", line 38, in connection_exception_retry
dbt_common.exceptions.connection.ConnectionError: External connection exception occurred
"""

MISSING_PACKAGE = """\
19:14:25  Running with dbt=1.11.16
19:14:26  Registered adapter: duckdb=1.11.1
19:14:26  Encountered an error:
Compilation Error
  dbt found 1 package(s) specified in packages.yml, but only 0 package(s) installed in dbt_packages. \
Run "dbt deps" to install package dependencies.
"""

JINJA = """\
19:14:28  Running with dbt=1.11.16
19:14:28  Unable to do partial parsing because saved manifest not found. Starting full parse.
19:14:30  Encountered an error:
Compilation Error in model a (models/a.sql)
  unexpected '}', expected ')'
    line 1
      select {{ ref('x' }} as a
"""


def test_error_summary_keeps_dbts_explanation() -> None:
    assert dbt_error_summary(MISSING_PACKAGE) == (
        "Compilation Error\n  dbt found 1 package(s) specified in packages.yml, but only 0 package(s) installed "
        'in dbt_packages. Run "dbt deps" to install package dependencies.')
    assert dbt_error_summary(JINJA).splitlines() == [
        "Compilation Error in model a (models/a.sql)", "  unexpected '}', expected ')'", "    line 1",
        "      select {{ ref('x' }} as a"]


def test_error_summary_drops_clocks_colours_and_tracebacks() -> None:
    assert dbt_error_summary(DEPS_OUTPUT) == (
        "External connection exception occurred: HTTPSConnectionPool(host='hub.getdbt.com', port=443): "
        "Max retries exceeded")


def test_error_summary_without_dbts_header_keeps_error_lines() -> None:
    assert dbt_error_summary("a\nb\nSomething failed: Could not find x\nc\n") == "Something failed: Could not find x"
