"""A mesh folder: the enterprise platform.yaml, domain sales, and product folders below it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

PLATFORM = """\
enterprise: {name: acme, version: 1.0.0}
environments:
  dev:
    compute: {type: duckdb, path: .floe/warehouse.duckdb, threads: 1}
    catalog: {type: sql, uri: "sqlite:///shared/catalog.db", warehouse: shared/lake}
    storage: {type: local, path: shared/lake}
"""

DOMAIN = """\
name: sales
version: 1.0.0
enterprise: {name: acme, version: 1.0.0}
"""


@pytest.fixture
def mesh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FLOE_DOMAIN_FILE", raising=False)
    monkeypatch.delenv("FLOE_PLATFORM_FILE", raising=False)
    (tmp_path / "domains" / "sales").mkdir(parents=True)
    (tmp_path / "platform.yaml").write_text(PLATFORM, encoding="utf-8")
    (tmp_path / "domains" / "sales" / "domain.yaml").write_text(DOMAIN, encoding="utf-8")
    return tmp_path


@pytest.fixture
def product(mesh: Path) -> Callable[[str, str], Path]:
    """product(name, product_block) -> floe.yaml of a product with an empty dbt project folder."""

    def make(name: str, block: str) -> Path:
        (mesh / name / "dbt").mkdir(parents=True)
        (mesh / name / "dbt" / "dbt_project.yml").write_text(f"name: {name}\n", encoding="utf-8")
        spec = mesh / name / "floe.yaml"
        spec.write_text(f"name: {name}\ntransforms: [{{path: ./dbt}}]\nproduct:\n"
                        f"  domain: {{name: sales, version: 1.0.0}}\n{block}", encoding="utf-8")
        return spec

    return make
