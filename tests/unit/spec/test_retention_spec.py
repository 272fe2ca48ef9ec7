"""platform.yaml's orchestrator.retention: defaults, limits, and errors located in the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from floe.errors import SpecError
from floe.spec.loading import load_spec
from floe.spec.platform import OrchestratorRetention, PlatformSpec

PLATFORM = """environments:
  dev:
    orchestrator:
      retention: {retention}
"""


def _load(tmp_path: Path, retention: str) -> PlatformSpec:
    path = tmp_path / "platform.yaml"
    path.write_text(PLATFORM.format(retention=retention), encoding="utf-8")
    spec = load_spec(path, PlatformSpec, {}, display_name="platform.yaml", pipeline_file=False).model
    assert isinstance(spec, PlatformSpec)
    return spec


def test_every_project_gets_a_bounded_history_by_default() -> None:
    retention = PlatformSpec.model_validate({"environments": {"dev": {}}}).environments["dev"].orchestrator.retention
    assert retention == OrchestratorRetention(runs=100, days=None, tick_days=7)
    assert retention.prunes_runs


def test_limits_are_read_and_can_be_lifted(tmp_path: Path) -> None:
    retention = _load(tmp_path, "{runs: 50, days: 30, tick_days: 14}").environments["dev"].orchestrator.retention
    assert (retention.runs, retention.days, retention.tick_days) == (50, 30, 14)
    lifted = _load(tmp_path, "{runs: null, tick_days: null}").environments["dev"].orchestrator.retention
    assert (lifted.runs, lifted.days, lifted.tick_days) == (None, None, None) and not lifted.prunes_runs


@pytest.mark.parametrize(("retention", "where"), [
    ("{runs: 0}", "environments.dev.orchestrator.retention.runs"),
    ("{days: -1}", "environments.dev.orchestrator.retention.days"),
    ("{keep: 5}", "environments.dev.orchestrator.retention"),
])
def test_a_bad_limit_is_an_error_at_its_place(tmp_path: Path, retention: str, where: str) -> None:
    with pytest.raises(SpecError) as caught:
        _load(tmp_path, retention)
    issues = caught.value.issues
    assert len(issues) == 1, issues
    assert issues[0].path.startswith(where) and issues[0].line == 4, issues[0]
