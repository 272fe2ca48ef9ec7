"""Checks of the dbt graph that ``dbt parse`` lets through.

``dbt parse`` writes a manifest even when models ref each other in a cycle (dbt itself notices
only when it builds: "Found a cycle"); floe fails the compile instead, naming the cycle.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from floe.errors import CompileError


def check_no_ref_cycle(manifest: Mapping[str, Any]) -> None:
    """Fail when the manifest's dependency graph has a cycle (a refs b, b refs a).

    Raises:
        CompileError: naming the nodes of one cycle in order, each depending on the next.
    """
    parents = _parent_map(manifest)
    cycle = find_cycle(parents)
    if cycle is None:
        return
    nodes = {**manifest.get("nodes", {}), **manifest.get("unit_tests", {})}
    names = [_name(nodes, unique_id) for unique_id in cycle]
    files = sorted({path for unique_id in cycle[:-1] if (path := nodes.get(unique_id, {}).get("original_file_path"))})
    where = f" ({', '.join(files)})" if files else ""
    raise CompileError(
        f"the dbt project has a ref cycle: {' -> '.join(names)}{where}; each one refs the next",
        hint=f"remove one of the refs, e.g. ref('{names[1]}') in "
             f"{nodes.get(cycle[0], {}).get('original_file_path') or names[0]}",
    )


def find_cycle(parents: Mapping[str, list[str]]) -> list[str] | None:
    """One cycle of the graph as [a, b, ..., a] (a depends on b), or None.

    Iterative depth-first search: a project's chains run to thousands of models, deeper than
    Python's recursion limit.
    """
    done: set[str] = set()
    for root in sorted(parents):
        if root in done:
            continue
        path: list[str] = [root]
        on_path = {root}
        stack = [iter(sorted(parents.get(root, [])))]
        while stack:
            parent = next(stack[-1], None)
            if parent is None:
                stack.pop()
                finished = path.pop()
                on_path.discard(finished)
                done.add(finished)
                continue
            if parent in on_path:
                return [*path[path.index(parent):], parent]
            if parent in done:
                continue
            path.append(parent)
            on_path.add(parent)
            stack.append(iter(sorted(parents.get(parent, []))))
    return None


def _parent_map(manifest: Mapping[str, Any]) -> dict[str, list[str]]:
    """Each node's parents: the manifest's parent_map, else every node's depends_on."""
    parent_map = manifest.get("parent_map")
    if isinstance(parent_map, dict) and parent_map:
        return {str(k): [str(p) for p in v] for k, v in parent_map.items()}
    nodes = {**manifest.get("nodes", {}), **manifest.get("unit_tests", {})}
    return {unique_id: list((node.get("depends_on") or {}).get("nodes") or []) for unique_id, node in nodes.items()}


def _name(nodes: Mapping[str, Any], unique_id: str) -> str:
    return str(nodes.get(unique_id, {}).get("name") or unique_id)
