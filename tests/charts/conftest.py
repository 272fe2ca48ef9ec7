"""Fixtures of the chart tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.charts.helm_support import build_charts


@pytest.fixture(scope="session")
def charts_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of charts/ with floe-runtime's local dependencies built."""
    return build_charts(tmp_path_factory.mktemp("charts") / "charts")
