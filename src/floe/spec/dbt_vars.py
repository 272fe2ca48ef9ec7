"""dbt ``vars``: what floe.yaml and ``floe run --vars`` may pass to dbt, and how layers merge.

Vars travel to dbt as one JSON document on its ``--vars`` option (JSON is YAML, which dbt
reads), and between processes in a Dagster run tag, so a value must survive a JSON round trip
unchanged: strings, numbers, booleans, null, lists and mappings with string keys. YAML dates
and timestamps do not (dbt would see a date object, floe would send text); they are refused
with the quoting that keeps them as text.

Precedence, lowest first: the transform's ``vars`` (also used when dbt parses the project at
compile time), the job's, the schedule's, ``floe run --vars``. A later layer replaces a var by
name, as dbt's ``--vars`` replaces a default of ``dbt_project.yml``; nested mappings are not
merged.
"""

from __future__ import annotations

import datetime
import json
import math
from collections.abc import Mapping
from typing import Annotated, Any

import yaml
from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from floe.errors import FloeError

_QUOTE_HINT = "quote it to pass it as text"


def dbt_vars_problem(value: Any, where: str = "") -> str | None:
    """What makes ``value`` (found at ``where``, a var name path) unfit for dbt's ``--vars``, or None."""
    at = f"{where}: " if where else ""
    if value is None or isinstance(value, str | bool | int):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{at}{value} is not a number dbt can receive"
    if isinstance(value, datetime.date):  # datetime.datetime is a date too
        text = value.isoformat()
        kind = "timestamp" if isinstance(value, datetime.datetime) else "date"
        return f"{at}{text} is read by YAML as a {kind}; {_QUOTE_HINT}: \"{text}\""
    if isinstance(value, list):
        for index, item in enumerate(value):
            problem = dbt_vars_problem(item, f"{where}[{index}]")
            if problem:
                return problem
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"{at}the key {key!r} is not text; {_QUOTE_HINT}: \"{key}\""
            problem = dbt_vars_problem(item, f"{where}.{key}" if where else key)
            if problem:
                return problem
        return None
    return f"{at}a {type(value).__name__} is not a plain YAML value"


def _check_dbt_var(value: Any) -> Any:
    # Checked per var, so that a problem is located at the var's own line in floe.yaml.
    problem = dbt_vars_problem(value)
    if problem:
        raise PydanticCustomError("floe_rule", "{detail}", {"detail": problem})
    return value


DbtVars = dict[str, Annotated[Any, AfterValidator(_check_dbt_var)]]
"""A mapping of dbt var names to plain YAML values (checked by :func:`dbt_vars_problem`)."""


def dbt_vars_field(description: str) -> Any:
    """The ``vars`` field of a floe.yaml model: empty by default, left out of the artifacts when empty."""
    # Left out when empty so the artifacts of a project without vars stay readable by a floe
    # that predates vars (the models forbid unknown keys).
    return Field(default_factory=dict, description=description, exclude_if=lambda value: not value)


def merge_dbt_vars(*layers: Mapping[str, Any] | None) -> dict[str, Any]:
    """The vars of ``layers`` merged by name, later layers winning (no deep merge, as dbt does)."""
    merged: dict[str, Any] = {}
    for layer in layers:
        if layer:
            merged.update(layer)
    return merged


def dbt_vars_json(values: Mapping[str, Any]) -> str:
    """The canonical JSON text of ``values``: sorted keys, no spaces (equal vars, equal text)."""
    return json.dumps(dict(values), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def parse_dbt_vars(text: str, *, origin: str) -> dict[str, Any]:
    """Read vars given as YAML or JSON text, as dbt's ``--vars`` takes them.

    Args:
        text: e.g. ``'{min_amount: 10}'`` or ``'{"min_amount": 10}'``.
        origin: Where the text came from, for messages (``--vars``, a run tag's name).

    Raises:
        FloeError: the text is not YAML, not a mapping, or holds a value dbt cannot receive.
    """
    example = "e.g. --vars '{min_amount: 10, region: eu}'"
    try:
        loaded = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at column {mark.column + 1}" if mark is not None and "\n" not in text else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise FloeError(f"{origin}: not valid YAML{where} ({problem})",
                        hint=f"give a YAML or JSON mapping, {example}") from None
    if loaded is None:
        loaded = {}
    if not isinstance(loaded, dict):
        kind = "a list" if isinstance(loaded, list) else f"a single value ({loaded!r})"
        raise FloeError(f"{origin}: expected a mapping of var names to values, got {kind}",
                        hint=f"give a YAML or JSON mapping, {example}")
    problem = dbt_vars_problem(loaded)
    if problem:
        raise FloeError(f"{origin}: {problem}", hint=f"give a YAML or JSON mapping of plain values, {example}")
    return loaded
