"""One writer per project, as the commands that write take it: ``--wait`` and the waiting line.

The lock itself is ``floe.project_lock``. A command that writes the project's warehouse,
lakehouse or run history holds it; a second one exits 1 naming the holder, or with ``--wait``
says once whom it waits for and starts when the holder is done.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

WAIT_HELP = ("When another floe command writes this project now (a run, a demo batch), wait for it "
             "to finish instead of exiting 1 [default: exit 1, naming it].")


def wait_option(function: F) -> F:
    """--wait: take turns with the project's other writer rather than give up."""
    return click.option("--wait", is_flag=True, help=WAIT_HELP)(function)


def project_root(pipeline_file: Path, artifacts_path: Path | None = None) -> Path | None:
    """The folder whose ``.floe/project.lock`` a command takes: given or mounted artifacts' project,
    else floe.yaml's; None when there is no project (the command then fails saying so, and no
    ``.floe`` folder is made in a folder that is not a project)."""
    from floe.contract.project import mounted_artifacts_path, open_compiled_project

    given = artifacts_path or mounted_artifacts_path()
    if given is not None:
        return open_compiled_project(given).root if given.is_file() else None
    from floe.spec.project import project_root as spec_project_root

    return spec_project_root(pipeline_file) if pipeline_file.is_file() else None


@contextlib.contextmanager
def one_writer(root: Path | None, *, wait: bool, doing: str = "") -> Iterator[None]:
    """Hold the project's lock for the block; with ``wait``, wait for its holder (saying so once).

    Without a project (``root`` None) the block runs unlocked, to fail with its own message.
    """
    from floe.project_lock import LockHolder, project_lock

    if root is None:
        yield
        return

    def waiting(holder: LockHolder | None) -> None:
        who = holder.describe() if holder else "another process holds it"
        click.echo(f"waiting for the project's other writer: {who}", err=True)

    with project_lock(root, wait=math.inf if wait else 0.0, doing=doing, on_wait=waiting):
        yield
