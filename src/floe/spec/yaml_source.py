"""Safe YAML loading that remembers where every value came from.

PyYAML's composer gives us nodes with marks; we build plain Python data from them ourselves so
that we can (a) record the line and column of every key and value for error messages,
(b) reject duplicate keys, which PyYAML silently overwrites, and (c) bound the work an alias
bomb can cause: aliases are expanded against a node budget instead of trusting the input.
Reading is bounded too, in bytes and (for pipes and devices, which have no size) in time.
"""

from __future__ import annotations

import errno
import os
import re
import selectors
import stat
import sys
import time
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

PIPE_WAIT_SECONDS = 10.0
"""How long a pipe or device may take to deliver a whole spec (``--platform <(cat ...)``).

A named pipe nobody writes to would otherwise block forever; a command that produces the spec
(``<(sops -d platform.yaml)``) has this long to finish.
"""

_READ_CHUNK = 64 * 1024

PathKey = tuple[str | int, ...]

_PLAIN_COLLECTION_TAGS = frozenset({"tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"})


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


class _TooDeep(Exception):
    def __init__(self, mark: yaml.Mark | None) -> None:
        self.mark = mark


class _BoundedLoader(yaml.SafeLoader):
    """A SafeLoader whose composer refuses collections nested deeper than MAX_DEPTH.

    PyYAML composes recursively, a few Python frames per level: ``[[[[...`` in a 1 MiB file
    would raise RecursionError (after seconds of work) before the builder's own check runs.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0  # collections open around the one being composed; the root one is 1

    def _enter(self) -> None:
        self._depth += 1
        if self._depth > MAX_DEPTH + 1:  # the same limit as _Builder, whose root is at depth 0
            raise _TooDeep(self.peek_event().start_mark)  # type: ignore[no-untyped-call]

    def compose_sequence_node(self, anchor: dict[Any, yaml.Node]) -> yaml.SequenceNode:
        self._enter()
        try:
            return super().compose_sequence_node(anchor)
        finally:
            self._depth -= 1

    def compose_mapping_node(self, anchor: dict[Any, yaml.Node]) -> yaml.MappingNode:
        self._enter()
        try:
            return super().compose_mapping_node(anchor)
        finally:
            self._depth -= 1


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

    def _spend(self, node: yaml.Node) -> None:
        self.budget -= 1
        if self.budget < 0:
            raise self._fail(
                node,
                f"the document expands to more than {MAX_NODES:,} values",
                "this looks like an alias bomb; remove the nested anchors/aliases",
            )

    def build(self, node: yaml.Node, path: PathKey, depth: int = 0) -> Any:
        self._spend(node)
        if depth > MAX_DEPTH:
            raise self._fail(node, f"nesting deeper than {MAX_DEPTH} levels")
        self.value_marks.setdefault(path, _mark(node))
        if isinstance(node, yaml.ScalarNode):
            value = self.loader.construct_object(node, deep=False)
            if isinstance(value, str) and "\0" in value:
                self.issues.append(_nul_issue(self.file, node, format_path(path)))
            return value
        if node.tag not in _PLAIN_COLLECTION_TAGS:
            # Scalars with a foreign tag fail in construct_object; collections would silently
            # lose theirs (!!set, !!omap, !!python/...), so refuse them the same way.
            mark = _mark(node)
            self.issues.append(SpecIssue(self.file, mark.line, mark.column, format_path(path),
                                         f"unsupported value: the tag '{node.tag}' is not allowed",
                                         "spec files hold plain YAML values; remove the '!' tag"))
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
            if "\0" in key:
                self.issues.append(_nul_issue(self.file, key_node, format_path(path)))
                continue
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
            # Merged mappings are built again at every use: charge them, or nested merges of
            # empty mappings would do exponential work without spending any budget.
            self._spend(source)
            for key, value in self._build_mapping(source, path, depth + 1).items():
                merged.setdefault(key, value)
        return merged


def _nul_issue(file: str, node: yaml.Node, path: str) -> SpecIssue:
    # A "\0" escape is valid YAML, but no name, path or URL can hold it: the operating system
    # refuses it later with a bare "embedded null byte".
    mark = _mark(node)
    return SpecIssue(file, mark.line, mark.column, path, "the text contains a NUL character (\\0)",
                     "remove the \\0 escape from this value")


def _too_large(file: str, size: int | None, kind: str = "file") -> SpecError:
    # Bytes, not MiB: "1.0 MiB; limited to 1 MiB" would read as a contradiction. A pipe or a
    # device has no size: it is read up to one byte past the limit, so "more than" is all we know.
    if size is not None:
        amount = f"is {size:,} bytes"
    else:
        amount = f"{'is' if kind == 'file' else 'gives'} more than {MAX_FILE_BYTES:,} bytes"
    return SpecError([SpecIssue(file, None, None, "",
                                f"{kind} {amount}; spec files are limited to {MAX_FILE_BYTES:,} bytes (1 MiB)",
                                "a spec describes a pipeline; move data into the dbt project"
                                if kind == "file" else "pass the spec file itself, or a pipe that ends")])


def _empty(file: str) -> SpecError:
    return SpecError([SpecIssue(file, None, None, "", "file is empty",
                                "run 'floe init' to create a working example")])


_VARIABLE = re.compile(r"\$\{[^}\s]*\}?")


def _yaml_error(exc: yaml.MarkedYAMLError, file: str, text: str) -> SpecError:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or "invalid YAML"
    if exc.context and exc.problem and exc.problem.startswith("but "):
        problem = f"{exc.context}, {exc.problem}"  # "expected a single document..., but found another"
    if isinstance(exc, yaml.constructor.ConstructorError):
        message, hint = f"unsupported value: {problem}", "spec files hold plain YAML values; remove the '!' tag"
    else:
        message = f"YAML syntax error: {problem}"
        hint = _flow_variable_hint(exc, text) or "check indentation and quoting around this position"
    return SpecError([SpecIssue(file, mark.line + 1 if mark else None, mark.column + 1 if mark else None,
                                "", message, hint)])


def _flow_variable_hint(exc: yaml.MarkedYAMLError, text: str) -> str | None:
    """The usual cause of a syntax error in ``{type: postgres, host: ${PGHOST}}``: the braces.

    Inside ``{...}`` or ``[...]`` a brace ends or opens a collection, so an unquoted ``${VAR}``
    breaks the line; in block style (``host: ${PGHOST}``) it is fine.
    """
    if "flow" not in (exc.context or "") or exc.problem_mark is None:
        return None
    lines = text.splitlines()
    line = exc.problem_mark.line
    found = _VARIABLE.search(lines[line]) if line < len(lines) else None
    if found is None:
        return None
    variable = found.group(0)
    return (f"inside {{...}} or [...], quote a ${{VAR}} reference: \"{variable}\" "
            "(or write the mapping in block style, one key per line)")


def _reader_error(exc: yaml.reader.ReaderError, file: str, text: str) -> SpecError:
    """A character YAML does not allow (a NUL, a control character), located in the text."""
    before = text[: exc.position].split("\n")
    character = exc.character if isinstance(exc.character, int) else ord(exc.character)
    return SpecError([SpecIssue(file, len(before), len(before[-1]) + 1, "",
                                f"unacceptable character U+{character:04X}: {exc.reason}",
                                "a spec is text: remove the character (is this a binary file?)")])


def load_yaml_text(text: str, file: str) -> YamlSource:
    """Parse YAML text into a :class:`YamlSource`; every problem is a located SpecError."""
    size = len(text.encode("utf-8", errors="replace"))
    if size > MAX_FILE_BYTES:
        raise _too_large(file, size)
    if not text.strip() or all(
        not line.strip() or line.lstrip().startswith("#") for line in text.splitlines()
    ):
        raise _empty(file)
    try:
        loader = _BoundedLoader(text)  # the reader refuses unprintable characters (a NUL) right here
    except yaml.reader.ReaderError as exc:
        raise _reader_error(exc, file, text) from None
    try:
        root = loader.get_single_node()
        if root is None:
            raise _empty(file)
        builder = _Builder(file, loader)
        data = builder.build(root, ())
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(exc, file, text) from None
    except _TooDeep as exc:
        mark = exc.mark
        raise SpecError([SpecIssue(file, mark.line + 1 if mark else None, mark.column + 1 if mark else None,
                                   "", f"nesting deeper than {MAX_DEPTH} levels")]) from None
    except yaml.YAMLError as exc:
        raise SpecError([SpecIssue(file, None, None, "", f"YAML error: {exc}")]) from None
    finally:
        loader.dispose()
    if builder.issues:
        raise SpecError(builder.issues)
    if data is None:  # '---' alone, or a lone '~': a document with nothing in it
        raise _empty(file)
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"a single value ({data!r})"
        raise SpecError([SpecIssue(file, 1, 1, "", f"expected a mapping of fields at the top, found {kind}")])
    return YamlSource(file, data, builder.value_marks, builder.key_marks)


def load_yaml_file(path: Path, display_name: str | None = None, *, missing_hint: str | None = None) -> YamlSource:
    """Read and parse one spec file; missing or unreadable files are located SpecErrors.

    Reading is bounded whatever the file claims to be: a regular file over the limit is refused
    from its size, anything else (a pipe from ``<(...)``, a named pipe, ``/dev/zero``) is read
    up to one byte past the limit and for at most :data:`PIPE_WAIT_SECONDS`.

    Args:
        path: The file to read.
        display_name: The name to show in messages; defaults to ``path``.
        missing_hint: What to suggest when the file does not exist.
    """
    name = display_name or str(path)
    raw = _read_bounded(Path(path), name, missing_hint)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        # Everything before the first bad byte decoded, so line and column count characters.
        before = raw[: exc.start].decode("utf-8").split("\n")
        raise SpecError([SpecIssue(name, len(before), len(before[-1]) + 1, "",
                                   f"not UTF-8 text: cannot decode byte 0x{raw[exc.start]:02x}",
                                   "save the file as UTF-8")]) from None
    return load_yaml_text(text, name)


def _read_bounded(path: Path, name: str, missing_hint: str | None) -> bytes:
    def problem(message: str, hint: str | None = None) -> SpecError:
        return SpecError([SpecIssue(name, None, None, "", message, hint)])

    try:
        # O_NONBLOCK: opening a named pipe for reading otherwise waits until a writer comes.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        hint = missing_hint or "run 'floe init NAME' to create a project"
        if path.is_symlink():
            raise problem(f"is a symbolic link to '{os.readlink(path)}', which does not exist", hint) from None
        raise problem("file not found", hint) from None
    except IsADirectoryError:
        raise problem("is a directory, not a YAML file") from None
    except ValueError:  # os.open refuses a path with a NUL byte before asking the system
        raise problem("the path contains a NUL character (\\0)", "give the file's real path") from None
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # a Unix socket: nothing to read from
            raise problem("is a socket, not a YAML file") from None
        raise problem(f"cannot read file: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        mode = info.st_mode
        if stat.S_ISDIR(mode):
            raise problem("is a directory, not a YAML file")
        if stat.S_ISREG(mode):
            if info.st_size > MAX_FILE_BYTES:
                raise _too_large(name, info.st_size)
            # The size is a hint only (/proc files say 0, a file may grow): read with the bound.
            raw = _read_file(fd)
            if len(raw) > MAX_FILE_BYTES:
                raise _too_large(name, None)
            return raw
        kind = "the pipe" if stat.S_ISFIFO(mode) else "the device"
        return _read_stream(fd, name, kind)
    except OSError as exc:
        raise problem(f"cannot read file: {exc.strerror}") from None
    finally:
        os.close(fd)


def _read_file(fd: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while total <= MAX_FILE_BYTES:
        chunk = os.read(fd, min(_READ_CHUNK, MAX_FILE_BYTES + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def _read_stream(fd: int, name: str, kind: str) -> bytes:
    """Read a pipe or a device to its end, within the size limit and :data:`PIPE_WAIT_SECONDS`."""
    deadline = time.monotonic() + PIPE_WAIT_SECONDS
    chunks: list[bytes] = []
    total = 0
    # poll, not epoll: epoll refuses devices such as /dev/zero; macOS's poll refuses them too.
    selector_class = selectors.PollSelector if sys.platform.startswith("linux") else selectors.SelectSelector
    with selector_class() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                what = "nothing arrived from" if not chunks else "no end of data from"
                raise SpecError([SpecIssue(
                    name, None, None, "", f"{what} {kind} within {PIPE_WAIT_SECONDS:g} s",
                    "pass the spec file itself; a named pipe needs a writer "
                    "(e.g. --platform <(cat platform.yaml))")])
            # A named pipe that no writer has opened yet is never ready, but reads as ended:
            # only readiness tells "nothing written yet" from "written and closed".
            if not selector.select(remaining):
                continue
            try:
                chunk = os.read(fd, _READ_CHUNK)
            except BlockingIOError:
                continue
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            total += len(chunk)
            if total > MAX_FILE_BYTES:
                raise _too_large(name, None, kind)
