"""Running dbt as a child process: which executable, and which environment it gets."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from floe.errors import CompileError


def dbt_executable() -> str:
    """The dbt of this Python environment (beside the interpreter), else the one on PATH."""
    beside = Path(sys.executable).parent / "dbt"
    if beside.is_file():
        return str(beside)
    found = shutil.which("dbt")
    if found is None:
        raise CompileError("the 'dbt' command is not installed",
                           hint='pip install "floe-runtime" installs dbt-core and dbt-duckdb')
    return found


def dbt_environment(
    project_root: Path, extra: Mapping[str, str] | None = None, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Environment for a dbt child: the project dir for profiles, no usage statistics."""
    env = dict(os.environ if base is None else base)
    env["FLOE_PROJECT_DIR"] = str(project_root)
    env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    env.setdefault("DBT_USE_COLORS", "false")
    if extra:
        env.update(extra)
    return env


def run_dbt(args: Sequence[str], *, cwd: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """Run dbt and capture its output (text)."""
    return subprocess.run(
        [dbt_executable(), *args], cwd=cwd, env=dict(env), capture_output=True, text=True, check=False
    )


def dbt_error_summary(output: str, limit: int = 15) -> str:
    """The lines of dbt's output that explain a failure, without its banner noise."""
    lines = [line.rstrip() for line in output.splitlines() if line.strip()]
    interesting = [
        line for line in lines
        if any(word in line for word in ("Error", "error", "ERROR", "not found", "Could not", "Failed"))
    ]
    chosen = interesting or lines
    return "\n".join(chosen[-limit:])
