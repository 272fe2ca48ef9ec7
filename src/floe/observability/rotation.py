"""Keep local JSON Lines files (traces, lineage) from growing without end.

A demo lands a batch every five minutes for days and every run appends a few hundred
lines. When a file has grown past ``max_bytes`` it is moved aside before a run starts
writing: ``<name>.1`` (the previous ``.1`` becomes ``.2``, and so on; the oldest beyond
``keep`` is deleted), so one run never spans two files and ``floe lineage`` always finds the
latest run in the current file. A file and its rotations hold at most about
``(keep + 1) * max_bytes`` (one run's lines more).

Defaults: 64 MiB, 3 rotated files. ``FLOE_LOCAL_FILE_MAX_BYTES`` and ``FLOE_LOCAL_FILE_KEEP``
change them for every file floe writes this way (``.floe/lineage.jsonl``,
``.floe/traces.jsonl``, or the paths set in platform.yaml).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

MAX_BYTES = 64 * 1024 * 1024
KEEP = 3
MAX_BYTES_ENV = "FLOE_LOCAL_FILE_MAX_BYTES"
KEEP_ENV = "FLOE_LOCAL_FILE_KEEP"


def limits(environ: Mapping[str, str] | None = None) -> tuple[int, int]:
    """(max bytes, rotated files kept) from the environment; a value that is not a positive
    whole number is ignored (the default applies: a bad setting must not stop a run's lineage)."""
    env = os.environ if environ is None else environ
    return _positive(env.get(MAX_BYTES_ENV), MAX_BYTES), _positive(env.get(KEEP_ENV), KEEP)


def _positive(text: str | None, default: int) -> int:
    try:
        value = int(text) if text is not None else default
    except ValueError:
        return default
    return value if value > 0 else default


def rotate_if_large(path: Path, max_bytes: int | None = None, keep: int | None = None) -> bool:
    """Move ``path`` to ``path.1`` (shifting older rotations) when larger than ``max_bytes``.

    Returns whether it rotated. Rotations beyond ``keep`` are deleted.
    """
    default_bytes, default_keep = limits()
    max_bytes = default_bytes if max_bytes is None else max_bytes
    keep = default_keep if keep is None else keep
    try:
        if path.stat().st_size <= max_bytes:
            return False
        for index in range(keep, 0, -1):  # .keep is dropped, .(n-1) becomes .n
            older = _rotated(path, index)
            if index == keep:
                older.unlink(missing_ok=True)
            else:
                if older.exists():
                    os.replace(older, _rotated(path, index + 1))
        os.replace(path, _rotated(path, 1))
        for extra in path.parent.glob(f"{path.name}.*"):  # a smaller keep than before: older rotations go
            suffix = extra.name[len(path.name) + 1:]
            if suffix.isdigit() and int(suffix) > keep:
                extra.unlink(missing_ok=True)
    except OSError:  # no file yet, or an unusable path: the write that follows reports it
        return False
    return True


def _rotated(path: Path, index: int) -> Path:
    return path.with_name(f"{path.name}.{index}")
