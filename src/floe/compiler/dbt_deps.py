"""A dbt project's packages, installed before it is parsed: ``dbt deps`` when they are missing.

dbt reads the packages a project needs from ``packages.yml`` or ``dependencies.yml`` and
installs them into its packages-install-path (``dbt_packages/`` unless dbt_project.yml says
otherwise), recording what it resolved in ``package-lock.yml``. floe runs ``dbt deps`` in the
user's dbt project, as a dbt user would, only when the installed packages cannot be the
declared ones (cheap checks on names and folders, no network); installed packages, vendored
or from an earlier ``dbt deps``, are used as they are.

``dbt deps`` deletes the install folder before it downloads, so floe never starts it when a
host it must download from cannot be reached: a vendored ``dbt_packages/`` then survives, and
the compile does not wait on dbt's retries.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from floe.compiler.dbt_process import dbt_error_summary, run_dbt

PACKAGE_FILES = ("dependencies.yml", "packages.yml")
LOCK_FILE = "package-lock.yml"
DEFAULT_INSTALL_PATH = "dbt_packages"
DEFAULT_HUB_URL = "https://hub.getdbt.com/"
HUB_DOWNLOAD_HOST = "codeload.github.com"
# Kinds of package entries dbt knows, by the key that names the package.
_SOURCE_KEYS = ("package", "git", "local", "tarball", "private")
# How long a host may take to accept a connection before floe calls it unreachable, and how
# long dbt deps may run at all (its own retries take minutes where packets are dropped).
PROBE_TIMEOUT_S = 3.0
DEPS_TIMEOUT_S = 300.0

NO_PACKAGES_HINT = (
    "run 'dbt deps' in the dbt project where the network reaches the package hosts (floe then "
    "uses the installed dbt_packages/ as it is), or keep dbt_packages/ with the project, or "
    "declare packages you have on disk as 'local:' packages"
)


@dataclass(frozen=True)
class DeclaredPackages:
    """What a dbt project declares and where its packages are installed."""

    entries: tuple[dict[str, Any], ...]
    spec_file: Path | None
    install_dir: Path

    def local_dirs(self, project_dir: Path) -> list[Path]:
        """Folders of ``local:`` packages, resolved from the project's own location."""
        return [(project_dir / str(entry["local"])) for entry in self.entries
                if isinstance(entry.get("local"), str) and "{{" not in entry["local"]]


@dataclass(frozen=True)
class DepsOutcome:
    """What the packages step did before dbt parse.

    Attributes:
        installed: Packages in the install folder after ``dbt deps`` ran (0 when it did not run).
        install_dir: Where dbt installs the packages.
        failure: Why the missing packages could not be installed (dbt's own lines, or the host
            that cannot be reached); None when nothing was missing or ``dbt deps`` succeeded.
    """

    installed: int = 0
    install_dir: Path | None = None
    failure: str | None = None

    def notes(self) -> list[str]:
        """What a user should read after a compile that succeeded."""
        if self.installed:
            plural = "s" if self.installed != 1 else ""
            return [f"installed {self.installed} dbt package{plural} into {self.install_dir} "
                    f"(dbt deps; {LOCK_FILE} beside dbt_project.yml)"]
        if self.failure is not None:  # dbt parse accepted the packages already installed
            return [f"{self.failure.splitlines()[0]}; dbt parsed with the packages installed in {self.install_dir}"]
        return []


