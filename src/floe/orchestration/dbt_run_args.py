"""What the dbt step runs: ``dbt build`` with the run's flags and its dbt vars.

No Dagster here: the step (``builder.build_dbt_assets``) and ``floe run``'s early dbt launch
(``runner.execute_run``) both derive the arguments from a run's tags with these functions, so
they give the same command.

A run's vars travel in the run tag :data:`DBT_VARS_TAG` (canonical JSON), set by a job (its run
tags), a schedule (its run requests' tags), ``floe run --vars`` or by hand in the Dagster UI's
launchpad; a run's tag replaces its job's, so a schedule's and ``floe run``'s hold the job's
vars merged with their own. dbt gets the transform's vars (the manifest was parsed with them)
overridden by name by the tag's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from floe.contract.project import CompiledProject
from floe.spec.dbt_vars import dbt_vars_json, merge_dbt_vars, parse_dbt_vars

FULL_REFRESH_TAG = "floe/full_refresh"
DBT_VARS_TAG = "floe/dbt_vars"


def dbt_build_args(*, full_refresh: bool, dbt_vars: Mapping[str, Any]) -> list[str]:
    """The dbt arguments of the dbt step (its selection comes from the op)."""
    args = ["build", "--full-refresh"] if full_refresh else ["build"]
    return [*args, "--vars", dbt_vars_json(dbt_vars)] if dbt_vars else args


def dbt_vars_tags(*layers: Mapping[str, Any] | None) -> dict[str, str]:
    """The run tag carrying the vars of ``layers`` (later ones win by name); none when empty."""
    merged = merge_dbt_vars(*layers)
    return {DBT_VARS_TAG: dbt_vars_json(merged)} if merged else {}


def tagged_dbt_vars(tags: Mapping[str, str]) -> dict[str, Any]:
    """The vars in a run's (or job's) tags.

    Raises:
        FloeError: the tag was edited into something that is not a mapping of plain values.
    """
    text = tags.get(DBT_VARS_TAG)
    return parse_dbt_vars(text, origin=f"run tag '{DBT_VARS_TAG}'") if text else {}


def run_dbt_vars(compiled: CompiledProject, tags: Mapping[str, str]) -> dict[str, Any]:
    """The vars dbt runs with: the transform's, overridden by name by the run's tag."""
    return merge_dbt_vars(compiled.artifacts.dbt.vars, tagged_dbt_vars(tags))


def step_dbt_args(compiled: CompiledProject, tags: Mapping[str, str]) -> list[str]:
    """Everything the dbt step passes dbt besides its selection, from the run's tags: ``build``,
    ``--full-refresh``, ``--vars`` and the ``--state``/``--defer`` of ``floe run``. The step and
    the early launch both call this, so their commands cannot drift apart."""
    from floe.orchestration.dbt_selection import state_args  # imports Dagster: only when a run starts

    args = dbt_build_args(full_refresh=tags.get(FULL_REFRESH_TAG) == "true", dbt_vars=run_dbt_vars(compiled, tags))
    return [*args, *state_args(tags)]
