"""The ecommerce template's manifest, from a real ``dbt parse`` once per session."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integration.ecommerce.bronze import write_project


@pytest.fixture(scope="session")
def _parsed_manifest(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("ecommerce_parse")
    project = write_project(root, root / "warehouse.duckdb")
    dbt = Path(sys.executable).parent / "dbt"
    # An in-process floe run earlier in this worker exports DBT_TARGET_PATH (and the like) for
    # dbt: the parse must write to this project's own target/ whatever ran before.
    inherited = {k: v for k, v in os.environ.items()
                 if k not in ("DBT_TARGET_PATH", "DBT_LOG_PATH", "DBT_PROJECT_DIR", "DBT_PROFILES_DIR")}
    env = {**inherited, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DBT_USE_COLORS": "false"}
    result = subprocess.run(
        [str(dbt), "parse", "--project-dir", str(project), "--profiles-dir", str(project)],
        cwd=project, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    # The template must parse cleanly: a warning here is a defect of the template.
    assert "[WARNING]" not in result.stdout and "Warning" not in result.stdout, result.stdout[-3000:]
    manifest: dict[str, Any] = json.loads((project / "target" / "manifest.json").read_text(encoding="utf-8"))
    return manifest


@pytest.fixture
def manifest(_parsed_manifest: dict[str, Any]) -> dict[str, Any]:
    """A private copy of the parsed manifest, free to modify."""
    return copy.deepcopy(_parsed_manifest)
