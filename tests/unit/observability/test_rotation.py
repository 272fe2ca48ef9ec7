"""Local trace and lineage files are moved aside when large and old rotations are deleted, so a
long demo cannot fill the disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from floe.observability.rotation import KEEP_ENV, MAX_BYTES_ENV, limits, rotate_if_large


def test_large_files_move_aside_and_small_ones_stay(tmp_path: Path) -> None:
    path = tmp_path / "lineage.jsonl"
    assert rotate_if_large(path, max_bytes=10) is False  # no file yet
    path.write_text("x" * 5)
    assert rotate_if_large(path, max_bytes=10) is False and path.read_text() == "x" * 5
    path.write_text("y" * 20)
    (tmp_path / "lineage.jsonl.1").write_text("older")
    assert rotate_if_large(path, max_bytes=10) is True
    assert not path.exists() and (tmp_path / "lineage.jsonl.1").read_text() == "y" * 20
    assert (tmp_path / "lineage.jsonl.2").read_text() == "older"


def test_many_runs_leave_at_most_keep_rotations_of_bounded_size(tmp_path: Path) -> None:
    path = tmp_path / "traces.jsonl"
    for run in range(20):  # each "run" rotates first, then appends 30 bytes
        rotate_if_large(path, max_bytes=50, keep=2)
        with path.open("a") as file:
            file.write(f"{run:02d}" + "." * 27 + "\n")
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["traces.jsonl", "traces.jsonl.1", "traces.jsonl.2"]
    assert all(p.stat().st_size <= 50 + 30 for p in tmp_path.iterdir())
    assert path.read_text().startswith("18")  # the newest runs are in the current file


def test_a_smaller_keep_deletes_older_rotations(tmp_path: Path) -> None:
    path = tmp_path / "lineage.jsonl"
    for index in range(1, 6):
        (tmp_path / f"lineage.jsonl.{index}").write_text("old")
    path.write_text("z" * 20)
    assert rotate_if_large(path, max_bytes=10, keep=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lineage.jsonl.1", "lineage.jsonl.2"]


def test_limits_come_from_the_environment_and_bad_values_fall_back() -> None:
    assert limits({MAX_BYTES_ENV: "1000", KEEP_ENV: "5"}) == (1000, 5)
    default = limits({})
    assert limits({MAX_BYTES_ENV: "lots", KEEP_ENV: "-1"}) == default


def test_lineage_file_transport_rotates_before_a_run_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from floe.observability.lineage_transport import FileTransport

    monkeypatch.setenv(MAX_BYTES_ENV, "10")
    path = tmp_path / "lineage.jsonl"
    path.write_text("z" * 50 + "\n")
    transport = FileTransport(path, "lineage.jsonl")
    transport.emit({"eventType": "START"})
    assert transport.close() == []
    assert (tmp_path / "lineage.jsonl.1").read_text().startswith("z")
    assert path.read_text().count("\n") == 1 and "START" in path.read_text()


def test_trace_file_exporter_rotates_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from floe.observability._otel_export import JsonLinesFileExporter

    monkeypatch.setenv(MAX_BYTES_ENV, "10")
    path = tmp_path / "traces.jsonl"
    path.write_text("t" * 50 + "\n")
    JsonLinesFileExporter(path).shutdown()
    assert (tmp_path / "traces.jsonl.1").read_text().startswith("t")
