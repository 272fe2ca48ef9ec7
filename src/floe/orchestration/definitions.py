"""The Dagster code location of a floe project: ``dagster dev -m floe.orchestration.definitions``.

It reads the compiled artifacts at $FLOE_ARTIFACTS_PATH (default ``.floe/artifacts.json``)
and nothing else, so the same module serves ``floe run``, ``dagster dev`` and a Kubernetes
user-code deployment.
"""

from __future__ import annotations

import gc

from floe.contract.project import open_compiled_project
from floe.orchestration.builder import build_definitions

defs = build_definitions(open_compiled_project())

# Dagster and the definitions live as long as the process: freezing them takes their hundreds
# of thousands of objects out of every later garbage collection, the ones at exit included
# (0.4-0.5 s of a 1,000-model load, measured in benchmarks/bench_definitions_load.py).
gc.freeze()
