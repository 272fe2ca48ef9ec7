"""Timing helpers shared by the benchmark scripts: run commands, report figures, never assert.

Every measurement is a whole child process (start-up included), timed by wall clock, with
the CPU time (user + system) of the process and all the children it waited for. Commands
that are compared with each other run interleaved (A B C, A B C, ...) so that a change of
load on a shared machine hits every command alike, and the median is reported.
"""

from __future__ import annotations

import fcntl
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
WORK = BENCH_DIR / ".work"
VENV_BIN = Path(sys.executable).parent
PYTHON = str(VENV_BIN / "python")
# Bytecode for every module goes here. The machine sets PYTHONDONTWRITEBYTECODE=1 and floe's
# sources (an editable install) carry no __pycache__, so without this each floe process would
# compile floe from source; an installed wheel always has bytecode. One warm-up fills it.
PYCACHE = WORK / "pycache"


def tool(name: str, venv_bin: Path = VENV_BIN) -> str:
    """An executable of the venv (floe, dbt, dagster); by default the one running the benchmark."""
    return str(venv_bin / name)


def venv_bin_of(venv: str | Path) -> Path:
    """The bin folder of another virtualenv with floe installed (``--before VENV``).

    Not resolved: a venv's ``python`` is a symlink to the base interpreter, which would lose
    the venv's site-packages.
    """
    bin_dir = Path(venv).absolute() / "bin"
    missing = [name for name in ("python", "floe") if not (bin_dir / name).exists()]
    if missing:
        raise SystemExit(f"{venv}: no {' or '.join(missing)} in {bin_dir} - pass a virtualenv with floe installed")
    return bin_dir


def bench_env(extra: Mapping[str, str] | None = None, *, bytecode_cache: bool = True,
              venv_bin: Path = VENV_BIN) -> dict[str, str]:
    """The environment every measured command gets: quiet dbt, no telemetry, cached bytecode.

    ``venv_bin`` is the venv the command runs from (another floe install for ``--before``).
    """
    env = dict(os.environ)
    for name in ("FLOE_ARTIFACTS_PATH", "FLOE_PROJECT_DIR", "FLOE_ENV", "DAGSTER_HOME", "DBT_TARGET_PATH",
                 "DBT_LOG_PATH", "DBT_PROFILES_DIR", "DBT_PROJECT_DIR"):
        env.pop(name, None)
    # As with an activated venv: dagster-dbt looks for `dbt` on PATH.
    env["PATH"] = os.pathsep.join([str(venv_bin), env.get("PATH", "")])
    env["VIRTUAL_ENV"] = str(venv_bin.parent)
    env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    env["DAGSTER_DISABLE_TELEMETRY"] = "1"
    env["DBT_USE_COLORS"] = "false"
    env["NO_COLOR"] = "1"
    if bytecode_cache:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    if extra:
        env.update(extra)
    return env


@dataclass(frozen=True)
class Command:
    """One thing to time."""

    label: str
    argv: Sequence[str]
    cwd: Path | None = None
    env: Mapping[str, str] | None = None
    # Fail loudly when the output contains this (e.g. floe recompiling during a timed run).
    forbidden_output: str | None = None
    # Extra figures read after each run, e.g. from the log (the argument) or dbt's run_results.
    probes: Mapping[str, Callable[[Path | None], float | None]] = field(default_factory=dict)
    # Untimed preparation before every run, e.g. removing the warehouse so each run starts alike.
    before: Callable[[], None] | None = None


@dataclass
class Sample:
    wall: float
    cpu: float
    extras: dict[str, float] = field(default_factory=dict)


@dataclass
class Stats:
    """Samples of one command."""

    label: str
    samples: list[Sample] = field(default_factory=list)

    @property
    def walls(self) -> list[float]:
        return [s.wall for s in self.samples]

    @property
    def median(self) -> float:
        return statistics.median(self.walls)

    @property
    def minimum(self) -> float:
        return min(self.walls)

    @property
    def cpu_median(self) -> float:
        return statistics.median(s.cpu for s in self.samples)

    def extra_median(self, name: str) -> float | None:
        values = [s.extras[name] for s in self.samples if name in s.extras]
        return statistics.median(values) if values else None


class CommandFailed(RuntimeError):
    pass


