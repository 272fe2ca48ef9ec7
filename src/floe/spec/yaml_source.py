"""Safe YAML loading that remembers where every value came from.

PyYAML's composer gives us nodes with marks; we build plain Python data from them ourselves so
that we can (a) record the line and column of every key and value for error messages,
(b) reject duplicate keys, which PyYAML silently overwrites, and (c) bound the work an alias
bomb can cause: aliases are expanded against a node budget instead of trusting the input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from floe.errors import SpecError, SpecIssue

MAX_FILE_BYTES = 1024 * 1024
"""Spec files are configuration: anything larger is a mistake (or an attack)."""

MAX_NODES = 100_000
"""Upper bound on values built from one file, aliases expanded; stops billion-laughs input."""

MAX_DEPTH = 64

PathKey = tuple[str | int, ...]


@dataclass(frozen=True)
class Mark:
    """A 1-based position in a file."""

    line: int
    column: int


@dataclass
class YamlSource:
    """Data loaded from one YAML file plus the position of every key and value.

    Attributes:
        file: The file name as it should appear in messages.
        data: The loaded mapping.
        value_marks: Position of the value at each path.
        key_marks: Position of the key that introduces each path (mappings only).
    """

    file: str
    data: dict[str, Any]
    value_marks: dict[PathKey, Mark] = field(default_factory=dict)
    key_marks: dict[PathKey, Mark] = field(default_factory=dict)

    def locate(self, path: PathKey, *, prefer_key: bool = False) -> Mark | None:
        """Return the best known position for ``path``, falling back to its parents."""
        probe = tuple(path)
        while True:
            first, second = (
                (self.key_marks, self.value_marks) if prefer_key else (self.value_marks, self.key_marks)
            )
            mark = first.get(probe) or second.get(probe)
            if mark is not None:
                return mark
            if not probe:
                return None
            probe = probe[:-1]

    def issue(
        self, path: PathKey, message: str, hint: str | None = None, *, prefer_key: bool = False
    ) -> SpecIssue:
        """Build a located :class:`SpecIssue` for ``path``."""
        mark = self.locate(path, prefer_key=prefer_key)
        return SpecIssue(
            file=self.file,
            line=mark.line if mark else None,
            column=mark.column if mark else None,
            path=format_path(path),
            message=message,
            hint=hint,
        )


def format_path(path: PathKey) -> str:
    """Render a path as ``a.b[0].c``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text


