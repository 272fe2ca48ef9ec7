"""Options shared by several commands."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def spec_options(function: F) -> F:
    """-f/--file, --platform and --env, as every command that reads the specs takes them."""
    function = click.option(
        "--env", "-e", "environment", default=None, metavar="ENV",
        help="Environment of platform.yaml to use [default: $FLOE_ENV, else dev].",
    )(function)
    function = click.option(
        "--platform", "platform_file", type=click.Path(path_type=Path), default=None,
        help="platform.yaml to use [default: beside floe.yaml, or $FLOE_PLATFORM_FILE].",
    )(function)
    function = click.option(
        "--file", "-f", "pipeline_file", type=click.Path(path_type=Path), default=Path("floe.yaml"),
        show_default=True, help="The pipeline spec.",
    )(function)
    return function


def artifacts_option(function: F) -> F:
    """--artifacts PATH: run from compiled artifacts as they are (the runtime's rule, see runtime_artifacts)."""
    return click.option(
        "--artifacts", "artifacts_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
        help="Run from these compiled artifacts, never recompiling them [default: $FLOE_ARTIFACTS_PATH "
             "when set, else compile from floe.yaml when stale].",
    )(function)
