"""Keep local JSON Lines files (traces, lineage) from growing without end.

A demo lands a batch every five minutes for days and every run appends a few hundred
lines. When a file has grown past ``MAX_BYTES`` it is moved aside to ``<name>.1``
(replacing the previous one) before a run starts writing, so one run never spans two files
and ``floe lineage`` always finds the latest run in the current file.
"""

from __future__ import annotations

import os
from pathlib import Path

MAX_BYTES = 64 * 1024 * 1024


def rotate_if_large(path: Path, max_bytes: int = MAX_BYTES) -> bool:
    """Move ``path`` to ``path.1`` when it is larger than ``max_bytes``; returns whether it did."""
    try:
        if path.stat().st_size <= max_bytes:
            return False
        os.replace(path, path.with_name(path.name + ".1"))
    except OSError:  # no file yet, or an unusable path: the write that follows reports it
        return False
    return True
