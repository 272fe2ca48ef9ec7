"""orchestrator.retention on Kubernetes: tick retention in the official chart's values, run Jobs
cleaned up by Kubernetes, and one source for each setting (issue 19)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from floe.errors import FloeError
from tests.charts.test_platform_render import _artifacts, _charts_copy


def _with_retention(artifacts: Path, retention: dict[str, object]) -> Path:
    document = json.loads(artifacts.read_text(encoding="utf-8"))
    document["environment"]["orchestrator"]["retention"] = retention
    artifacts.write_text(json.dumps(document), encoding="utf-8")
    return artifacts


def test_tick_days_become_the_official_charts_retention_and_reach_dagster_yaml(tmp_path: Path) -> None:
    from floe.platform.helm.render import render_environment
    from tests.charts.helm_support import require_official_chart

    require_official_chart()
    charts = _charts_copy(tmp_path, with_official_chart=True)
    artifacts = _with_retention(_artifacts(tmp_path), {"runs": 200, "tick_days": 5})
    result = render_environment(artifacts, charts, tmp_path / "out", release="shop", namespace="data")
    values = yaml.safe_load(result.values_path.read_text(encoding="utf-8"))
    every_status = {"skipped": 5, "success": 5, "failure": 5, "started": 5}
    assert values["dagster"]["retention"] == {"enabled": True, "schedule": {"purgeAfterDays": 5},
                                              "sensor": {"purgeAfterDays": every_status},
                                              "autoMaterialize": {"purgeAfterDays": every_status}}
    documents = [d for d in yaml.safe_load_all(result.manifests_path.read_text(encoding="utf-8")) if d]
    instance = yaml.safe_load(next(d for d in documents if d["metadata"]["name"] == "shop-dagster-instance")
                              ["data"]["dagster.yaml"])
    assert instance["retention"]["schedule"] == {"purge_after_days": 5}
    assert instance["retention"]["sensor"] == {"purge_after_days": every_status}
    # Finished run Jobs (and their pods) are deleted by Kubernetes; their records by floe's sensor.
    launcher = instance["run_launcher"]["config"]
    assert launcher["run_k8s_config"]["job_spec_config"]["ttlSecondsAfterFinished"] == 86400


def test_no_tick_days_leaves_the_values_own_retention(tmp_path: Path) -> None:
    from floe.platform.helm.render import render_environment

    charts = _charts_copy(tmp_path, with_official_chart=False,
                          env_values={"dagster": {"retention": {"enabled": True, "schedule": {"purgeAfterDays": 9},
                                                               "sensor": {"purgeAfterDays": 9}}}})
    artifacts = _with_retention(_artifacts(tmp_path), {"tick_days": None})
    result = render_environment(artifacts, charts, tmp_path / "out")
    values = yaml.safe_load(result.values_path.read_text(encoding="utf-8"))
    assert values["dagster"]["retention"]["schedule"] == {"purgeAfterDays": 9}


def test_tick_retention_set_in_both_places_is_refused(tmp_path: Path) -> None:
    from floe.platform.helm.render import render_environment

    charts = _charts_copy(tmp_path, with_official_chart=False,
                          env_values={"dagster": {"retention": {"enabled": True}}})
    with pytest.raises(FloeError, match="one setting, two sources") as caught:
        render_environment(_artifacts(tmp_path), charts, tmp_path / "out")
    assert "tick_days" in (caught.value.hint or "")
