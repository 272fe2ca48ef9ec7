"""The tree in floe.errors' docstring shows every FloeError subclass that floe defines."""

from __future__ import annotations

import ast
from pathlib import Path

import floe.errors

SRC = Path(floe.errors.__file__).resolve().parent


def _error_classes() -> dict[str, str]:
    """Every class under src/floe that derives from FloeError, directly or not: name -> module file.

    Read from the source (no import): a subclass in a module nothing imported yet still counts.
    """
    bases: dict[str, set[str]] = {}
    files: dict[str, str] = {}
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                names = {base.id if isinstance(base, ast.Name) else base.attr
                         for base in node.bases if isinstance(base, ast.Name | ast.Attribute)}
                bases[node.name] = names
                files[node.name] = str(path.relative_to(SRC.parent))
    found: dict[str, str] = {}
    frontier = {"FloeError"}
    while frontier:
        children = {name for name, parents in bases.items() if parents & frontier and name not in found}
        found.update({name: files[name] for name in children})
        frontier = children
    return found


def test_the_tree_lists_every_subclass() -> None:
    classes = _error_classes()
    tree = floe.errors.__doc__ or ""
    assert {"SpecError", "LakehouseError", "SyntheticConfigError"} <= set(classes)  # the walk finds them
    missing = {name: file for name, file in classes.items() if f" {name} " not in tree}
    assert not missing, f"add these to the tree in floe/errors.py: {missing}"


def test_the_tree_lists_nothing_that_is_gone() -> None:
    classes = set(_error_classes())
    # A tree entry is the first word after the branch characters (├── / └──) of a line.
    entries = [line.split("── ", 1)[1].split() for line in (floe.errors.__doc__ or "").splitlines() if "── " in line]
    listed = {words[0] for words in entries if words}
    assert listed - {"FloeError"} == classes
