"""``${VAR}``, ``${VAR:-default}`` and ``$$`` in spec values."""

from __future__ import annotations

from typing import Any

import pytest

from floe.errors import SpecIssue
from floe.spec.interpolation import interpolate
from floe.spec.yaml_source import load_yaml_text


def _run(text: str, environ: dict[str, str]) -> tuple[dict[str, Any], list[SpecIssue], set[str]]:
    return interpolate(load_yaml_text(text, "platform.yaml"), environ)


@pytest.mark.parametrize(
    ("value", "environ", "expected"),
    [
        ("${HOST}", {"HOST": "db"}, "db"),
        ("postgres://${HOST}:${PORT}/x", {"HOST": "db", "PORT": "5432"}, "postgres://db:5432/x"),
        ("${HOST:-localhost}", {}, "localhost"),
        ("${HOST:-localhost}", {"HOST": "db"}, "db"),
        ("${HOST:-}", {}, ""),
        ("${HOST}", {"HOST": ""}, ""),  # set but empty is still set
        ("${A:-x:-y}", {}, "x:-y"),
        ("cost: $$5", {}, "cost: $5"),
        ("$${HOST}", {"HOST": "db"}, "${HOST}"),  # escaped: not a reference
        ("$$$${HOST}", {"HOST": "db"}, "$${HOST}"),
        ("price$", {}, "price$"),  # a lone $ stays
        ("$HOST", {"HOST": "db"}, "$HOST"),  # only the braced form is a reference
        ("${HOST}${HOST}", {"HOST": "a"}, "aa"),
    ],
)
def test_substitution(value: str, environ: dict[str, str], expected: str) -> None:
    data, issues, _ = _run(f"v: '{value}'\n", environ)
    assert issues == []
    assert data == {"v": expected}


def test_values_are_substituted_once_not_recursively() -> None:
    data, issues, _ = _run("v: ${A}\n", {"A": "${B}", "B": "no"})
    assert issues == []
    assert data == {"v": "${B}"}


def test_walks_nested_mappings_and_lists_but_not_keys_or_non_strings() -> None:
    text = "${K}: 1\nouter:\n  list: ['${A}', 2, true, {deep: '${A}'}]\n  n: 3\n"
    data, issues, used = _run(text, {"A": "x", "K": "never"})
    assert issues == []
    assert data == {"${K}": 1, "outer": {"list": ["x", 2, True, {"deep": "x"}], "n": 3}}
    assert used == {"A"}


def test_reports_the_names_used_including_defaulted_ones() -> None:
    _, _, used = _run("a: ${ONE}\nb: ${TWO:-2}\nc: $${THREE}\n", {"ONE": "1"})
    assert used == {"ONE", "TWO"}


def test_unset_variable_is_a_located_issue_and_the_text_is_kept() -> None:
    data, issues, used = _run("env:\n  dev:\n    path: 'x/${WAREHOUSE_DIR}/db'\n", {})
    assert data == {"env": {"dev": {"path": "x/${WAREHOUSE_DIR}/db"}}}
    assert used == {"WAREHOUSE_DIR"}
    assert issues == [
        SpecIssue(
            "platform.yaml", 3, 11, "env.dev.path",
            "environment variable 'WAREHOUSE_DIR' is not set",
            "export WAREHOUSE_DIR=... or write ${WAREHOUSE_DIR:-default}",
        )
    ]


def test_every_unset_variable_is_reported() -> None:
    _, issues, _ = _run("a: ${X}\nb: ['${Y}', '${X}']\n", {})
    assert [(i.path, i.line, i.message) for i in issues] == [
        ("a", 1, "environment variable 'X' is not set"),
        ("b[0]", 2, "environment variable 'Y' is not set"),
        ("b[1]", 2, "environment variable 'X' is not set"),
    ]


@pytest.mark.parametrize("body", ["1BAD", "", "A-B", "A B", ":-x", "A:x"])
def test_invalid_references_are_reported(body: str) -> None:
    data, issues, used = _run(f"v: '${{{body}}}'\n", {"A": "a"})
    (issue,) = issues
    assert (issue.line, issue.column, issue.path) == (1, 4, "v")
    assert issue.message == f"invalid variable reference '${{{body}}}'"
    assert "$$" in (issue.hint or "")
    assert data == {"v": f"${{{body}}}"}
    assert used == set()


def test_unterminated_reference_is_left_alone() -> None:
    data, issues, _ = _run("v: '${HOST'\n", {"HOST": "db"})
    assert issues == []
    assert data == {"v": "${HOST"}


def test_source_data_is_not_modified() -> None:
    source = load_yaml_text("v: ${A}\n", "f.yaml")
    interpolate(source, {"A": "x"})
    assert source.data == {"v": "${A}"}
