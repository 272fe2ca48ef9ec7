"""The dbt step on the fast path: dbt starts in the worker before dagster-dbt is even imported.

Importing dagster-dbt imports dbt-core: over a second in which the dbt step could not start
dbt. When a dbt worker waits (:mod:`floe.orchestration.dbt_worker`) and the step builds the
whole project (no subset: the only case where dagster-dbt's arguments follow from the op's
tags alone), :func:`launch_early` starts ``floe-dbt`` with exactly the command line,
environment and working directory ``DbtCliResource.cli`` would give it; dagster-dbt is then
imported while dbt parses, and the running process is wrapped in dagster-dbt's own
``DbtCliInvocation``: event streaming and translation stay dagster-dbt's. Subsets take
dagster-dbt's ``cli()``: with the user's dbt selection as written when ``floe run`` narrowed
the run by it (:func:`written_selection_args`), else with the selection dagster-dbt's own
``get_subset_selection_for_context`` computes from floe's specs (which carry the same op tags
and unique-id metadata as ``@dbt_assets``'s). ``tests/integration/test_dbt_early_launch.py``
checks the command equals dagster-dbt's.

``floe run`` goes one step further (:func:`early_launch_for_run`): when the command is knowable
before the run exists, it starts dbt before Dagster sets the run up, and the step takes that
process once it has checked the command is its own.

Private seams used here (checked in :mod:`.seams` before use): Dagster's ``NodeHandle`` and
``AssetLayer.get_assets_def_for_node`` (to know the run's op is whole), ``DbtCliInvocation``'s
constructor, ``DbtCliResource._get_unique_target_path`` and ``_cli_version``,
``dagster_dbt.asset_utils``. The dagster-dbt ones can only be checked once dagster-dbt is imported, which is
after the definitions were built the fast way; if one has moved, the early dbt is interrupted
and the step stops with the seam's name and the switch to use (it never runs half-patched).
The version gate keeps untested versions from getting this far.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from floe.contract.project import CompiledProject
from floe.orchestration.dbt_worker.start import worker_launcher
from floe.processes import interrupt_and_reap

# dagster-dbt's op tag names (dagster_dbt.asset_utils), read without importing it.
SELECT_TAG = "dagster_dbt/select"
EXCLUDE_TAG = "dagster_dbt/exclude"
SELECTOR_TAG = "dagster_dbt/selector"
EAGER = "eager"
PARTIAL_PARSE_FILE = "partial_parse.msgpack"
# How long an interrupted dbt may take to stop before it is killed.
CANCEL_GRACE_S = 10
# dbt's command line, environment, working directory and target path.
Command = tuple[list[str], dict[str, str], Path, Path]
STARTED_BEFORE_RUN = "dbt was started before the run was set up"
COMMAND_DIFFERS = "the dbt command started before the run differs from the step's"


def stream_fast_dbt_build(context: Any, compiled: CompiledProject, dbt: Any, args: Sequence[str]) -> Iterator[Any]:
    """Run ``dbt <args>`` for the step on the fast path; yield its Dagster events.

    Raises:
        FloeError: a dagster-dbt seam has moved (see the module docstring).
    """
    # Before the imports below: with a worker waiting, dbt parses while they run.
    early = launch_early(context, dbt, list(args))
    from floe.orchestration.fastpath.seams import DAGSTER_DBT, problems, verify

    if not verify(DAGSTER_DBT):
        if early is not None:
            early.cancel()
        from floe.errors import FloeError
        from floe.orchestration.fastpath import SWITCH_ENV

        raise FloeError("floe's fast path does not fit the installed dagster-dbt: " + "; ".join(problems(DAGSTER_DBT)),
                        hint=f"set {SWITCH_ENV}=0 to run on stock dagster-dbt, and please report this")
    return _stream(context, compiled, dbt, args, early)


def _stream(context: Any, compiled: CompiledProject, dbt: Any, args: Sequence[str],
            early: EarlyLaunch | None) -> Iterator[Any]:
    from dagster_dbt.asset_utils import (
        DAGSTER_DBT_EXCLUDE_METADATA_KEY,
        DAGSTER_DBT_SELECT_METADATA_KEY,
        DAGSTER_DBT_SELECTOR_METADATA_KEY,
        DBT_INDIRECT_SELECTION_ENV,
        get_subset_selection_for_context,
    )

    from floe.orchestration.dbt_specs import dbt_translator, load_manifest
    from floe.orchestration.dbt_step import stream_invocation

    manifest = load_manifest(compiled.manifest_path)
    translator = dbt_translator(manifest)
    cli = dbt.cli_resource()
    if early is not None:
        yield from stream_invocation(early.invocation(cli, manifest, translator), context)
        return
    tags = context.op.tags
    written = written_selection_args(context, compiled)
    if written is not None:
        # floe resolved the selection with dbt's default, eager: a user's other setting must
        # not make dbt run other tests than the checks Dagster expects.
        selection, indirect = written, (EAGER if os.getenv(DBT_INDIRECT_SELECTION_ENV, EAGER) != EAGER else None)
    else:
        selection, indirect = get_subset_selection_for_context(
            context=context,
            manifest=manifest,
            select=tags.get(DAGSTER_DBT_SELECT_METADATA_KEY),
            exclude=tags.get(DAGSTER_DBT_EXCLUDE_METADATA_KEY),
            selector=tags.get(DAGSTER_DBT_SELECTOR_METADATA_KEY),
            dagster_dbt_translator=translator,
            current_dbt_indirect_selection_env=os.getenv(DBT_INDIRECT_SELECTION_ENV),
        )
    # dagster-dbt sets DBT_INDIRECT_SELECTION for dbt when a subset needs it; the flag is the
    # same setting and, unlike the variable, overrides a user's own value just as it does.
    indirect_args = ["--indirect-selection", indirect] if indirect else []
    invocation = cli.cli(
        [*args, *indirect_args, *selection],
        manifest=manifest,
        dagster_dbt_translator=translator,
        target_path=cli._get_unique_target_path(context=context),  # dagster-dbt's own folder naming
    )
    yield from stream_invocation(invocation, context)


def written_selection_args(context: Any, compiled: CompiledProject) -> list[str] | None:
    """dbt's ``--select``/``--exclude`` as the user wrote them, when the step's subset is exactly
    what they select; None otherwise (dagster-dbt then names every selected node).

    ``floe run --select/--exclude`` puts the selection in the run's tags; dbt resolving it itself
    costs nothing, where a thousand explicit selectors cost dbt tens of seconds. The subset is
    checked against the selection (cached from the plan in the same process) because a run can
    be re-executed with another subset and keep its tags.
    """
    from floe.orchestration.dbt_selection import tagged_selection
    from floe.orchestration.dbt_specs import DEFAULT_SELECT

    selection = tagged_selection(context.run.tags, compiled.manifest_path, compiled.dbt_project_dir)
    if selection is None:
        return None
    assets, checks = selection.keys_and_checks()
    op_checks = {spec.key for spec in context.assets_def.node_check_specs_by_output_name.values()}
    if set(context.selected_asset_keys) != assets or set(context.selected_asset_check_keys) != checks & op_checks:
        return None
    return (["--select", selection.select] if selection.select != DEFAULT_SELECT else []) + (
        ["--exclude", selection.exclude] if selection.exclude else [])


@dataclass
class EarlyLaunch:
    """A dbt invocation already running in the worker, waiting to be wrapped by dagster-dbt."""

    process: subprocess.Popen[bytes]
    project_dir: Path
    target_path: Path

    def invocation(self, cli: Any, manifest: Any, translator: Any) -> Any:
        """dagster-dbt's ``DbtCliInvocation`` around the running process, as ``cli()`` builds it."""
        from dagster_dbt import DbtCliInvocation

        return DbtCliInvocation(
            process=self.process,
            manifest=manifest,
            project=None,
            dagster_dbt_translator=translator,
            project_dir=self.project_dir,
            target_path=self.target_path,
            raise_on_error=True,  # cli()'s default, which the usual path uses
            context=None,
            adapter=None,
            cli_version=cli._cli_version,
        )

    def cancel(self) -> None:
        """Interrupt dbt (SIGINT: it stops its queries and exits) and wait for it to end."""
        interrupt_and_reap(self.process, CANCEL_GRACE_S)


