"""The smallest dbt project worth wrapping: one model, and one in a folder named like dbt's output."""

from __future__ import annotations

from pathlib import Path


def write_small_dbt_project(path: Path, name: str = "shop", extra: str = "") -> Path:
    """Write ``dbt_project.yml`` (plus ``extra`` lines) and two models under ``path``; return it."""
    (path / "models" / "logs").mkdir(parents=True)
    (path / "dbt_project.yml").write_text(f"name: {name}\nversion: '1.0'\nconfig-version: 2\n{extra}")
    (path / "models" / "orders.sql").write_text("select 1 as id")
    # A folder named like a dbt output folder, inside the sources: it is a source too.
    (path / "models" / "logs" / "events.sql").write_text("select 2 as id")
    return path
