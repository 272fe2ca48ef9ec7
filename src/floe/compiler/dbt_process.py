"""Running dbt as a child process: which executable, and which environment it gets."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from floe.errors import CompileError
from floe.processes import child_ends_with_parent


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


def run_dbt(
    args: Sequence[str], *, cwd: Path, env: Mapping[str, str], timeout: float | None = None
) -> subprocess.CompletedProcess[str]:
    """Run dbt and capture its output (text); ``timeout`` raises subprocess.TimeoutExpired.

    dbt ends with this process (``kill -9`` of ``floe compile`` included):
    :func:`floe.processes.child_ends_with_parent`.
    """
    return subprocess.run(
        [dbt_executable(), *args], cwd=cwd, env=dict(env), capture_output=True, text=True, check=False,
        timeout=timeout, preexec_fn=child_ends_with_parent(),
    )


# dbt's console lines start with a clock ("19:14:26  "); its error report follows _REPORT_START.
_CLOCK = re.compile(r"^\d{2}:\d{2}:\d{2}(?:\.\d+)?\s+")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_REPORT_START = "Encountered an error"
_TRACEBACK = "Traceback (most recent call last):"
_CHAINED = ("During handling of the above exception", "The above exception was the direct cause")
_ERROR_WORDS = ("Error", "error", "ERROR", "not found", "Could not", "Failed")


def dbt_error_summary(output: str, limit: int = 15) -> str:
    """The lines of dbt's output that explain a failure, without its banner noise.

    dbt reports an error as a header ("Compilation Error in model x (models/x.sql)") followed
    by indented lines that say what is wrong ("unexpected '}'", "Run "dbt deps" ..."); those
    lines carry no error word, so the whole report is kept, from where dbt starts it to the end
    of its output, without clocks, colour codes or Python tracebacks.
    """
    lines = [_CLOCK.sub("", _ANSI.sub("", line.rstrip())) for line in output.splitlines()]
    lines = _without_tracebacks(line for line in lines if line.strip())
    start = next((index for index, line in enumerate(lines) if line.lstrip().startswith(_REPORT_START)), None)
    if start is not None:
        report = lines[start:]
        if len(report) > 1:
            report = report[1:]  # the header says nothing the next lines do not
        return "\n".join(report[:limit])
    interesting = [line for line in lines if any(word in line for word in _ERROR_WORDS)]
    return "\n".join((interesting or lines)[-limit:])


def _without_tracebacks(lines: Iterable[str]) -> list[str]:
    """Drop Python tracebacks (frames, the exception line, chained ones): dbt states its error first."""
    kept: list[str] = []
    state = "text"
    for line in lines:
        if line.strip() == _TRACEBACK:
            state = "frames"
        elif state == "frames":
            if not line.startswith((" ", "\t")):
                state = "exception"  # the unindented line that ends the frames
        elif state == "exception" and line.startswith(_CHAINED):
            pass
        else:
            state = "text"
            kept.append(line)
    return kept