def is_whole(assets_def: Any) -> bool:
    """True when ``assets_def`` materializes every asset and runs every check of its op."""
    return bool(assets_def.keys_by_output_name == assets_def.node_keys_by_output_name
                and assets_def.check_specs_by_output_name == assets_def.node_check_specs_by_output_name)


def launch_early(context: Any, dbt: Any, args: list[str]) -> EarlyLaunch | None:
    """The dbt invocation of a whole step, running in the worker: the one ``floe run`` started
    before the run was set up (:func:`early_launch_for_run`), or one started now. None for a
    subset or without a worker."""
    launcher = worker_launcher()
    if launcher is not None and not is_whole(context.assets_def):
        launcher = None  # a subset takes dagster-dbt's own cli()
    waiting = _waiting.pop((context.run.run_id, context.op.name), None)
    if waiting is not None:
        if launcher is not None and waiting.command == cli_command(
                launcher, dbt, args, context.op.tags, context.op.name, context.run.run_id, name=waiting.name):
            context.log.info(f"{STARTED_BEFORE_RUN} (target folder {waiting.name})")
            return waiting.launch
        # Cannot happen while the runner and the step agree; if they ever do not, the step's own
        # command is the right one: stop the early one first (it may have built some models).
        waiting.launch.cancel()
        context.log.warning(f"{COMMAND_DIFFERS}; it was interrupted and the step's own command runs instead")
    if launcher is None:
        return None
    return start(*cli_command(launcher, dbt, args, context.op.tags, context.op.name, context.run.run_id))



