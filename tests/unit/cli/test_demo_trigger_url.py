"""Which Dagster `floe demo trigger` asks: --url, else $FLOE_DAGSTER_URL, else the URL `floe dev`
recorded for the project, else the default; and it says where the URL came from."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from floe.cli.trigger_cmd import _resolve_url
from floe.platform.dagster_graphql import DEFAULT_URL, URL_ENV


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv(URL_ENV, raising=False)
    (tmp_path / "floe.yaml").write_text("name: shop\n")
    return tmp_path


def record_dev(folder: Path, url: str) -> Path:
    """What `floe dev` writes while it runs (floe.orchestration.dev.DevState)."""
    state = folder / "dev" / "state.json"
    state.parent.mkdir(parents=True)
    state.write_text(json.dumps({"url": url, "project": "shop", "environment": "dev", "dagster_home": "h",
                                 "pids": {}, "logs": {}}))
    return state


def test_without_anything_the_default(project: Path) -> None:
    url, where, name = _resolve_url(None, project / "floe.yaml", None)
    assert (url, name) == (DEFAULT_URL, None) and "no floe dev" in where


def test_the_url_floe_dev_recorded(project: Path) -> None:
    state = record_dev(project / ".floe", "http://0.0.0.0:3300")
    url, where, name = _resolve_url(None, project / "floe.yaml", None)
    assert url == "http://127.0.0.1:3300" and name == "shop" and str(state) in where


def test_a_dev_stack_run_from_another_artifacts_folder(project: Path) -> None:
    record_dev(project / "out", "http://127.0.0.1:3301")
    assert _resolve_url(None, project / "floe.yaml", project / "out")[0] == "http://127.0.0.1:3301"


def test_the_variable_then_the_option_win(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    record_dev(project / ".floe", "http://127.0.0.1:3300")
    monkeypatch.setenv(URL_ENV, "http://dagster-webserver:80/")
    assert _resolve_url(None, project / "floe.yaml", None) == ("http://dagster-webserver:80", f"${URL_ENV}", None)
    assert _resolve_url("http://other:3000", project / "floe.yaml", None) == ("http://other:3000", "--url", None)
