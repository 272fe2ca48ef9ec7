"""platform.yaml's orchestrator.daemon: defaults, what each mode allows, errors at their place."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from floe.errors import SpecError
from floe.spec.loading import load_spec
from floe.spec.platform import PlatformSpec

POSTGRES = "storage: {type: postgres, host: db, user: dagster, database: dagster}"
PLATFORM = """environments:
  prod:
    orchestrator:
      {storage}
      daemon: {daemon}
"""


def _load(tmp_path: Path, daemon: str, storage: str = POSTGRES) -> PlatformSpec:
    path = tmp_path / "platform.yaml"
    path.write_text(PLATFORM.format(daemon=daemon, storage=storage), encoding="utf-8")
    spec = load_spec(path, PlatformSpec, {}, display_name="platform.yaml", pipeline_file=False).model
    assert isinstance(spec, PlatformSpec)
    return spec


def test_the_default_is_one_daemon_restarted_after_two_minutes_without_heartbeat() -> None:
    daemon = PlatformSpec.model_validate({"environments": {"dev": {}}}).environments["dev"].orchestrator.daemon
    assert (daemon.mode, daemon.replica_count, daemon.lease) == ("single", 1, None)
    assert daemon.restart_timeout == timedelta(seconds=120)
    assert daemon.health_check_interval == timedelta(seconds=30)


def test_ha_defaults_to_two_replicas_and_the_issues_lease(tmp_path: Path) -> None:
    daemon = _load(tmp_path, "{mode: ha}").environments["prod"].orchestrator.daemon
    assert daemon.replica_count == 2
    lease = daemon.lease_timing
    assert (lease.duration, lease.renew_deadline, lease.retry_period) == (
        timedelta(seconds=15), timedelta(seconds=10), timedelta(seconds=2))


def test_the_settings_survive_the_contract(tmp_path: Path) -> None:
    """The compiled artifacts carry the block as written; reading it back gives the same settings."""
    spec = _load(tmp_path, "{mode: ha, replicas: 3, restart_timeout: 3m, lease: {duration: 20s}}")
    env = spec.environments["prod"]
    again = type(env).model_validate(env.model_dump(mode="json", by_alias=True))
    assert again.orchestrator.daemon == env.orchestrator.daemon
    assert again.orchestrator.daemon.lease_timing.duration == timedelta(seconds=20)


@pytest.mark.parametrize(("daemon", "storage", "words"), [
    ("{mode: ha}", "storage: {type: sqlite}", "needs storage type postgres"),
    ("{mode: single, replicas: 2}", POSTGRES, "cannot be honoured"),
    ("{mode: ha, replicas: 1}", POSTGRES, "no standby"),
    ("{mode: single, lease: {duration: 15s}}", POSTGRES, "would be ignored"),
    ("{restart_timeout: 60s}", POSTGRES, "at least 120s"),
    ("{health_check_interval: 5m}", POSTGRES, "between 1s and restart_timeout"),
    ("{mode: ha, lease: {duration: 12s}}", POSTGRES, "before the lease expires"),
    ("{mode: ha, lease: {retry_period: 10s}}", POSTGRES, "shorter than renew_deadline"),
    ("{mode: ha, lease: {duration: 15500ms, renew_deadline: 5s}}", POSTGRES, "whole number of seconds"),
    ("{mode: hot}", POSTGRES, "single"),
])
def test_a_setting_that_cannot_be_honoured_is_an_error_at_its_place(tmp_path: Path, daemon: str, storage: str,
                                                                    words: str) -> None:
    with pytest.raises(SpecError) as caught:
        _load(tmp_path, daemon, storage)
    issues = caught.value.issues
    assert len(issues) == 1, issues
    assert issues[0].path.startswith("environments.prod.orchestrator"), issues[0]
    assert words in issues[0].message, issues[0].message
