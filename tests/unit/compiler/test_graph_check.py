"""The compile-time ref-cycle check: names the cycle, and copes with very deep chains."""

from __future__ import annotations

import pytest

from floe.compiler.graph_check import check_no_ref_cycle, find_cycle
from floe.errors import CompileError


def _manifest(parents: dict[str, list[str]]) -> dict[str, object]:
    nodes = {uid: {"name": uid.split(".")[-1], "original_file_path": f"models/{uid.split('.')[-1]}.sql"}
             for uid in parents}
    return {"nodes": nodes, "parent_map": parents}


def test_a_two_model_cycle_is_named_with_its_files() -> None:
    manifest = _manifest({"model.p.a": ["model.p.b"], "model.p.b": ["model.p.a"], "model.p.c": ["model.p.a"]})
    with pytest.raises(CompileError) as raised:
        check_no_ref_cycle(manifest)
    assert str(raised.value).startswith(
        "the dbt project has a ref cycle: a -> b -> a (models/a.sql, models/b.sql)")
    assert raised.value.hint == "remove one of the refs, e.g. ref('b') in models/a.sql"


def test_a_model_reffing_itself_is_a_cycle() -> None:
    assert find_cycle({"model.p.a": ["model.p.a"]}) == ["model.p.a", "model.p.a"]


def test_a_long_cycle_is_found_in_order() -> None:
    parents = {f"m{i}": [f"m{i + 1}"] for i in range(5)} | {"m5": ["m2"]}
    assert find_cycle(parents) == ["m2", "m3", "m4", "m5", "m2"]


def test_a_deep_chain_and_a_diamond_are_no_cycle() -> None:
    chain = {f"m{i}": [f"m{i + 1}"] for i in range(20_000)}  # deeper than Python's recursion limit
    diamond = {"top": ["left", "right"], "left": ["base"], "right": ["base"], "base": []}
    assert find_cycle(chain | diamond) is None
    check_no_ref_cycle(_manifest(chain | diamond))


def test_without_parent_map_depends_on_is_read() -> None:
    manifest = {"nodes": {"model.p.a": {"name": "a", "depends_on": {"nodes": ["model.p.b"]}},
                          "model.p.b": {"name": "b", "depends_on": {"nodes": ["model.p.a"]}}}}
    with pytest.raises(CompileError, match="a -> b -> a"):
        check_no_ref_cycle(manifest)
