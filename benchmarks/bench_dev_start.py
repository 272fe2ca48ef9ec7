"""Cold start of native ``floe dev`` to the UI serving the loaded definitions.

    .venv/bin/python benchmarks/bench_dev_start.py [--repeat 3]

The minimal template's project, compiled once beforehand. Each sample starts from nothing
running: the clock runs from the process start until the webserver answers
``/server_info`` and reports the code location LOADED (what a user waits for before the UI
shows the asset graph); then the stack is stopped. Baseline, interleaved: plain
``dagster dev -m floe.orchestration.definitions`` on the same artifacts and instance, timed to
the same point. A third line times ``floe dev`` with a compile first (a fresh clone).

Goal (issue 6): native ``floe dev`` cold start to UI ready ≤ 10 s on 2 cores. Nothing is
asserted; the script prints figures.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from _timing import bench_env, machine_line, note, seconds, table, tool
from floe.platform.dagster_probe import ProbeError, locations, server_info


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def time_to_ready(argv: list[str], cwd: Path, env: dict[str, str], url: str, limit_s: float = 180) -> float:
    """Seconds from start to the UI serving the loaded location; the stack is stopped after."""
    log = cwd.parent / "last-start.log"
    started = time.perf_counter()
    with log.open("wb") as out:
        process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        while time.perf_counter() - started < limit_s:
            if process.poll() is not None:
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
                raise RuntimeError(f"{argv[:3]} exited {process.returncode} before the UI was ready:\n{tail}")
            try:
                server_info(url, timeout_s=0.5)
                found = locations(url)
                if found and all(item.status == "LOADED" and not item.error for item in found):
                    return time.perf_counter() - started
            except ProbeError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{argv[:3]} not ready within {limit_s}s")
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Ctrl-C to the whole group, as a user would; KILL if it lingers."""
    for signum, wait_s in ((signal.SIGINT, 30.0), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(process.pid, signum)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=wait_s)
            break
        except subprocess.TimeoutExpired:
            continue


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="timed starts of each command [3]")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="floe-bench-dev-"))
    project = work / "shop"
    env = bench_env()
    subprocess.run([tool("floe"), "init", str(project)], check=True, capture_output=True, env=env)
    subprocess.run([tool("floe"), "compile"], cwd=project, check=True, capture_output=True, env=env)
    dagster_env = {**env, "DAGSTER_HOME": str(project / ".floe" / "dagster"),
                   "FLOE_ARTIFACTS_PATH": str(project / ".floe" / "artifacts.json"), "FLOE_PROJECT_DIR": str(project)}
    samples: dict[str, list[float]] = {"floe dev (compiled)": [], "dagster dev -m (same artifacts)": [],
                                       "floe dev (compile first)": []}
    for round_ in range(-1, args.repeat):
        for label in samples:
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            if label.startswith("floe"):
                if "compile first" in label:
                    shutil.rmtree(project / ".floe", ignore_errors=True)
                command = [tool("floe"), "dev", "--native", "--port", str(port)]
                elapsed = time_to_ready(command, project, env, url)
            else:
                command = [tool("dagster"), "dev", "-m", "floe.orchestration.definitions", "-p", str(port)]
                elapsed = time_to_ready(command, project, dagster_env, url)
            tag = "warm-up" if round_ < 0 else f"{round_ + 1}/{args.repeat}"
            note(f"  {label:<34} {tag:>7}  {elapsed:6.2f} s to UI ready")
            if round_ >= 0:
                samples[label].append(elapsed)
    baseline = statistics.median(samples["dagster dev -m (same artifacts)"])
    rows = []
    for label, values in samples.items():
        median = statistics.median(values)
        goal = "-" if label.startswith("dagster") else ("met (<= 10 s)" if median <= 10 else "not met (<= 10 s)")
        rows.append([label, seconds(median), seconds(min(values)), f"{median / baseline:.2f}x", goal])
    print(f"## floe dev cold start\n\n{machine_line()}\n")
    print(f"From process start to the UI serving the loaded code location; median of {args.repeat}, interleaved.\n")
    print(table(["command", "median", "min", "vs dagster dev", "goal"], rows))
    print(f"\n(finished {machine_line()})")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
