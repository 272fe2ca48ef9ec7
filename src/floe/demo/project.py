"""The demo project: created from the ``ecommerce`` template the first time, reused after."""

from __future__ import annotations

from pathlib import Path

from floe.spec.pipeline import PIPELINE_FILE

DEFAULT_DEMO_DIR = Path("floe-demo")
RATE_VARIABLE = "FLOE_DEMO_RATE"
"""The template's floe.yaml reads its rate kind from this variable (default burst)."""


def ensure_demo_project(directory: Path) -> tuple[Path, bool]:
    """The demo's floe.yaml, creating the project first when ``directory`` has none.

    Returns:
        The path of floe.yaml, and whether the project was created now.
    """
    from floe.scaffold.init import init_project

    pipeline = directory / PIPELINE_FILE
    if pipeline.is_file():
        return pipeline, False
    init_project(directory, template="ecommerce")
    return pipeline, True
