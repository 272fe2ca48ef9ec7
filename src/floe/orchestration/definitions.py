"""The Dagster code location of a floe project: ``dagster dev -m floe.orchestration.definitions``.

It reads the compiled artifacts at $FLOE_ARTIFACTS_PATH (default ``.floe/artifacts.json``)
and nothing else, so the same module serves ``floe run``, ``dagster dev`` and a Kubernetes
user-code deployment.
"""

from __future__ import annotations

from floe.orchestration.builder import build_definitions
from floe.orchestration.paths import open_compiled_project

defs = build_definitions(open_compiled_project())
