"""Local trace and lineage files are moved aside when large, so a long demo cannot fill the disk."""

from __future__ import annotations

from pathlib import Path

from floe.observability.rotation import rotate_if_large


def test_large_files_move_aside_and_small_ones_stay(tmp_path: Path) -> None:
    path = tmp_path / "lineage.jsonl"
    assert rotate_if_large(path, max_bytes=10) is False  # no file yet
    path.write_text("x" * 5)
    assert rotate_if_large(path, max_bytes=10) is False and path.read_text() == "x" * 5
    path.write_text("y" * 20)
    (tmp_path / "lineage.jsonl.1").write_text("older")
    assert rotate_if_large(path, max_bytes=10) is True
    assert not path.exists() and (tmp_path / "lineage.jsonl.1").read_text() == "y" * 20


def test_lineage_file_transport_rotates_before_a_run_writes(tmp_path: Path, monkeypatch) -> None:
    import floe.observability.rotation as rotation
    from floe.observability.lineage_transport import FileTransport

    monkeypatch.setattr(rotation, "MAX_BYTES", 10)
    monkeypatch.setattr(rotation.rotate_if_large, "__defaults__", (10,))
    path = tmp_path / "lineage.jsonl"
    path.write_text("z" * 50 + "\n")
    transport = FileTransport(path, "lineage.jsonl")
    transport.emit({"eventType": "START"})
    assert transport.close() == []
    assert (tmp_path / "lineage.jsonl.1").read_text().startswith("z")
    assert path.read_text().count("\n") == 1 and "START" in path.read_text()
