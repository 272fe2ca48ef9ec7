"""``${VAR}`` and ``${VAR:-default}`` in spec strings, resolved at compile time.

Interpolation is for values that differ between machines (hosts, ports, paths), never for
credentials: those stay secret references so that they never reach the compiled artifacts.
``$$`` writes a literal ``$``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from floe.errors import SpecIssue
from floe.spec.yaml_source import PathKey, YamlSource

_TOKEN = re.compile(r"\$\$|\$\{([^}]*)\}")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def interpolate(
    source: YamlSource, environ: Mapping[str, str]
) -> tuple[dict[str, Any], list[SpecIssue], set[str]]:
    """Return the data with variables replaced, the problems found, and the names used."""
    issues: list[SpecIssue] = []
    used: set[str] = set()

    def substitute(text: str, path: PathKey) -> str:
        def replace(match: re.Match[str]) -> str:
            if match.group(0) == "$$":
                return "$"
            body = match.group(1)
            name, sep, default = body.partition(":-")
            if not _NAME.match(name):
                issues.append(source.issue(path, f"invalid variable reference '${{{body}}}'",
                                           "use ${NAME} or ${NAME:-default}; write $$ for a literal $"))
                return match.group(0)
            used.add(name)
            if name in environ:
                return environ[name]
            if sep:
                return default
            issues.append(source.issue(path, f"environment variable '{name}' is not set",
                                       f"export {name}=... or write ${{{name}:-default}}"))
            return match.group(0)

        return _TOKEN.sub(replace, text)

    def walk(value: Any, path: PathKey) -> Any:
        if isinstance(value, str):
            return substitute(value, path) if "$" in value else value
        if isinstance(value, dict):
            return {key: walk(item, (*path, key)) for key, item in value.items()}
        if isinstance(value, list):
            return [walk(item, (*path, index)) for index, item in enumerate(value)]
        return value

    return walk(source.data, ()), issues, used
