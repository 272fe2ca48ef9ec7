"""floe's layer rule ([tool.importlinter] in pyproject.toml) covers every package of floe.

import-linter checks only the packages a contract names: a new top-level package left out of the
layers could import anything. ``make lint`` runs the contract itself.
"""

from __future__ import annotations

import re
from pathlib import Path

import tomllib

import floe

ROOT = Path(__file__).resolve().parents[2]


def _layers() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    (contract,) = [c for c in config["contracts"] if c["type"] == "layers"]
    return list(contract["layers"])


def test_every_top_level_package_and_module_of_floe_sits_in_a_layer() -> None:
    named = {name for layer in _layers() for name in re.split(r"\s*[|:]\s*", layer)}
    package = Path(floe.__file__).parent
    present = {f"floe.{child.name}" for child in package.iterdir()
               if child.is_dir() and (child / "__init__.py").is_file()}
    present |= {f"floe.{child.stem}" for child in package.glob("*.py") if child.stem not in ("__init__", "__main__")}
    assert present - named == set(), "add these to a layer in [tool.importlinter] (pyproject.toml)"
    assert named - present == set(), "these layers name no package of floe"


def test_the_layers_put_the_cli_on_top_and_the_contract_below_what_reads_it() -> None:
    layers = _layers()
    position = {name: index for index, layer in enumerate(layers) for name in re.split(r"\s*[|:]\s*", layer)}
    assert position["floe.cli"] == 0
    for reader in ("floe.orchestration", "floe.observability", "floe.preflight", "floe.platform", "floe.demo"):
        assert position[reader] < position["floe.contract"] < position["floe.spec"]
    for user in ("floe.observability", "floe.preflight", "floe.platform", "floe.demo"):
        assert position[user] > position["floe.orchestration"], f"{user} must sit below orchestration"
