"""demo/ is the ecommerce template rendered as project 'demo': browsable, runnable, never stale.

Regenerate it with ``make generate`` after changing the template.
"""

from __future__ import annotations

from pathlib import Path

from floe.scaffold import init_project

REPO = Path(__file__).resolve().parents[2]


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".floe" not in p.parts and "target" not in p.parts and "logs" not in p.parts}


def test_demo_folder_is_the_rendered_ecommerce_template(tmp_path: Path) -> None:
    rendered = init_project(tmp_path / "demo", template="ecommerce").root
    assert _files(REPO / "demo") == _files(rendered), "demo/ is stale: run 'make generate'"
