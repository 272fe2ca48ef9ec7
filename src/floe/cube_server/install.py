"""The Cube server's npm packages: installed once per lock file, into a cache outside the project.

floe ships ``node/package.json`` and ``node/package-lock.json`` (exact versions) and installs
them with ``npm ci`` on first use, into ``<cache>/<hash of the package files>/node_modules``.
``<cache>`` is ``$FLOE_CUBE_CACHE``, else ``$XDG_CACHE_HOME/floe/cube``, else
``~/.cache/floe/cube``. A new floe with other versions gets a folder of its own; an old one
stays until removed by hand.

An install is atomic: ``npm ci`` runs in a scratch folder named after its owner process, which
is renamed to its final name only when npm succeeded. A lock file serialises installs of one
hash, so a second floe waits for the first instead of downloading again; a scratch folder left
by a killed install is removed by the next one.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from floe.cube_server.errors import CubeServerError
from floe.processes import owned_prefix, remove_orphaned

PACKAGE_DIR = Path(__file__).resolve().parent / "node"
PACKAGE_FILES = ("package.json", "package-lock.json", ".npmrc")
SERVER_SCRIPT = PACKAGE_DIR / "server.js"
CACHE_ENV = "FLOE_CUBE_CACHE"
NODE_MAJOR_MIN = 18
_SCRATCH_PREFIX = ".install-"
# npm ci takes about a minute on a good line; a slow registry mirror may take many.
_NPM_TIMEOUT_S = 1800
NODE_HINT = ("install Node.js 20 with npm (https://nodejs.org/en/download, or your system's packages, "
             "e.g. 'apt-get install nodejs npm'), then run the command again")


def cache_root(environ: dict[str, str] | None = None) -> Path:
    """The folder holding every installed version of the Cube server's packages."""
    env = os.environ if environ is None else environ
    if env.get(CACHE_ENV):
        return Path(env[CACHE_ENV]).expanduser()
    xdg = env.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "floe" / "cube"


def package_hash() -> str:
    """A short digest of the package files: the install folder's name."""
    digest = hashlib.sha256()
    for name in PACKAGE_FILES:
        digest.update(name.encode() + b"\0" + (PACKAGE_DIR / name).read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def find_node() -> tuple[str, str]:
    """The paths of ``node`` and ``npm``.

    Raises:
        CubeServerError: either is missing, or node is older than 18.
    """
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        missing = " and ".join(name for name, path in (("node", node), ("npm", npm)) if path is None)
        raise CubeServerError(f"Cube runs on Node.js, and {missing} is not on PATH", hint=NODE_HINT)
    try:
        version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=60,
                                 check=True).stdout.strip()
        major = int(version.lstrip("v").split(".")[0])
    except (OSError, subprocess.SubprocessError, ValueError):
        raise CubeServerError(f"{node} --version did not answer with a version", hint=NODE_HINT) from None
    if major < NODE_MAJOR_MIN:
        raise CubeServerError(f"Node.js {version} is too old for Cube (needs {NODE_MAJOR_MIN} or newer)",
                              hint=NODE_HINT)
    return node, npm


def installed_modules(environ: dict[str, str] | None = None) -> Path | None:
    """The ``node_modules`` folder of this floe's packages, or None when not installed yet."""
    modules = cache_root(environ) / package_hash() / "node_modules"
    return modules if modules.is_dir() else None


def ensure_installed(progress: Callable[[str], None], environ: dict[str, str] | None = None) -> Path:
    """The ``node_modules`` folder of the Cube server, installed with ``npm ci`` when missing.

    ``progress`` receives one line per step (what is installed where, how long it took).

    Raises:
        CubeServerError: node or npm is missing, the cache folder cannot be written, or npm failed.
    """
    _, npm = find_node()
    root = cache_root(environ)
    final = root / package_hash()
    if (final / "node_modules").is_dir():
        return final / "node_modules"
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CubeServerError(f"cannot create the Cube package cache {root}: {exc.strerror}",
                              hint=f"set {CACHE_ENV} to a writable folder") from None
    with _install_lock(root / f"{final.name}.lock", progress):
        if (final / "node_modules").is_dir():  # another floe installed it while we waited
            return final / "node_modules"
        remove_orphaned(root, _SCRATCH_PREFIX)
        scratch = Path(tempfile.mkdtemp(prefix=owned_prefix(_SCRATCH_PREFIX), dir=root))
        try:
            for name in PACKAGE_FILES:
                shutil.copy2(PACKAGE_DIR / name, scratch / name)
            progress(f"installing the Cube server's npm packages into {final} (npm ci, about a minute, once)")
            started = time.monotonic()
            _npm_ci(npm, scratch)
            _publish(scratch, final)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        progress(f"installed the Cube server in {time.monotonic() - started:.0f}s")
    return final / "node_modules"


def _npm_ci(npm: str, folder: Path) -> None:
    try:
        result = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=folder,
                                capture_output=True, text=True, timeout=_NPM_TIMEOUT_S, check=False,
                                stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise CubeServerError(f"npm ci did not finish within {_NPM_TIMEOUT_S // 60} minutes",
                              hint="check access to the npm registry (npm config get registry)") from None
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-15:])
        raise CubeServerError(f"npm ci failed (exit {result.returncode}) installing the Cube server:\n{tail}",
                              hint="check access to the npm registry (npm config get registry, a proxy in "
                              "~/.npmrc), then run the command again")


def _publish(scratch: Path, final: Path) -> None:
    """Rename the finished install to its final name (atomic: a reader sees all of it or nothing)."""
    try:
        os.rename(scratch, final)
    except OSError as exc:
        if (final / "node_modules").is_dir():  # installed by a floe that did not take the lock
            return
        raise CubeServerError(f"cannot move the Cube server's packages to {final}: {exc.strerror}",
                              hint=f"remove {final} (an incomplete install), then run the command again") from None


@contextlib.contextmanager
def _install_lock(path: Path, progress: Callable[[str], None]) -> Iterator[None]:
    """Hold ``flock`` on ``path``; say so when another floe holds it (it is installing)."""
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress("another floe is installing the Cube server's packages; waiting for it")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
