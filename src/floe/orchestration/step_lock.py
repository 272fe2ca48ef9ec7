"""The project lock inside a Dagster step: runs that ``floe dev`` launches write what ``floe run`` writes.

A run that Dagster's daemon or UI launches (a schedule, 'floe demo trigger', a click on
Materialize) runs its steps in processes of its own, which land batches and build the same
DuckDB file as ``floe run``. Each such step holds the project lock (``floe.project_lock``) while
it writes, waiting for a ``floe run`` or a ``floe demo`` batch that holds it. In ``floe run``
the steps run in the process that already holds the lock, which lets them in at once.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from typing import Any

from floe.contract.project import CompiledProject


@contextlib.contextmanager
def project_writer(context: Any, compiled: CompiledProject) -> Iterator[None]:
    """Hold the project's lock for the step of ``context``; waits (logging once whom for) while another holds it."""
    from floe.project_lock import LockHolder, project_lock

    def waiting(holder: LockHolder | None) -> None:
        context.log.info("waiting for the project's other writer to finish: "
                         + (holder.describe() if holder else "another process holds .floe/project.lock"))

    with project_lock(compiled.root, wait=math.inf, on_wait=waiting,
                      doing=f"Dagster run {context.run_id[:8]}, step {context.op_handle}"):
        yield
