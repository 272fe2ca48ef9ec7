"""What users and machines pass as spec files: the real CLI answers exit 1 with a message.

Endless devices, pipes, a folder named floe.yaml, NUL bytes, an empty DuckDB path, a file where
Dagster's folder goes: each is a user's problem (exit 1, where and what), never a crash
(exit 2) or a hang.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from floe.cli.main import main
from tests.conftest import run_floe

unix_only = pytest.mark.skipif(sys.platform == "win32", reason="devices and named pipes are POSIX")


def _refused(done: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert done.returncode == 1, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr
    for text in expected:
        assert text in done.stderr, f"{text!r} not in:\n{done.stderr}"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}: the template changed"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_a_nul_byte_on_the_command_line_is_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    """No shell can pass one, but a program calling floe can."""
    with pytest.raises(SystemExit) as stopped:
        main(["validate", "--platform", "platform\0.yaml"])
    assert stopped.value.code == 1
    assert "the argument 'platform\\x00.yaml' contains a NUL character" in capsys.readouterr().err


@unix_only
@pytest.mark.process
@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_an_endless_device_as_platform_yaml_is_refused(minimal_project: Path, device: str) -> None:
    _refused(run_floe("validate", "--platform", device, cwd=minimal_project),
             f"{device}  the device gives more than 1,048,576 bytes")


@unix_only
@pytest.mark.process
def test_a_named_pipe_without_a_writer_does_not_hang(minimal_project: Path) -> None:
    fifo = minimal_project / "pipe.yaml"
    os.mkfifo(fifo)
    started = time.monotonic()
    done = run_floe("validate", "--platform", str(fifo), cwd=minimal_project, timeout=300)
    _refused(done, "nothing arrived from the pipe within 10 s")
    assert time.monotonic() - started >= 10


@unix_only
@pytest.mark.process
def test_process_substitution_works_and_is_named_as_the_shell_names_it(minimal_project: Path) -> None:
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash on this machine")
    done = subprocess.run([bash, "-c", f"'{sys.executable}' -m floe validate --platform <(cat platform.yaml)"],
                          cwd=minimal_project, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert re.search(r"floe\.yaml and /dev/fd/\d+ are valid", done.stdout), done.stdout


@pytest.mark.process
@pytest.mark.parametrize("command", [["validate"], ["compile"], ["run"]])
def test_a_folder_named_floe_yaml_is_a_folder_for_every_command(tmp_path: Path, command: list[str]) -> None:
    (tmp_path / "floe.yaml").mkdir()
    _refused(run_floe(*command, cwd=tmp_path), "floe.yaml  is a directory, not a YAML file")


@pytest.mark.process
def test_a_nul_escape_in_a_spec_path_is_located(minimal_project: Path) -> None:
    _edit(minimal_project / "platform.yaml", "path: .floe/dagster", 'path: ".floe/dag\\0ster"')
    _refused(run_floe("validate", cwd=minimal_project),
             "platform.yaml:11:15  environments.dev.orchestrator.storage.path: the text contains a NUL character")


@pytest.mark.process
@pytest.mark.parametrize("command", ["validate", "compile"])
def test_an_empty_duckdb_path_points_at_platform_yaml(minimal_project: Path, command: str) -> None:
    _edit(minimal_project / "platform.yaml", "path: .floe/warehouse.duckdb", 'path: ""')
    done = run_floe(command, cwd=minimal_project)
    _refused(done, "platform.yaml:6:13  environments.dev.compute.path: path must not be empty")
    assert "dbt project" not in done.stderr


@pytest.mark.process
def test_a_file_where_dagsters_folder_goes_is_located(minimal_project: Path) -> None:
    (minimal_project / ".floe").mkdir()
    (minimal_project / ".floe" / "dagster").write_text("not a folder\n", encoding="utf-8")
    _refused(run_floe("validate", cwd=minimal_project),
             "platform.yaml:11:15  environments.dev.orchestrator.storage.path: '.floe/dagster' is a file")
