"""The parts of floe's dbt selection that need no manifest: which selections compare with a
state, and how --state/--defer travel from the plan to dbt's arguments."""

from __future__ import annotations

from pathlib import Path

import pytest

from floe.errors import FloeError
from floe.orchestration.dbt_selection import state_args, state_tags, uses_state


@pytest.mark.parametrize(("selection", "method"), [
    ("state:modified", "state"),
    ("state:modified.body+", "state"),
    ("tag:daily +state:new", "state"),
    ("@state:modified", "state"),
    ("2+state:modified+1", "state"),
    ("tag:daily,result:error", "result"),
    ("source_status:fresher+", "source_status"),
    ("stg_orders+ tag:state", None),
    ("path:models/state", None),
    ("config.materialized:table", None),
    ("", None),
])
def test_selections_that_compare_with_a_state(selection: str, method: str | None) -> None:
    assert uses_state(selection) == method


def test_state_and_defer_reach_dbt_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "prod").mkdir()
    (tmp_path / "prod" / "manifest.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    tags = state_tags(Path("prod"), defer=True, favor_state=True)
    assert state_args(tags) == ["--state", str(tmp_path.resolve() / "prod"), "--defer", "--favor-state"]
    assert state_args(state_tags(Path("prod"), defer=False, favor_state=False)) == [
        "--state", str(tmp_path.resolve() / "prod")]
    assert state_args(state_tags(None, defer=False, favor_state=False)) == []


@pytest.mark.parametrize(("state", "defer", "favor_state", "says"), [
    (None, True, False, "--defer needs"),
    ("prod", False, True, "--favor-state"),
    ("empty", True, False, "no manifest.json"),
])
def test_state_mistakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, state: str | None, defer: bool,
                        favor_state: bool, says: str) -> None:
    (tmp_path / "empty").mkdir()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FloeError, match=says) as raised:
        state_tags(Path(state) if state else None, defer=defer, favor_state=favor_state)
    assert raised.value.hint