def read_dbt_project_file(project_dir: Path) -> dict[str, Any]:
    """dbt_project.yml as a mapping; empty when it cannot be read (dbt parse then says why)."""
    try:
        document = yaml.safe_load((project_dir / "dbt_project.yml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    return document if isinstance(document, dict) else {}


def declared_packages(project_dir: Path) -> DeclaredPackages:
    """The packages ``project_dir`` declares (none when its package files cannot be read)."""
    install = read_dbt_project_file(project_dir).get("packages-install-path")
    install_dir = project_dir / (install if isinstance(install, str) and _plain(install) else DEFAULT_INSTALL_PATH)
    for name in PACKAGE_FILES:  # dbt reads dependencies.yml first
        path = project_dir / name
        document = _yaml_mapping(path)
        entries = document.get("packages")
        if isinstance(entries, list) and entries:
            return DeclaredPackages(tuple(e for e in entries if isinstance(e, dict)), path, install_dir)
    return DeclaredPackages((), None, install_dir)


def missing_packages_reason(project_dir: Path, declared: DeclaredPackages) -> str | None:
    """Why the installed packages cannot be the declared ones; None when they can.

    Cheap on purpose: folder names and the lock's names, no version arithmetic. A changed
    version range of an already locked package is not noticed (run ``dbt deps`` for it).
    """
    if not declared.entries:
        return None
    if not declared.install_dir.is_dir():
        return f"{declared.install_dir.name}/ does not exist"
    installed = {path.name for path in _package_dirs(declared.install_dir)}
    if len(installed) < len(declared.entries):
        return f"{len(declared.entries)} packages declared, {len(installed)} installed"
    lock = _yaml_mapping(project_dir / LOCK_FILE).get("packages")
    if not isinstance(lock, list):
        return None
    locked = [entry for entry in lock if isinstance(entry, dict)]
    missing = sorted(str(entry["name"]) for entry in locked
                     if isinstance(entry.get("name"), str) and entry["name"] not in installed)
    if missing:
        return f"{', '.join(missing)} locked but not installed"
    locked_sources = {_source(entry) for entry in locked}
    unlocked = []
    for entry in declared.entries:
        source = _source(entry)
        # A value dbt renders (env_var in a git URL) cannot be compared with the rendered lock.
        if source is not None and "{{" not in source[1] and source not in locked_sources:
            unlocked.append(source[1])
    if unlocked:
        return f"{', '.join(unlocked)} not in {LOCK_FILE}"
    return None


def ensure_dbt_packages(
    project_dir: Path, *, dbt_args: Sequence[str], env: Mapping[str, str], timeout: float = DEPS_TIMEOUT_S
) -> DepsOutcome:
    """Run ``dbt deps`` in ``project_dir`` when its declared packages are not installed.

    Args:
        project_dir: The dbt project (dbt deps writes dbt_packages/ and package-lock.yml there).
        dbt_args: dbt parse's arguments after the command (--project-dir, --profiles-dir, ...).
        env: dbt's environment, as dbt parse gets it.
        timeout: Seconds dbt deps may run.
    """
    declared = declared_packages(project_dir)
    reason = missing_packages_reason(project_dir, declared)
    if reason is None:
        return DepsOutcome(install_dir=declared.install_dir)
    unreachable = first_unreachable_host(package_hosts(declared.entries, env), env)
    if unreachable is not None:
        return DepsOutcome(install_dir=declared.install_dir,
                           failure=f"packages are missing ({reason}) and dbt deps cannot download them: "
                                   f"{unreachable}")
    args = ["--no-use-colors", "deps", *dbt_args]
    try:
        result = run_dbt(args, cwd=project_dir, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return DepsOutcome(install_dir=declared.install_dir,
                           failure=f"packages are missing ({reason}) and dbt deps did not finish "
                                   f"within {timeout:.0f} s")
    if result.returncode != 0:
        said = dbt_error_summary(result.stdout + "\n" + result.stderr)
        return DepsOutcome(install_dir=declared.install_dir,
                           failure=f"packages are missing ({reason}) and dbt deps failed:\n{said}")
    return DepsOutcome(installed=len(_package_dirs(declared.install_dir)), install_dir=declared.install_dir)


def package_hosts(entries: Sequence[Mapping[str, Any]], env: Mapping[str, str]) -> list[tuple[str, int]]:
    """(host, port) pairs dbt deps downloads ``entries`` from; local packages need none."""
    hosts: list[tuple[str, int]] = []
    for entry in entries:
        found: list[tuple[str, int] | None] = []
        if "package" in entry:
            hub = env.get("DBT_PACKAGE_HUB_URL")
            # dbt Hub lists versions; the packages themselves download from GitHub.
            found = [_url_host(hub)] if hub else [_url_host(DEFAULT_HUB_URL), (HUB_DOWNLOAD_HOST, 443)]
        elif isinstance(entry.get("git"), str):
            found = [_git_host(entry["git"])]
        elif isinstance(entry.get("tarball"), str):
            found = [_url_host(entry["tarball"])]
        hosts.extend(host for host in found if host is not None and host not in hosts)
    return hosts


def first_unreachable_host(
    hosts: Sequence[tuple[str, int]], env: Mapping[str, str], timeout: float = PROBE_TIMEOUT_S
) -> str | None:
    """The first host that refuses a connection, as ``host:port (reason)``; None when all answer.

    Behind a proxy, a direct connection says nothing about what dbt can reach: not probed.
    """
    if any(env.get(name) for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return None
    for host, port in hosts:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
        except OSError as exc:
            return f"{host}:{port} cannot be reached ({exc.strerror or exc})"
    return None


def _package_dirs(install_dir: Path) -> list[Path]:
    if not install_dir.is_dir():
        return []
    return sorted(path for path in install_dir.iterdir()
                  if path.is_dir() and (path / "dbt_project.yml").is_file())


def _source(entry: Mapping[str, Any]) -> tuple[str, str] | None:
    for key in _SOURCE_KEYS:
        if key in entry:
            value = entry[key]
            if key == "local" and isinstance(value, str):
                value = os.path.normpath(value)
            return key, str(value)
    return None


def _yaml_mapping(path: Path) -> dict[str, Any]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    return document if isinstance(document, dict) else {}


def _plain(value: Any) -> bool:
    return isinstance(value, str) and bool(value) and "{{" not in value


def _url_host(url: str) -> tuple[str, int] | None:
    if "{{" in url:
        return None
    parts = urlsplit(url)
    if not parts.hostname:
        return None
    return parts.hostname, parts.port or (80 if parts.scheme == "http" else 443)


def _git_host(url: str) -> tuple[str, int] | None:
    if "{{" in url:
        return None
    if "://" in url:
        parts = urlsplit(url)
        if not parts.hostname:
            return None
        default = {"ssh": 22, "git": 9418, "http": 80}.get(parts.scheme, 443)
        return parts.hostname, parts.port or default
    if "@" in url and ":" in url:  # scp-like ssh: git@github.com:org/repo.git
        return url.split("@", 1)[1].split(":", 1)[0], 22
    return None
