"""Writing the Cube model to YAML files and reading it back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from floe.errors import FloeError
from floe.semantic import CUBES_DIR, build_cube_model, read_cube_model, write_cube_model
from floe.semantic.files import GENERATED_HEADER

# The manifest these tests read comes from a real `dbt parse` (see conftest.py).
pytestmark = pytest.mark.process


def test_one_file_per_cube_that_reads_back_as_written(manifest: dict[str, Any], tmp_path: Path) -> None:
    model = build_cube_model(manifest)
    written = write_cube_model(model, tmp_path)
    assert [path.name for path in written] == [f"{cube.name}.yml" for cube in model.cubes]
    assert all(path.parent == tmp_path / CUBES_DIR for path in written)
    orders = (tmp_path / "model" / "cubes" / "orders.yml").read_text()
    assert orders.startswith(GENERATED_HEADER)
    assert yaml.safe_load(orders)["cubes"][0]["name"] == "orders"
    assert read_cube_model(tmp_path) == sorted((cube.to_document()["cubes"][0] for cube in model.cubes),
                                               key=lambda cube: str(cube["name"]))


def test_writing_again_removes_stale_generated_files_only(manifest: dict[str, Any], tmp_path: Path) -> None:
    model = build_cube_model(manifest)
    write_cube_model(model, tmp_path)
    hand_written = tmp_path / CUBES_DIR / "returns.yml"
    hand_written.write_text("cubes:\n  - name: returns\n    sql_table: main.returns\n")
    model.cubes = [cube for cube in model.cubes if cube.name != "products"]
    write_cube_model(model, tmp_path)
    names = sorted(path.name for path in (tmp_path / CUBES_DIR).glob("*.yml"))
    assert names == ["customers.yml", "daily_revenue.yml", "order_items.yml", "orders.yml", "returns.yml"]
    assert "returns" in [cube["name"] for cube in read_cube_model(tmp_path)]


def test_a_hand_written_file_is_never_overwritten(manifest: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / CUBES_DIR).mkdir(parents=True)
    mine = tmp_path / CUBES_DIR / "orders.yml"
    mine.write_text("cubes: []\n")
    with pytest.raises(FloeError, match="hand-written file has the name of a generated cube"):
        write_cube_model(build_cube_model(manifest), tmp_path)
    assert mine.read_text() == "cubes: []\n"


def test_reading_reports_files_that_are_not_cube_models(tmp_path: Path) -> None:
    folder = tmp_path / CUBES_DIR
    folder.mkdir(parents=True)
    (folder / "broken.yml").write_text("cubes: [\n")
    with pytest.raises(FloeError, match=r"broken\.yml: not valid YAML"):
        read_cube_model(tmp_path)
    (folder / "broken.yml").write_text("views: []\n")
    with pytest.raises(FloeError, match=r"broken\.yml: no 'cubes' list"):
        read_cube_model(tmp_path)
