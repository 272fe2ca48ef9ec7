"""Health check of the floe Dagster image, whichever role the container plays.

One image runs the Dagster webserver, the daemon, the user-code (gRPC) server and run
workers. This script finds which of them runs in the container (from the command lines in
/proc) and checks that one the way Dagster itself offers, with nothing but the image's own
Python and Dagster:

    dagster-webserver      GET /server_info on its port answers 200
    dagster api grpc       ``dagster api grpc-health-check`` reports SERVING
    dagster-daemon run     ``dagster-daemon liveness-check``: every daemon's heartbeat is recent
    anything else          healthy (a run worker lives as long as its run)

Exit status 0 is healthy, 1 unhealthy; one line on standard output says why.
"""

from __future__ import annotations

import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from pathlib import Path

TIMEOUT_SECONDS = 8.0
WILDCARD_HOSTS = {"", "0.0.0.0", "::", "[::]"}


def command_lines(proc: Path = Path("/proc")) -> list[list[str]]:
    """The argument vectors of the processes visible in ``proc`` (unreadable ones skipped)."""
    found: list[list[str]] = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        argv = [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part]
        if argv:
            found.append(argv)
    return found


ROLE_PRIORITY = ("webserver", "daemon", "code-server")


def role_of(argvs: Iterable[Sequence[str]]) -> tuple[str, list[str]]:
    """The role ('webserver', 'daemon', 'code-server' or 'other') and the arguments after the program.

    A webserver or daemon started with ``-m`` spawns its own code server; the service the
    container was started for is the one named first in ROLE_PRIORITY.
    """
    found: dict[str, list[str]] = {}
    for argv in argvs:
        words = [Path(word).name for word in argv]
        for index, word in enumerate(words):
            if word == "dagster-webserver":
                found.setdefault("webserver", list(argv[index + 1:]))
            elif word == "dagster-daemon" and words[index + 1:index + 2] == ["run"]:
                found.setdefault("daemon", list(argv[index + 2:]))
            elif word == "dagster" and words[index + 1:index + 3] == ["api", "grpc"]:
                found.setdefault("code-server", list(argv[index + 3:]))
    for role in ROLE_PRIORITY:
        if role in found:
            return role, found[role]
    return "other", []


def option(args: Sequence[str], names: Sequence[str], default: str) -> str:
    """The value of the first of ``names`` in ``args`` (``-p 3000`` or ``--port=3000``)."""
    for index, arg in enumerate(args):
        for name in names:
            if arg == name and index + 1 < len(args):
                return args[index + 1]
            if name.startswith("--") and arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return default


def local_host(host: str) -> str:
    """Where to reach a server bound to ``host`` from inside the container."""
    return "127.0.0.1" if host in WILDCARD_HOSTS else host


def check_webserver(args: Sequence[str]) -> tuple[bool, str]:
    host = local_host(option(args, ["-h", "--host"], "127.0.0.1"))
    port = option(args, ["-p", "--port"], "3000")
    prefix = option(args, ["-l", "--path-prefix"], "").rstrip("/")
    url = f"http://{host}:{port}{prefix}/server_info"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        return False, f"webserver: {url} answered {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return False, f"webserver: {url}: {getattr(exc, 'reason', exc)}"
    return status == 200, f"webserver: {url} answered {status}"


def _dagster_tool(name: str) -> str:
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.is_file() else name


def run_check(argv: Sequence[str], label: str) -> tuple[bool, str]:
    try:
        result = subprocess.run(list(argv), capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"{label}: {exc}"
    output = (result.stdout + result.stderr).strip().splitlines()
    return result.returncode == 0, f"{label}: {output[-1] if output else 'exit ' + str(result.returncode)}"


def check(role: str, args: Sequence[str]) -> tuple[bool, str]:
    """Check the process of ``role``; ``args`` are its command-line arguments."""
    if role == "webserver":
        return check_webserver(args)
    if role == "code-server":
        port = option(args, ["-p", "--port"], "")
        socket = option(args, ["-s", "--socket"], "")
        where = ["-p", port] if port else ["-s", socket]
        host = local_host(option(args, ["-h", "--host"], "127.0.0.1"))
        return run_check([_dagster_tool("dagster"), "api", "grpc-health-check", *where, "-h", host], "code server")
    if role == "daemon":
        return run_check([_dagster_tool("dagster-daemon"), "liveness-check"], "daemon")
    return True, "no long-running Dagster service in this container; nothing to check"


def main() -> int:
    role, args = role_of(command_lines())
    healthy, message = check(role, args)
    print(("healthy: " if healthy else "unhealthy: ") + message)  # noqa: T201 - a health check reports on stdout
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
