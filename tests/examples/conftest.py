"""Fixtures of the example tests: the charts, built once (the chart tests' own helper)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def charts_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of charts/ with floe-runtime's dependencies built, the official chart among them
    (reference copy; the tests using it skip, saying why, when ../shared is absent)."""
    from tests.charts.helm_support import build_charts, require_official_chart

    require_official_chart()
    return build_charts(tmp_path_factory.mktemp("charts") / "charts", with_official_chart=True)