def run_once(command: Command, log: Path | None = None) -> Sample:
    """Run a command to completion; its output goes to ``log`` (or nowhere)."""
    if command.before is not None:
        command.before()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = log.open("wb") if log is not None else subprocess.DEVNULL
    try:
        started = time.perf_counter()
        completed = subprocess.run(list(command.argv), cwd=command.cwd, env=dict(command.env or bench_env()),
                                   stdout=out, stderr=subprocess.STDOUT, check=False)
        wall = time.perf_counter() - started
    finally:
        if log is not None:
            out.close()  # type: ignore[union-attr]
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    text = log.read_text(errors="replace") if log is not None else ""
    if completed.returncode != 0:
        tail = "\n".join(text.strip().splitlines()[-15:])
        raise CommandFailed(f"{command.label}: exit {completed.returncode}: {' '.join(command.argv)}\n{tail}")
    if command.forbidden_output and command.forbidden_output in text:
        raise CommandFailed(f"{command.label}: output contains {command.forbidden_output!r} (see {log})")
    extras = {}
    for name, probe in command.probes.items():
        value = probe(log)
        if value is not None:
            extras[name] = value
    return Sample(wall, cpu, extras)


def time_interleaved(commands: Sequence[Command], *, repeat: int, warmup: int = 1,
                     log_dir: Path | None = None, progress: bool = True) -> dict[str, Stats]:
    """Warm each command up, then time them round-robin ``repeat`` times."""
    stats = {c.label: Stats(c.label) for c in commands}
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
    for round_ in range(-warmup, repeat):
        for command in commands:
            tag = "warmup" if round_ < 0 else f"r{round_ + 1}"
            log = None if log_dir is None else log_dir / f"{_slug(command.label)}-{tag}.log"
            sample = run_once(command, log)
            tag = "warm-up" if round_ < 0 else f"{round_ + 1}/{repeat}"
            if progress:
                note(f"  {command.label:<34} {tag:>7}  {sample.wall:7.2f} s wall  {sample.cpu:7.2f} s cpu")
            if round_ >= 0:
                stats[command.label].samples.append(sample)
    return stats


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in text).strip("_").lower()


def note(text: str) -> None:
    """Progress, on stderr, so stdout holds only the tables."""
    print(text, file=sys.stderr, flush=True)


def verdict(value: float, goal: float) -> str:
    return "met" if value <= goal else "not met"


def seconds(value: float) -> str:
    return f"{value:.2f} s" if abs(value) >= 0.995 or value == 0 else f"{value * 1000:.0f} ms"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table, readable as plain text too."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "| " + " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(cells[0]), rule, *(line(row) for row in cells[1:])])


def machine_line() -> str:
    """Date, CPUs, load and versions: the context a figure needs."""
    versions = []
    for package in ("dagster", "dagster-dbt", "dbt-core", "dbt-duckdb", "duckdb"):
        try:
            versions.append(f"{package} {package_version(package)}")
        except PackageNotFoundError:
            pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{datetime.now():%Y-%m-%d %H:%M} · {os.cpu_count()} CPUs · load {load} · "
            f"Python {platform.python_version()} · " + " · ".join(versions))


def linear_fit(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float]:
    """Least-squares intercept and slope."""
    if len(xs) < 2:
        return (ys[0] if ys else 0.0), 0.0
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mean_x) ** 2 for x in xs)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sxx
    return mean_y - slope * mean_x, slope


@contextmanager
def exclusive() -> Iterator[None]:
    """One benchmark at a time: they share the generated projects (a DuckDB file takes one
    writer) and would disturb each other's timings on a 2-core machine."""
    WORK.mkdir(parents=True, exist_ok=True)
    with (WORK / ".lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            note(f"another benchmark holds {WORK / '.lock'}; waiting for it to finish")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def reset_dir(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def burst_batches(spec: Path, rows: int, script: str) -> None:
    """Turn the ecommerce template's live ingestion (wall clock, realistic rate, a week's
    backfill) into the virtual clock with ``rows`` orders every batch, so every batch is the
    same size whatever the time between runs. ``script`` names the caller for the error."""
    text = spec.read_text()
    wall, realistic = "    clock: wall\n    backfill: 7d\n", "      type: realistic\n      per_hour: 1200\n"
    if wall not in text or realistic not in text:
        raise SystemExit(f"the ecommerce template's ingestion block changed: update {script}")
    spec.write_text(text.replace(wall, "    clock: virtual\n").replace(
        realistic, f"      type: burst\n      rows: {rows}\n"))
