"""Reading a spec file whatever the path names: devices, pipes, folders, links, NUL bytes.

The size limit cannot trust st_size (0 for /dev/zero and pipes), and a named pipe without a
writer must not block: every read is bounded in bytes, and pipes and devices in time.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import pytest

from floe.errors import SpecError, SpecIssue
from floe.spec import yaml_source
from floe.spec.yaml_source import MAX_FILE_BYTES, load_yaml_file, load_yaml_text

unix_only = pytest.mark.skipif(sys.platform == "win32", reason="devices and named pipes are POSIX")


def _only_issue(path: Path | str, name: str = "platform.yaml") -> SpecIssue:
    with pytest.raises(SpecError) as caught:
        load_yaml_file(Path(path), name)
    (issue,) = caught.value.issues
    return issue


@unix_only
@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_an_endless_device_stops_at_the_size_limit(device: str) -> None:
    started = time.monotonic()
    issue = _only_issue(device)
    assert issue.message == (f"the device gives more than {MAX_FILE_BYTES:,} bytes; spec files are limited "
                             f"to {MAX_FILE_BYTES:,} bytes (1 MiB)")
    assert issue.hint == "pass the spec file itself, or a pipe that ends"
    assert time.monotonic() - started < 60  # a bounded read; the old one read /dev/zero until OOM


@unix_only
def test_an_empty_device_is_an_empty_file() -> None:
    assert _only_issue("/dev/null").message == "file is empty"


@unix_only
def test_a_named_pipe_without_a_writer_gives_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yaml_source, "PIPE_WAIT_SECONDS", 0.5)
    fifo = tmp_path / "platform.yaml"
    os.mkfifo(fifo)
    started = time.monotonic()
    issue = _only_issue(fifo)
    assert time.monotonic() - started >= 0.5  # it did wait for a writer, for the time allowed
    assert issue.message == "nothing arrived from the pipe within 0.5 s"
    assert "a named pipe needs a writer" in (issue.hint or "")


@unix_only
def test_a_named_pipe_is_read_when_its_writer_comes_late(tmp_path: Path) -> None:
    fifo = tmp_path / "platform.yaml"
    os.mkfifo(fifo)

    def write_later() -> None:
        time.sleep(0.3)
        with fifo.open("w", encoding="utf-8") as handle:  # blocks until the reader has opened
            handle.write("environments:\n")
            handle.flush()
            time.sleep(0.2)  # the rest arrives in a second write
            handle.write("  dev: {}\n")

    writer = threading.Thread(target=write_later)
    writer.start()
    try:
        assert load_yaml_file(fifo, "platform.yaml").data == {"environments": {"dev": {}}}
    finally:
        writer.join(timeout=60)


@unix_only
def test_a_pipe_like_process_substitution_is_read(tmp_path: Path) -> None:
    """``--platform <(cat platform.yaml)`` names /dev/fd/N: an anonymous pipe, its writer ready."""
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, b"environments:\n  dev: {}\n")
        os.close(write_end)
        source = load_yaml_file(Path(f"/dev/fd/{read_end}"), f"/dev/fd/{read_end}")
    finally:
        os.close(read_end)
    assert source.data == {"environments": {"dev": {}}}
    assert source.file == f"/dev/fd/{read_end}"


@unix_only
def test_an_endless_pipe_stops_at_the_size_limit() -> None:
    read_end, write_end = os.pipe()

    def flood() -> None:
        block = b"# " + b"x" * 4093 + b"\n"
        try:
            while True:
                os.write(write_end, block)
        except OSError:  # the reader gave up and closed its end: EPIPE
            pass
        finally:
            os.close(write_end)

    writer = threading.Thread(target=flood, daemon=True)
    writer.start()
    try:
        issue = _only_issue(f"/dev/fd/{read_end}")
    finally:
        os.close(read_end)
        writer.join(timeout=60)
    assert issue.message.startswith(f"the pipe gives more than {MAX_FILE_BYTES:,} bytes")


def test_a_folder_named_like_the_spec_is_a_folder(tmp_path: Path) -> None:
    (tmp_path / "floe.yaml").mkdir()
    issue = _only_issue(tmp_path / "floe.yaml", "floe.yaml")
    assert issue == SpecIssue("floe.yaml", None, None, "", "is a directory, not a YAML file")


def test_a_dangling_link_names_its_target(tmp_path: Path) -> None:
    (tmp_path / "floe.yaml").symlink_to("../elsewhere/floe.yaml")
    issue = _only_issue(tmp_path / "floe.yaml", "floe.yaml")
    assert issue.message == "is a symbolic link to '../elsewhere/floe.yaml', which does not exist"


def test_a_nul_byte_in_the_path_is_a_spec_error(tmp_path: Path) -> None:
    issue = _only_issue(f"{tmp_path}/floe\0.yaml", "floe.yaml")
    assert issue.message == "the path contains a NUL character (\\0)"


def test_a_nul_byte_in_the_file_is_located(tmp_path: Path) -> None:
    path = tmp_path / "platform.yaml"
    path.write_bytes(b"environments:\n  dev: {compute: {path: a\0b}}\n")
    issue = _only_issue(path)
    assert (issue.line, issue.column) == (2, 26)
    assert issue.message == "unacceptable character U+0000: special characters are not allowed"


def test_a_nul_escape_in_a_value_is_refused_where_it_is() -> None:
    with pytest.raises(SpecError) as caught:
        load_yaml_text('environments:\n  dev:\n    compute: {type: duckdb, path: "a\\0b"}\n', "platform.yaml")
    (issue,) = caught.value.issues
    assert (issue.line, issue.column, issue.path) == (3, 35, "environments.dev.compute.path")
    assert issue.message == "the text contains a NUL character (\\0)"


def test_a_nul_escape_in_a_key_is_refused() -> None:
    with pytest.raises(SpecError) as caught:
        load_yaml_text('environments:\n  "d\\0v": {}\n', "platform.yaml")
    assert [issue.message for issue in caught.value.issues] == ["the text contains a NUL character (\\0)"]


def test_binary_input_is_refused_as_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "platform.yaml"
    path.write_bytes(bytes(range(128, 256)) * 4)
    assert _only_issue(path).message == "not UTF-8 text: cannot decode byte 0x80"


@pytest.mark.parametrize("line", [
    "storage: {type: postgres, host: ${PGHOST}, user: dagster}",
    "hosts: [a, ${PGHOST}]",
])
def test_an_unquoted_variable_in_braces_gets_a_hint_to_quote_it(line: str) -> None:
    with pytest.raises(SpecError) as caught:
        load_yaml_text(f"environments:\n  dev:\n    {line}\n", "platform.yaml")
    (issue,) = caught.value.issues
    assert issue.line == 3
    assert issue.message.startswith("YAML syntax error")
    assert issue.hint == ('inside {...} or [...], quote a ${VAR} reference: "${PGHOST}" '
                          "(or write the mapping in block style, one key per line)")


def test_the_same_variable_in_block_style_needs_no_quotes() -> None:
    source = load_yaml_text("storage:\n  host: ${PGHOST}\n", "platform.yaml")
    assert source.data == {"storage": {"host": "${PGHOST}"}}
