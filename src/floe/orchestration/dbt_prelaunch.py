"""Start dbt before Dagster sets the run up, when the run is the whole dbt step and nothing else.

Before its one step starts, a Dagster run is set up in series: the instance is opened, the run
and its job snapshot are stored, one planned-materialization event per asset is written, the
step context is built. At 1,000 models that is about two and a half seconds (measured) in
which dbt, already imported in the worker (``floe.orchestration.dbt_worker``), could have
been parsing. When the job is the dbt op alone, with every asset and check selected, and the
project lands no ingestion tables first, the command the step will run is known as soon as
the definitions are built: :func:`dbt_started_early` launches it then, with the run id the
run will have, and the dbt step takes the running process
(``floe.orchestration.dbt_early_launch.launch_early``) after checking that its own command,
environment and working directory are exactly these.

Until the step reads it, dbt's output waits in the pipe (dbt pauses when the pipe is full),
so every event still reaches Dagster, in order. A run that ends without its step taking the
process (set-up failed, the run was interrupted) interrupts dbt as Ctrl-C would.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from floe.contract.project import CompiledProject
from floe.orchestration.dbt_early_launch import (
    EarlyLaunch,
    cli_command,
    is_whole,
    start,
    target_folder_name,
)
from floe.orchestration.dbt_prestart import worker_launcher

# How long an interrupted dbt may take to stop before it is killed.
CANCEL_GRACE_S = 10

Command = tuple[list[str], dict[str, str], Path, Path]


@dataclass
class Prelaunched:
    """A dbt invocation started ahead of its step."""

    op_name: str
    command: Command
    launch: EarlyLaunch

    @property
    def name(self) -> str:
        """The run's target folder name (dagster-dbt's unique one, chosen at launch)."""
        return self.command[3].name

    def cancel(self) -> None:
        """Interrupt dbt (SIGINT: it stops its queries and exits) and wait for it to end."""
        process = self.launch.process
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGINT)
        if process.stdout is not None:
            process.stdout.close()  # a dbt waiting on a full pipe gets an error instead of waiting on
        try:
            process.wait(timeout=CANCEL_GRACE_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


_waiting: dict[tuple[str, str], Prelaunched] = {}


def take_prelaunched(run_id: str, op_name: str) -> Prelaunched | None:
    """The invocation started for this run's step, handed over once (None when there is none)."""
    return _waiting.pop((run_id, op_name), None)


def whole_dbt_node(job_def: Any, dbt_op_name: str) -> Any | None:
    """The job's node when the job is the dbt op alone with everything selected, else None."""
    from dagster._core.definitions.dependency import NodeHandle

    nodes = list(job_def.graph.nodes)
    if len(nodes) != 1 or nodes[0].name != dbt_op_name:
        return None
    assets_def = job_def.asset_layer.get_assets_def_for_node(NodeHandle(nodes[0].name, None))
    return nodes[0] if assets_def is not None and is_whole(assets_def) else None


@contextlib.contextmanager
def dbt_started_early(compiled: CompiledProject, job_def: Any, dbt: Any, run_id: str, args: list[str],
                      *, subset: bool) -> Iterator[Prelaunched | None]:
    """Launch the dbt step's command now when it is knowable; interrupt it if the step never takes it.

    Args:
        compiled: The compiled project (its ingestion tables must be landed first: no launch).
        job_def: The job about to run.
        dbt: The code location's dbt resource.
        run_id: The id the run will be created with.
        args: The dbt arguments the step will pass (``build`` [``--full-refresh``]).
        subset: Whether the run selects a subset of the job's assets (no launch).
    """
    from floe.orchestration.builder import DBT_ASSETS_NAME, export_runtime_environment

    launcher = worker_launcher()
    if subset or compiled.artifacts.ingestion or launcher is None:
        yield None
        return
    node = whole_dbt_node(job_def, DBT_ASSETS_NAME)
    if node is None:
        yield None
        return
    export_runtime_environment(compiled)  # what the step sets before it launches dbt: the same environment
    command = cli_command(launcher, dbt, args, node.tags, node.name, run_id,
                          name=target_folder_name(node.name, run_id))
    prelaunched = Prelaunched(node.name, command, start(*command))
    _waiting[(run_id, node.name)] = prelaunched
    try:
        yield prelaunched
    finally:
        if _waiting.pop((run_id, node.name), None) is prelaunched:
            prelaunched.cancel()
