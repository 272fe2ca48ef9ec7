"""A project moved or copied since its compile is compiled again: dbt's parse names absolute paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from floe.compiler.freshness import PARSED_ROOT, ensure_compiled

# `dbt parse` runs in a child process.
pytestmark = pytest.mark.process


def test_a_compile_made_elsewhere_is_compiled_again_once(compiled_project: Path, tmp_path: Path) -> None:
    marker = compiled_project / ".floe" / "dbt" / "target" / PARSED_ROOT
    assert not marker.exists(), "the fixture's copy carries no record of where dbt parsed"
    assert ensure_compiled(compiled_project / "floe.yaml").reason == "up to date"

    marker.write_text(str(tmp_path / "where-it-was" / "shop") + "\n", encoding="utf-8")
    fresh = ensure_compiled(compiled_project / "floe.yaml")
    assert fresh.compiled
    assert fresh.reason.startswith(f"the project moved since the last compile (dbt parsed it at {tmp_path}")
    assert marker.read_text(encoding="utf-8").strip() == str((compiled_project / "dbt").resolve())
    assert ensure_compiled(compiled_project / "floe.yaml").reason == "up to date"
