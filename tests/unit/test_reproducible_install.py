"""Installs are reproducible: uv.lock is committed and current, the lint and type tools are pinned,
and mypy checks the oldest Python floe claims to support.

`make install` installs exactly what uv.lock says (``uv sync --frozen``); `make lint` first checks
the lock against pyproject.toml so a dependency edit without ``uv lock`` fails in CI, not later.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement

if sys.version_info >= (3, 11):
    import tomllib
else:  # pytest brings tomli on 3.10
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[2]
UV = Path(sys.executable).parent / "uv"


def _pyproject() -> dict[str, Any]:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def _uv() -> str:
    if not UV.exists():
        pytest.skip(f"uv is not installed next to {sys.executable} (make install puts it there)")
    return str(UV)


def test_mypy_and_ruff_target_the_minimum_supported_python() -> None:
    project = _pyproject()
    minimum = re.fullmatch(r">=\s*3\.(\d+)", project["project"]["requires-python"])
    assert minimum, "requires-python should be a plain lower bound such as '>=3.10'"
    minor = minimum.group(1)
    assert project["tool"]["mypy"]["python_version"] == f"3.{minor}"
    assert project["tool"]["ruff"]["target-version"] == f"py3{minor}"


@pytest.mark.parametrize("tool", ["ruff", "mypy"])
def test_lint_and_type_tools_are_pinned_and_installed_at_the_pin(tool: str) -> None:
    dev = [Requirement(line) for line in _pyproject()["project"]["optional-dependencies"]["dev"]]
    (requirement,) = [r for r in dev if r.name == tool]
    specifiers = list(requirement.specifier)
    assert len(specifiers) == 1 and specifiers[0].operator == "==", f"{tool} should be pinned exactly: {requirement}"
    # The venv came from uv.lock, which must hold the same pin.
    assert importlib.metadata.version(tool) == specifiers[0].version


@pytest.mark.process
def test_committed_lock_matches_pyproject() -> None:
    # Offline: a current lock is checked from its own contents; a stale one fails without a resolve.
    checked = subprocess.run([_uv(), "lock", "--check", "--offline"], cwd=REPO, capture_output=True, text=True,
                             check=False)
    assert checked.returncode == 0, f"uv.lock is stale: run 'uv lock'\n{checked.stderr}"
    lock = tomllib.loads((REPO / "uv.lock").read_text(encoding="utf-8"))
    assert lock["requires-python"] == _pyproject()["project"]["requires-python"]
    (floe,) = [p for p in lock["package"] if p["name"] == "floe-runtime"]
    assert floe["source"] == {"editable": "."}
    # Universal: every extra is locked, not only the ones this machine installed.
    assert set(floe["optional-dependencies"]) == set(_pyproject()["project"]["optional-dependencies"])


@pytest.mark.process
@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_lint_fails_on_a_stale_lock_and_says_how_to_fix_it(tmp_path: Path) -> None:
    uv = _uv()
    for name in ("Makefile", "pyproject.toml", "uv.lock"):
        shutil.copy(REPO / name, tmp_path / name)
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(pyproject.read_text(encoding="utf-8").replace(
        '"prometheus-client>=0.20"', '"prometheus-client>=0.20", "six"'), encoding="utf-8")
    assert pyproject.read_text(encoding="utf-8") != (REPO / "pyproject.toml").read_text(encoding="utf-8")
    venv = Path(uv).parent.parent
    # -o: treat the install as done (this repo's venv serves); only the lint recipe runs, in the copy.
    linted = subprocess.run(["make", "-s", "-o", "install", "-o", f"{venv}/.installed", "lint", f"VENV={venv}"],
                            cwd=tmp_path, capture_output=True, text=True, check=False,
                            env={**os.environ, "UV_OFFLINE": "1"})
    assert linted.returncode != 0
    assert "uv.lock is out of date with pyproject.toml: run 'uv lock'" in linted.stderr
    assert (tmp_path / "uv.lock").read_bytes() == (REPO / "uv.lock").read_bytes(), "the check must not rewrite the lock"
