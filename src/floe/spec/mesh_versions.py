"""Version ranges of input ports: ``>=1.0.0,<2.0.0``, ``^1.2.0``, ``1.2.3``.

Written here rather than borrowed from a packaging library: port versions are plain
MAJOR.MINOR.PATCH, and the messages must name what a range accepts in the same words.
"""

from __future__ import annotations

import re

Version = tuple[int, int, int]

_PART = re.compile(r"^(>=|<=|==|!=|>|<|\^)?\s*v?(\d+)\.(\d+)\.(\d+)$")


def _parts(text: str) -> list[tuple[str, Version]] | None:
    parts = []
    for piece in text.split(","):
        match = _PART.match(piece.strip())
        if match is None:
            return None
        parts.append((match[1] or "==", (int(match[2]), int(match[3]), int(match[4]))))
    return parts


def range_problem(text: str) -> str | None:
    """Why ``text`` is not a version range, or None when it is one."""
    if _parts(text) is None:
        return (f"expected a version range such as '>=1.0.0,<2.0.0', '^1.2.0' or '1.2.3', got {text!r}")
    return None


def satisfies(version: Version, text: str) -> bool:
    """Whether ``version`` is accepted by the range ``text`` (which must be valid)."""
    parts = _parts(text)
    assert parts is not None, text
    for operator, bound in parts:
        accepted = {
            "==": version == bound, "!=": version != bound, ">=": version >= bound, "<=": version <= bound,
            ">": version > bound, "<": version < bound,
            "^": version >= bound and version[0] == bound[0],
        }[operator]
        if not accepted:
            return False
    return True


def highest_major(text: str) -> int | None:
    """The largest major version the range can accept, when it bounds the major (else None)."""
    parts = _parts(text) or []
    majors = []
    for operator, bound in parts:
        if operator in ("==", "^", "<="):
            majors.append(bound[0])
        elif operator == "<":
            majors.append(bound[0] - 1 if bound[1:] == (0, 0) else bound[0])
    return min(majors) if majors else None