@dataclass
class _Waiting:
    """A dbt invocation started by ``floe run`` before its step, and the command it was given."""

    command: Command
    launch: EarlyLaunch

    @property
    def name(self) -> str:
        """The target folder's name (dagster-dbt's unique one, chosen at launch)."""
        return self.command[3].name


# Keyed by (run id, op name); filled and emptied by early_launch_for_run in the same process.
_waiting: dict[tuple[str, str], _Waiting] = {}


@contextlib.contextmanager
def early_launch_for_run(compiled: CompiledProject, job_def: Any, dbt: Any, run_id: str, args: list[str],
                         *, subset: bool) -> Iterator[EarlyLaunch | None]:
    """Start the dbt step's command before Dagster sets the run up, when it is already knowable.

    Before its one step starts, an in-process Dagster run is set up in series: the run and its
    job snapshot are stored, one planned-materialization event per asset is written, the step
    context is built (about 1.4 ms a model, ``benchmarks/RESULTS.md``). dbt, imported in the
    worker, can parse meanwhile. This is possible only when the job is the dbt op alone with all
    of its assets and checks, the run selects no subset and no ingestion lands first: the
    command then follows from the op's tags. The step takes the process (:func:`launch_early`)
    after checking that its own command, environment and folder are exactly these; until then
    dbt's output waits in the pipe. A run whose step never takes it interrupts dbt on exit.

    Args:
        compiled: The compiled project.
        job_def: The job about to run.
        dbt: The code location's dbt resource (the one the step is given).
        run_id: The id the run will be created with.
        args: The dbt arguments the step will pass (``build`` [``--full-refresh``] [``--vars``],
            ``floe.orchestration.dbt_run_args``).
        subset: Whether the run selects a subset of the job's assets.
    """
    from floe.orchestration.fastpath.seams import DAGSTER, verify

    launcher = worker_launcher()
    node = None
    from floe.orchestration.lakehouse import has_input_ports

    # Input ports' views are made in the step, before dbt: such a run cannot launch dbt earlier.
    if (not subset and not compiled.artifacts.ingestion and not has_input_ports(compiled)
            and launcher is not None and verify(DAGSTER)):
        node = _whole_dbt_node(job_def)
    if node is None or launcher is None:
        yield None
        return
    from floe.orchestration.builder import export_runtime_environment

    export_runtime_environment(compiled)  # what the step sets before it launches dbt: the same environment
    command = cli_command(launcher, dbt, args, node.tags, node.name, run_id,
                          name=target_folder_name(node.name, run_id))
    waiting = _Waiting(command, start(*command))
    _waiting[(run_id, node.name)] = waiting
    try:
        yield waiting.launch
    finally:
        if _waiting.pop((run_id, node.name), None) is waiting:
            waiting.launch.cancel()