def _mark(node: yaml.Node) -> Mark:
    return Mark(node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder:
    """Turns a composed node graph into Python data with marks, within a node budget."""

    def __init__(self, file: str, loader: yaml.SafeLoader) -> None:
        self.file = file
        self.loader = loader
        self.budget = MAX_NODES
        self.value_marks: dict[PathKey, Mark] = {}
        self.key_marks: dict[PathKey, Mark] = {}
        self.issues: list[SpecIssue] = []

    def _fail(self, node: yaml.Node, message: str, hint: str | None = None) -> SpecError:
        mark = _mark(node)
        return SpecError([SpecIssue(self.file, mark.line, mark.column, "", message, hint)])

    def build(self, node: yaml.Node, path: PathKey, depth: int = 0) -> Any:
        self.budget -= 1
        if self.budget < 0:
            raise self._fail(
                node,
                f"the document expands to more than {MAX_NODES:,} values",
                "this looks like an alias bomb; remove the nested anchors/aliases",
            )
        if depth > MAX_DEPTH:
            raise self._fail(node, f"nesting deeper than {MAX_DEPTH} levels")
        self.value_marks.setdefault(path, _mark(node))
        if isinstance(node, yaml.ScalarNode):
            return self.loader.construct_object(node, deep=False)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        if isinstance(node, yaml.MappingNode):
            return self._build_mapping(node, path, depth)
        raise self._fail(node, f"unsupported YAML node {type(node).__name__}")

    def _build_mapping(self, node: yaml.MappingNode, path: PathKey, depth: int) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        first_seen: dict[Any, Mark] = {}
        merged: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                merged.update(self._merge_sources(value_node, path, depth))
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                mark = _mark(key_node)
                self.issues.append(
                    SpecIssue(self.file, mark.line, mark.column, format_path(path),
                              "mapping keys must be plain scalars")
                )
                continue
            # Keys are names in a spec: keep the text the user wrote ('on', '1', 'null').
            key = key_node.value
            mark = _mark(key_node)
            if key in first_seen:
                first = first_seen[key]
                self.issues.append(
                    SpecIssue(
                        self.file, mark.line, mark.column, format_path((*path, key)),
                        f"duplicate key '{key}' (first defined at line {first.line})",
                        "remove one of the two; YAML keeps only the last and floe refuses to guess",
                    )
                )
                continue
            first_seen[key] = mark
            self.key_marks[(*path, key)] = mark
            result[key] = self.build(value_node, (*path, key), depth + 1)
        for key, value in merged.items():
            result.setdefault(key, value)
        return result

    def _merge_sources(self, node: yaml.Node, path: PathKey, depth: int) -> dict[Any, Any]:
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        merged: dict[Any, Any] = {}
        for source in sources:
            if not isinstance(source, yaml.MappingNode):
                raise self._fail(source, "a merge key ('<<') must refer to a mapping")
            for key, value in self._build_mapping(source, path, depth + 1).items():
                merged.setdefault(key, value)
        return merged


def load_yaml_text(text: str, file: str) -> YamlSource:
    """Parse YAML text into a :class:`YamlSource`; every problem is a located SpecError."""
    if len(text.encode("utf-8", errors="replace")) > MAX_FILE_BYTES:
        size_mib = len(text.encode("utf-8", errors="replace")) / (1024 * 1024)
        raise SpecError([SpecIssue(file, None, None, "",
                                   f"file is {size_mib:.1f} MiB; spec files are limited to "
                                   f"{MAX_FILE_BYTES // (1024 * 1024)} MiB",
                                   "a spec describes a pipeline; move data into the dbt project")])
    if not text.strip() or all(
        not line.strip() or line.lstrip().startswith("#") for line in text.splitlines()
    ):
        raise SpecError([SpecIssue(file, None, None, "", "file is empty",
                                   "run 'floe init' to create a working example")])
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            raise SpecError([SpecIssue(file, None, None, "", "file is empty",
                                       "run 'floe init' to create a working example")])
        builder = _Builder(file, loader)
        data = builder.build(root, ())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        raise SpecError([
            SpecIssue(file, mark.line + 1 if mark else None, mark.column + 1 if mark else None,
                      "", f"YAML syntax error: {problem}",
                      "check indentation and quoting around this position")
        ]) from None
    except yaml.YAMLError as exc:
        raise SpecError([SpecIssue(file, None, None, "", f"YAML error: {exc}")]) from None
    finally:
        loader.dispose()
    if builder.issues:
        raise SpecError(builder.issues)
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"a single value ({data!r})"
        raise SpecError([SpecIssue(file, 1, 1, "", f"expected a mapping of fields at the top, found {kind}")])
    return YamlSource(file, data, builder.value_marks, builder.key_marks)


def load_yaml_file(path: Path, display_name: str | None = None) -> YamlSource:
    """Read and parse one spec file; missing or unreadable files are located SpecErrors."""
    name = display_name or str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise SpecError([SpecIssue(name, None, None, "",
                                       f"file is {size / (1024 * 1024):.1f} MiB; spec files are "
                                       f"limited to {MAX_FILE_BYTES // (1024 * 1024)} MiB")])
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SpecError([SpecIssue(name, None, None, "", "file not found",
                                   "run 'floe init NAME' to create a project, or pass -f PATH")]) from None
    except IsADirectoryError:
        raise SpecError([SpecIssue(name, None, None, "", "is a directory, not a YAML file")]) from None
    except OSError as exc:
        raise SpecError([SpecIssue(name, None, None, "", f"cannot read file: {exc.strerror}")]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError([SpecIssue(name, None, None, "",
                                   f"not UTF-8 text (byte {exc.start})", "save the file as UTF-8")]) from None
    return load_yaml_text(text, name)
