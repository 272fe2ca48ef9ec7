"""On-demand batches: ``floe demo trigger`` queues a request; a running Dagster picks it up.

A request is a small JSON file in ``<artifacts folder>/triggers/``, named so that names sort
in the order requests were made. The Dagster sensor remembers the last name it turned into
runs (its cursor), so each request is honoured once even if the sensor restarts; files it
has handled are removed on its next tick.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from floe.contract.io import write_text_atomic

TRIGGER_DIR = "triggers"
MAX_BATCHES_PER_TRIGGER = 1000


@dataclass(frozen=True)
class TriggerRequest:
    """A request for ``batches`` more batches, made at ``requested_at`` (Unix seconds)."""

    name: str
    batches: int
    requested_at: float


def trigger_dir(output_dir: Path) -> Path:
    """Where requests wait."""
    return output_dir / TRIGGER_DIR


def queue_trigger(output_dir: Path, batches: int) -> TriggerRequest:
    """Write a request for ``batches`` batches; returns it."""
    if not 1 <= batches <= MAX_BATCHES_PER_TRIGGER:
        raise ValueError(f"batches must be between 1 and {MAX_BATCHES_PER_TRIGGER}")
    now = time.time()
    name = f"{time.time_ns():020d}-{os.getpid()}"
    write_text_atomic(trigger_dir(output_dir) / f"{name}.json",
                      json.dumps({"batches": batches, "requested_at": now}) + "\n")
    return TriggerRequest(name, batches, now)


def pending_triggers(output_dir: Path, after: str | None = None) -> list[TriggerRequest]:
    """Requests newer than ``after`` (a request name), oldest first. Unreadable files are skipped."""
    folder = trigger_dir(output_dir)
    if not folder.is_dir():
        return []
    requests = []
    for path in sorted(folder.glob("*.json")):
        if after is not None and path.stem <= after:
            continue
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            batches = int(document["batches"])
            requested_at = float(document.get("requested_at", 0.0))
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if 1 <= batches <= MAX_BATCHES_PER_TRIGGER:
            requests.append(TriggerRequest(path.stem, batches, requested_at))
    return requests


def remove_handled(output_dir: Path, up_to: str) -> int:
    """Delete request files up to and including ``up_to``; returns how many."""
    removed = 0
    for path in sorted(trigger_dir(output_dir).glob("*.json")):
        if path.stem <= up_to:
            path.unlink(missing_ok=True)
            removed += 1
    return removed