def _whole_dbt_node(job_def: Any) -> Any | None:
    """The job's node when the job is floe's dbt op alone, with every asset and check, else None."""
    from dagster._core.definitions.dependency import NodeHandle

    from floe.orchestration.builder import DBT_ASSETS_NAME
    from floe.orchestration.serving_asset import PUBLISH_ASSET_NAME

    # The serving publish step runs after dbt, from what dbt built: it changes nothing dbt starts with.
    nodes = [node for node in job_def.graph.nodes if node.name != PUBLISH_ASSET_NAME]
    if len(nodes) != 1 or nodes[0].name != DBT_ASSETS_NAME:
        return None
    assets_def = job_def.asset_layer.get_assets_def_for_node(NodeHandle(nodes[0].name, None))
    return nodes[0] if assets_def is not None and is_whole(assets_def) else None


def start(command: list[str], env: dict[str, str], project_dir: Path, target_path: Path) -> EarlyLaunch:
    """Run ``command`` as dagster-dbt would: stdout and stderr on one pipe, in ``project_dir``."""
    _reuse_partial_parse(_target_base(project_dir), target_path)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=project_dir)
    return EarlyLaunch(process, project_dir, target_path)


def target_folder_name(op_name: str, run_id: str) -> str:
    """dagster-dbt's unique target folder name for a step of the run."""
    return f"{op_name}-{run_id[:7]}-{str(uuid.uuid4())[:7]}"


def cli_command(executable: str, dbt: Any, args: list[str], op_tags: Any, op_name: str, run_id: str,
                name: str | None = None) -> Command:
    """What ``DbtCliResource.cli(args + the op's selection)`` runs when the step is not a subset.

    ``name`` is the target folder's (default: a new unique one, as dagster-dbt makes).
    Returns the command line, environment, working directory and target path.
    """
    selector = op_tags.get(SELECTOR_TAG)
    cleaned = [*args, *(["--selector", selector] if selector else [])]
    # dagster-dbt re-joins the words of --select/--exclude and puts --exclude first.
    selection: list[str] = []
    for flag, tag in (("--exclude", EXCLUDE_TAG), ("--select", SELECT_TAG)):
        words = (op_tags.get(tag) or "").split()
        if words:
            selection += [flag, " ".join(words)]
    project_dir = Path(dbt.project_dir)
    # dagster-dbt's unique folder under $DBT_TARGET_PATH; dbt is given it as dagster-dbt gives
    # it (relative when $DBT_TARGET_PATH is), the invocation gets it absolute.
    name = name or target_folder_name(op_name, run_id)
    unique = Path(os.environ.get("DBT_TARGET_PATH", "target")) / name
    target_path = _target_base(project_dir) / name
    env = {
        "PYTHONLEGACYWINDOWSSTDIO": "1",
        **os.environ,
        "DAGSTER_DBT_CLI": "true",
        "PYTHONUNBUFFERED": "1",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_LOG_FORMAT": "json",
        "DBT_TARGET_PATH": os.fspath(unique),
        "DBT_LOG_PATH": os.fspath(unique),
        **({"DBT_PROFILES_DIR": dbt.profiles_dir} if dbt.profiles_dir else {}),
        "DBT_PROJECT_DIR": str(project_dir),
    }
    profile = ["--profile", dbt.profile] if dbt.profile else []
    profile += ["--target", dbt.target] if dbt.target else []
    return [executable, *cleaned, *profile, *selection], env, project_dir, target_path


def _target_base(project_dir: Path) -> Path:
    """$DBT_TARGET_PATH (default ``target``), absolute: where the project's own parse output is."""
    current = Path(os.environ.get("DBT_TARGET_PATH", "target"))
    return current if current.is_absolute() else project_dir / current


def _reuse_partial_parse(target_base: Path, target_path: Path) -> None:
    """Copy the partial-parse file into the new target folder, as dagster-dbt does."""
    source = target_base / PARTIAL_PARSE_FILE
    destination = target_path / PARTIAL_PARSE_FILE
    if source.exists() and not destination.exists():
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, destination)
