"""Hand the prestarted dbt worker its invocation before dagster-dbt is even imported.

Importing dagster-dbt imports dbt-core: over a second in which the dbt step could not start
dbt. When a worker waits (see ``floe.orchestration.dbt_worker``) and the step builds the whole
project (no subset: the only case where dagster-dbt's arguments follow from the op's tags
alone), this module launches ``floe-dbt`` with exactly the command line, environment and
working directory ``DbtCliResource.cli`` would give it, then imports dagster-dbt while dbt
parses, and wraps the running process in dagster-dbt's own ``DbtCliInvocation``: event
streaming and translation stay dagster-dbt's. Subsets (a selection, a retry of some assets)
take the usual path. ``tests/integration/test_dbt_early_launch.py`` compares both launches.

``floe run`` goes one step further when the run is that step alone: it launches the same
command before Dagster sets the run up (``floe.orchestration.dbt_prelaunch``), and the step
takes that process here once it has checked the command is the one it would launch.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from floe.orchestration.dbt_prestart import worker_launcher

# dagster-dbt's op tag and environment names (dagster_dbt.asset_utils), read without importing it.
SELECT_TAG = "dagster_dbt/select"
EXCLUDE_TAG = "dagster_dbt/exclude"
SELECTOR_TAG = "dagster_dbt/selector"
PARTIAL_PARSE_FILE = "partial_parse.msgpack"


@dataclass
class EarlyLaunch:
    """A dbt invocation already running in the worker, waiting to be wrapped by dagster-dbt."""

    process: subprocess.Popen[bytes]
    project_dir: Path
    target_path: Path

    def invocation(self, cli: Any, manifest: Any, translator: Any) -> Any:
        """dagster-dbt's ``DbtCliInvocation`` around the running process, as ``cli()`` builds it."""
        from dagster_dbt.core.dbt_cli_invocation import DbtCliInvocation

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


def is_whole(assets_def: Any) -> bool:
    """True when ``assets_def`` materializes every asset and runs every check of its op."""
    return bool(assets_def.keys_by_output_name == assets_def.node_keys_by_output_name
                and assets_def.check_specs_by_output_name == assets_def.node_check_specs_by_output_name)


def is_whole_step(context: Any) -> bool:
    """True when the step materializes every asset and runs every check of the dbt op."""
    return is_whole(context.assets_def)


def launch_early(context: Any, dbt: Any, args: list[str]) -> EarlyLaunch | None:
    """The dbt invocation of a whole step, running in the worker: the one ``floe run`` started
    before the run was set up, or one started now. None for the usual path."""
    from floe.orchestration.dbt_prelaunch import take_prelaunched

    launcher = worker_launcher()
    if launcher is not None and not is_whole_step(context):
        launcher = None  # a subset takes dagster-dbt's own cli()
    prelaunched = take_prelaunched(context.run.run_id, context.op.name)
    if prelaunched is not None:
        if launcher is not None and prelaunched.command == cli_command(
                launcher, dbt, args, context.op.tags, context.op.name, context.run.run_id, name=prelaunched.name):
            context.log.info(f"dbt was started before the run was set up (target folder {prelaunched.name})")
            return prelaunched.launch
        # Cannot happen when the runner and the step agree; if they ever do not, the step's own
        # command is the right one: stop the early one first (it may have built some models).
        prelaunched.cancel()
        context.log.warning("the dbt command started before the run differs from the step's; it was "
                            "interrupted and the step's own command runs instead")
    if launcher is None:
        return None
    return start(*cli_command(launcher, dbt, args, context.op.tags, context.op.name, context.run.run_id))


def start(command: list[str], env: dict[str, str], project_dir: Path, target_path: Path) -> EarlyLaunch:
    """Run ``command`` as dagster-dbt would: stdout and stderr on one pipe, in ``project_dir``."""
    _reuse_partial_parse(_target_base(project_dir), target_path)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=project_dir)
    return EarlyLaunch(process, project_dir, target_path)


def target_folder_name(op_name: str, run_id: str) -> str:
    """dagster-dbt's unique target folder name for a step of the run."""
    return f"{op_name}-{run_id[:7]}-{str(uuid.uuid4())[:7]}"


def cli_command(executable: str, dbt: Any, args: list[str], op_tags: Any, op_name: str, run_id: str,
                name: str | None = None) -> tuple[list[str], dict[str, str], Path, Path]:
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
