"""Small real servers for tests of what floe does when a service misbehaves.

* :func:`free_port` / :func:`closed_port` — a port nobody listens on (connection refused);
* :class:`SilentServer` — accepts TCP connections and never answers (a hung service);
* :class:`LineageEndpointDouble` — TEST DOUBLE of an OpenLineage HTTP endpoint (Marquez cannot
  run here): validates that a POSTed body is a run event and answers 201, 400/422 otherwise,
  401 without the expected bearer key;
* :class:`PrivatePostgres` — a throw-away PostgreSQL cluster with password authentication
  (the shared server trusts every local connection, so a wrong password cannot fail there);
* :func:`moto_server` — moto's S3-compatible server in this process, without authentication;
* :class:`AuthenticatingS3` — moto's S3 in a child process with IAM authentication on, so a
  wrong key is refused as AWS refuses it.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


closed_port = free_port  # bound and released: nothing listens there afterwards


def wait_for_port(port: int, timeout_s: float = 120) -> None:  # generous: a busy machine starts slowly
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout_s}s")


class SilentServer:
    """Accepts connections and holds them open without a byte of answer."""

    def __init__(self) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(64)
        self.port = int(self._socket.getsockname()[1])
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        self._socket.settimeout(0.1)
        while not self._stop.is_set():
            try:
                connection, _ = self._socket.accept()
                self._held.append(connection)
            except OSError:
                continue

    def __enter__(self) -> SilentServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        for connection in self._held:
            connection.close()
        self._socket.close()


class LineageEndpointDouble:
    """TEST DOUBLE of an OpenLineage HTTP endpoint (``POST /api/v1/lineage``)."""

    def __init__(self, *, api_key: str | None = None, path: str = "/api/v1/lineage") -> None:
        self.events: list[dict[str, Any]] = []
        double = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path != path:
                    return self._answer(404, {"error": "not found"})
                if api_key is not None and self.headers.get("Authorization") != f"Bearer {api_key}":
                    return self._answer(401, {"error": "unauthorized"})
                try:
                    event = json.loads(body)
                except ValueError:
                    return self._answer(400, {"error": "body is not JSON"})
                if not isinstance(event, dict) or not {"eventTime", "run", "job", "producer"} <= event.keys():
                    return self._answer(422, {"errors": ["eventTime, run, job and producer are required"]})
                double.events.append(event)
                return self._answer(201, None)

            def _answer(self, status: int, payload: Any) -> None:
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> LineageEndpointDouble:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def _pg_bin() -> Path | None:
    root = Path("/usr/lib/postgresql")
    versions = sorted(root.glob("*/bin/initdb")) if root.is_dir() else []
    found = versions[-1].parent if versions else None
    if found is None and shutil.which("initdb"):
        found = Path(str(shutil.which("initdb"))).parent
    return found


class PrivatePostgres:
    """A PostgreSQL cluster of its own on a free port, with scram-sha-256 password authentication.

    Needs the server binaries and either to run as the 'postgres' user or as root (which runs
    them as 'postgres'); :meth:`unavailable` says why not otherwise.
    """

    user = "postgres"

    def __init__(self, password: str) -> None:
        self.password = password
        self.port = free_port()
        self._dir = Path(tempfile.mkdtemp(prefix="floe-pg-"))
        self._bin = _pg_bin()

    @classmethod
    def unavailable(cls) -> str | None:
        if _pg_bin() is None:
            return "PostgreSQL server binaries (initdb) are not installed"
        if os.geteuid() != 0 and _whoami() != "postgres":
            return "a private PostgreSQL cluster needs to run as root or as the postgres user"
        return None

    def _run(self, *args: str) -> None:
        command = [str(self._bin / args[0]), *args[1:]] if self._bin else list(args)
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def __enter__(self) -> PrivatePostgres:
        shutil.chown(self._dir, "postgres") if os.geteuid() == 0 else None
        password_file = self._dir / "password"
        password_file.write_text(self.password + "\n")
        shutil.chown(password_file, "postgres") if os.geteuid() == 0 else None
        data = self._dir / "data"
        self._run("initdb", "-D", str(data), "-U", self.user, f"--pwfile={password_file}",
                  "--auth=scram-sha-256", "-E", "UTF8")
        # -l: the server's output goes to a file, not to our pipe (which would then never close).
        self._run("pg_ctl", "-D", str(data), "-l", str(self._dir / "server.log"), "-w", "-o",
                  f"-p {self.port} -k {self._dir} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._run("pg_ctl", "-D", str(self._dir / "data"), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self._dir, ignore_errors=True)


def _whoami() -> str:
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name


@contextmanager
def moto_server() -> Iterator[str]:
    """A real S3-compatible server (moto) on 127.0.0.1; yields its endpoint. Buckets live as long as it does."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


class AuthenticatingS3:
    """moto's S3 server in a child process, with IAM authentication and one user's key.

    moto lets the first ``INITIAL_NO_AUTH_ACTION_COUNT`` requests through unauthenticated; this
    spends them on creating a user, its key, its policy and a bucket, after which every request
    must be signed with that key.
    """

    bucket = "floe-auth-bucket"

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.key_id = ""
        self.secret = ""
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> AuthenticatingS3:
        import boto3

        env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "4"}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)], env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port)
        anonymous = {"endpoint_url": self.endpoint, "region_name": "us-east-1",
                     "aws_access_key_id": "setup", "aws_secret_access_key": "setup"}
        iam = boto3.client("iam", **anonymous)
        iam.create_user(UserName="floe")
        key = iam.create_access_key(UserName="floe")["AccessKey"]
        self.key_id, self.secret = key["AccessKeyId"], key["SecretAccessKey"]
        iam.put_user_policy(UserName="floe", PolicyName="s3", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
        boto3.client("s3", **anonymous).create_bucket(Bucket=self.bucket)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
