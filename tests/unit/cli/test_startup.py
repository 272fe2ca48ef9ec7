"""Start-up stays cheap: `floe --help` and `floe validate` import no heavy library."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("dagster", "dagster_dbt", "dbt", "duckdb", "pyarrow", "pyiceberg", "numpy", "psycopg2", "sqlalchemy")

_PROBE = """
import sys
from floe.cli.main import main
try:
    main({args!r})
except SystemExit as exc:
    code = exc.code
else:
    code = 0
heavy = sorted(name for name in {heavy!r} if name in sys.modules)
print("HEAVY:" + ",".join(heavy))
print("CODE:" + str(code))
"""


def _imports_after(args: list[str], cwd: Path) -> tuple[list[str], str]:
    result = subprocess.run([sys.executable, "-c", _PROBE.format(args=args, heavy=HEAVY)], cwd=cwd,
                            capture_output=True, text=True, check=False)
    lines = dict(line.split(":", 1) for line in result.stdout.splitlines() if line.startswith(("HEAVY:", "CODE:")))
    return [name for name in lines["HEAVY"].split(",") if name], lines["CODE"]


@pytest.mark.parametrize("args", [["--help"], ["run", "--help"], ["compile", "--help"], ["--version"]])
@pytest.mark.process
def test_help_imports_nothing_heavy(args: list[str], tmp_path: Path) -> None:
    heavy, code = _imports_after(args, tmp_path)
    assert heavy == []
    assert code in ("0", "None")


@pytest.mark.process
def test_validate_imports_nothing_heavy(minimal_project: Path) -> None:
    heavy, code = _imports_after(["validate"], minimal_project)
    assert heavy == []
    assert code in ("0", "None")


@pytest.mark.process
def test_unknown_command_is_a_user_error(floe, tmp_path: Path) -> None:
    result = floe("frobnicate", cwd=tmp_path)
    assert result.returncode == 1
    assert "No such command" in result.stderr
    assert "Traceback" not in result.stderr
