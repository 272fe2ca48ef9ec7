"""Safe YAML loading: marks for every key and value, duplicates, size, depth and alias limits."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from floe.errors import SpecError, SpecIssue
from floe.spec import yaml_source
from floe.spec.yaml_source import (
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_NODES,
    Mark,
    format_path,
    load_yaml_file,
    load_yaml_text,
)

# What "fails fast" means for hostile input: the behaviour is the error at the budget; time only
# tells a bounded failure from an unbounded one (which would take hours or exhaust memory). The
# bound is orders of magnitude above the ~0.1 s these take, so a loaded machine cannot fail it.
BOUNDED_S = 30


def _only_issue(text: str, file: str = "f.yaml") -> SpecIssue:
    with pytest.raises(SpecError) as caught:
        load_yaml_text(text, file)
    assert len(caught.value.issues) == 1, caught.value.issues
    return caught.value.issues[0]


def _billion_laughs(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, levels):
        refs = ",".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{refs}]")
    return "\n".join(lines) + "\n"


# --- data and marks -------------------------------------------------------------------


def test_builds_plain_data_with_one_based_marks() -> None:
    source = load_yaml_text("name: shop\nitems:\n  - a\n  - {b: 1}\n", "f.yaml")
    assert source.data == {"name": "shop", "items": ["a", {"b": 1}]}
    assert source.key_marks[("name",)] == Mark(1, 1)
    assert source.value_marks[("name",)] == Mark(1, 7)
    assert source.value_marks[("items", 0)] == Mark(3, 5)
    assert source.value_marks[("items", 1)] == Mark(4, 5)
    assert source.key_marks[("items", 1, "b")] == Mark(4, 6)
    assert source.value_marks[("items", 1, "b")] == Mark(4, 9)


def test_keys_keep_the_text_the_user_wrote() -> None:
    # YAML 1.1 would turn 'on' into True and '1' into 1: spec keys are names, so they stay text.
    source = load_yaml_text("on: 1\n1: x\nnull: y\n", "f.yaml")
    assert source.data == {"on": 1, "1": "x", "null": "y"}


def test_scalars_use_yaml_types() -> None:
    source = load_yaml_text("a: 1\nb: true\nc: 1.5\nd: ~\ne: '1'\n", "f.yaml")
    assert source.data == {"a": 1, "b": True, "c": 1.5, "d": None, "e": "1"}


def test_locate_falls_back_to_the_nearest_parent() -> None:
    source = load_yaml_text("outer:\n  inner: 1\n", "f.yaml")
    assert source.locate(("outer", "inner", "missing")) == Mark(2, 10)
    assert source.locate(("outer", "inner", "missing"), prefer_key=True) == Mark(2, 3)
    assert source.locate(("nowhere",)) == Mark(1, 1)  # the root mapping


def test_issue_is_located_and_path_formatted() -> None:
    source = load_yaml_text("jobs:\n  - name: x\n", "floe.yaml")
    issue = source.issue(("jobs", 0, "name"), "bad", "fix it")
    assert issue == SpecIssue("floe.yaml", 2, 11, "jobs[0].name", "bad", "fix it")
    assert issue.render() == "floe.yaml:2:11  jobs[0].name: bad\n    hint: fix it"


def test_format_path() -> None:
    assert format_path(()) == ""
    assert format_path(("a", 0, "b", 12)) == "a[0].b[12]"
    assert format_path((0, "a")) == "[0].a"


def test_merge_keys_fill_in_without_overriding() -> None:
    source = load_yaml_text("base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\n", "f.yaml")
    assert source.data["use"] == {"x": 1, "y": 3}


def test_merge_key_must_refer_to_a_mapping() -> None:
    issue = _only_issue("base: &b [1, 2]\nuse:\n  <<: *b\n")
    assert (issue.line, issue.column) == (1, 11)  # a list is a list of sources: '1' is the culprit
    assert "merge key" in issue.message


# --- refusals ---------------------------------------------------------------------------


def test_duplicate_keys_are_all_reported_with_both_lines() -> None:
    with pytest.raises(SpecError) as caught:
        load_yaml_text("a: 1\nb: 2\na: 3\nnested:\n  k: 1\n  k: 2\n", "f.yaml")
    first, second = caught.value.issues
    assert (first.line, first.column, first.path) == (3, 1, "a")
    assert "duplicate key 'a' (first defined at line 1)" in first.message
    assert (second.line, second.column, second.path) == (6, 3, "nested.k")
    assert "first defined at line 5" in second.message


def test_syntax_error_is_located() -> None:
    issue = _only_issue("name: [shop\nversion: 1\n")
    assert issue.message.startswith("YAML syntax error:")
    assert issue.line == 2 and issue.column is not None
    assert issue.hint


def test_tab_indentation_is_a_located_syntax_error() -> None:
    issue = _only_issue("name: shop\n\tversion: 1\n")
    assert (issue.line, issue.column) == (2, 1)
    assert "'\\t'" in issue.message


def test_second_document_is_refused_with_the_whole_sentence() -> None:
    issue = _only_issue("a: 1\n---\nb: 2\n")
    assert (issue.line, issue.column) == (2, 1)
    assert "expected a single document in the stream, but found another document" in issue.message


def test_python_tags_on_scalars_are_refused_not_constructed() -> None:
    issue = _only_issue("a: !!python/name:os.system\n")
    assert (issue.line, issue.column) == (1, 4)
    assert issue.message.startswith("unsupported value:")
    assert "python/name:os.system" in issue.message
    assert "tag" in (issue.hint or "")


@pytest.mark.parametrize(
    ("value", "tag"),
    [
        ("!!python/object/apply:os.system ['true']", "tag:yaml.org,2002:python/object/apply:os.system"),
        ("!!set {x, y}", "tag:yaml.org,2002:set"),
        ("!custom [1]", "!custom"),
    ],
)
def test_tags_on_collections_are_refused_not_dropped(value: str, tag: str) -> None:
    issue = _only_issue(f"name: shop\nb: {value}\n")
    assert (issue.line, issue.column, issue.path) == (2, 4, "b")
    assert issue.message == f"unsupported value: the tag '{tag}' is not allowed"


@pytest.mark.parametrize("text", ["", "   \n\n", "# only\n  # comments\n", "---\n", "---\n...\n", "~\n"])
def test_empty_files_are_refused(text: str) -> None:
    issue = _only_issue(text)
    assert issue.message == "file is empty"
    assert (issue.line, issue.column) == (None, None)
    assert "floe init" in (issue.hint or "")


@pytest.mark.parametrize(
    ("text", "kind"),
    [("- a\n- b\n", "a list"), ("just text\n", "a single value ('just text')"), ("42\n", "a single value (42)")],
)
def test_top_level_must_be_a_mapping(text: str, kind: str) -> None:
    issue = _only_issue(text)
    assert (issue.line, issue.column) == (1, 1)
    assert issue.message == f"expected a mapping of fields at the top, found {kind}"


def test_non_scalar_keys_are_refused() -> None:
    issue = _only_issue("? [a, b]\n: 1\n")
    assert (issue.line, issue.column) == (1, 3)
    assert issue.message == "mapping keys must be plain scalars"


def test_text_over_the_size_limit_is_refused_before_parsing() -> None:
    text = "a: [" * 10 + "x" * MAX_FILE_BYTES
    started = time.perf_counter()
    issue = _only_issue(text)
    assert time.perf_counter() - started < BOUNDED_S
    assert issue.message == (
        f"file is {len(text):,} bytes; spec files are limited to {MAX_FILE_BYTES:,} bytes (1 MiB)"
    )


def test_billion_laughs_stops_at_the_node_budget_quickly() -> None:
    started = time.perf_counter()
    issue = _only_issue(_billion_laughs())
    assert time.perf_counter() - started < BOUNDED_S
    assert issue.message == f"the document expands to more than {MAX_NODES:,} values"
    assert "alias bomb" in (issue.hint or "")
    assert issue.line is not None


def test_moderate_alias_use_is_fine() -> None:
    source = load_yaml_text(_billion_laughs(levels=3), "f.yaml")
    assert len(source.data["a2"]) == 9 and len(source.data["a2"][0]) == 9


def test_nested_merges_of_empty_mappings_are_charged() -> None:
    # Each level merges the previous one nine times: 9**12 builds of '{}' if merges were free.
    lines = ["m0: &m0 {}"]
    for level in range(1, 13):
        refs = ",".join([f"*m{level - 1}"] * 9)
        lines.append(f"m{level}: &m{level} {{<<: [{refs}]}}")
    started = time.perf_counter()
    issue = _only_issue("\n".join(lines) + "\n")
    assert time.perf_counter() - started < BOUNDED_S
    assert issue.message == f"the document expands to more than {MAX_NODES:,} values"


def test_deep_block_nesting_is_refused_at_the_limit() -> None:
    text = "".join("  " * level + f"k{level}:\n" for level in range(MAX_DEPTH + 5))
    issue = _only_issue(text)
    assert issue.message == f"nesting deeper than {MAX_DEPTH} levels"
    # The root mapping is level 0; the mapping at level MAX_DEPTH + 1 starts on that key's line.
    assert (issue.line, issue.column) == (MAX_DEPTH + 2, 2 * (MAX_DEPTH + 1) + 1)


def test_nesting_at_the_limit_is_accepted() -> None:
    text = "a: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "\n"
    load_yaml_text(text, "f.yaml")


@pytest.mark.parametrize("levels", [MAX_DEPTH + 1, 5_000, 400_000])
def test_deep_flow_nesting_fails_fast_without_recursion_error(levels: int) -> None:
    text = "a: " + "[" * levels + "]" * levels + "\n"
    started = time.perf_counter()
    issue = _only_issue(text)
    assert time.perf_counter() - started < BOUNDED_S
    assert issue.message == f"nesting deeper than {MAX_DEPTH} levels"
    assert (issue.line, issue.column) == (1, 4 + MAX_DEPTH)


def test_aliases_cannot_nest_past_the_depth_limit() -> None:
    half = MAX_DEPTH // 2 + 2
    text = "a: &a " + "[" * half + "]" * half + "\nb: " + "[" * half + "*a" + "]" * half + "\n"
    issue = _only_issue(text)
    assert issue.message == f"nesting deeper than {MAX_DEPTH} levels"


# --- files ------------------------------------------------------------------------------


def test_load_file_uses_the_display_name(tmp_path: Path) -> None:
    path = tmp_path / "floe.yaml"
    path.write_text("a: 1\n", encoding="utf-8")
    assert load_yaml_file(path, "floe.yaml").file == "floe.yaml"
    assert load_yaml_file(path).file == str(path)


def test_missing_file_uses_the_given_hint(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        load_yaml_file(tmp_path / "platform.yaml", "platform.yaml", missing_hint="pass --platform PATH")
    (issue,) = caught.value.issues
    assert issue == SpecIssue("platform.yaml", None, None, "", "file not found", "pass --platform PATH")


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as caught:
        load_yaml_file(tmp_path, "floe.yaml")
    assert caught.value.issues[0].message == "is a directory, not a YAML file"


def test_large_file_is_refused_from_its_size_alone(tmp_path: Path) -> None:
    path = tmp_path / "floe.yaml"
    with path.open("wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)  # sparse: never read
    with pytest.raises(SpecError) as caught:
        load_yaml_file(path, "floe.yaml")
    assert caught.value.issues[0].message == (
        f"file is {MAX_FILE_BYTES + 1:,} bytes; spec files are limited to {MAX_FILE_BYTES:,} bytes (1 MiB)"
    )


def test_the_limit_is_inclusive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yaml_source, "MAX_FILE_BYTES", 64)  # parsing a real MiB takes seconds
    path = tmp_path / "floe.yaml"
    path.write_text("a: 1\n#" + "x" * (64 - 7) + "\n", encoding="utf-8")
    assert load_yaml_file(path).data == {"a": 1}
    path.write_text("a: 1\n#" + "x" * (64 - 6) + "\n", encoding="utf-8")
    with pytest.raises(SpecError, match="file is 65 bytes"):
        load_yaml_file(path)
    with pytest.raises(SpecError, match="file is 65 bytes"):
        load_yaml_text(path.read_text(encoding="utf-8"), "f.yaml")


def test_non_utf8_bytes_are_located_by_character(tmp_path: Path) -> None:
    path = tmp_path / "floe.yaml"
    path.write_bytes(b"name: shop\ndescription: d\xc3\xa9j\xc3\xa0 \xe9t\xe9\n")  # 'déjà ' then Latin-1
    with pytest.raises(SpecError) as caught:
        load_yaml_file(path, "floe.yaml")
    (issue,) = caught.value.issues
    # 'déjà ' counts five characters although 'é' and 'à' take two bytes each.
    assert (issue.line, issue.column) == (2, 19)
    assert issue.message == "not UTF-8 text: cannot decode byte 0xe9"
    assert issue.hint == "save the file as UTF-8"


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "floe.yaml"
    path.write_bytes(b"\xef\xbb\xbfname: shop\n")
    assert load_yaml_file(path).data == {"name": "shop"}
