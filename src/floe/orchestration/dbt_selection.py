"""dbt selections (``floe run --select/--exclude``, ``select``/``exclude`` of floe.yaml jobs),
resolved as dbt resolves them, only when Dagster asks.

``DbtSelection`` records the manifest, the dbt project's folder, the two strings and the
comparison state. The first time Dagster resolves it (a job is built, a run is narrowed),
dbt-core's own ``NodeSelector`` picks the unique ids (``fqn:*``, every node, needs no dbt),
which ``dbt_specs`` maps to the keys the translator gives: models, seeds and snapshots as
assets, tests as their checks. Like ``build_dbt_asset_selection``, the result is intersected
with the dbt multi-asset's own selection (``fqn:*``). Each distinct selection is evaluated once
per manifest. On the fast path the selector reads a light manifest
(``fastpath.dbt_selection``); otherwise, and to compare with a state, dbt's full one.

Identical to ``dbt ls`` / ``dbt build``, whatever the shell's folder:

* ``path:`` selectors resolve against the dbt project's root, as dbt's do;
* tests are selected eagerly (a test of a selected node is selected), dbt's default, and
  ``test_type:``/``test_name:`` see dbt's own test classes;
* ``state:``, ``result:`` and ``source_status:`` compare with the manifest of an earlier build
  (``--state``). Without it such a selection is a user error, not a crash.

A run narrowed this way hands dbt the selection as written (:func:`run_subset`, the run tags
below), not one selector per node.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from collections.abc import Set as AbstractSet
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagster import AssetCheckKey, AssetKey, AssetSelection

from floe.orchestration.dbt_specs import (
    DEFAULT_SELECT,
    DbtSpecs,
    get_node,
    is_asset_node,
    load_manifest,
)

# dbt's selector methods that compare with an earlier build's artifacts (dbt's --state folder).
STATE_METHODS = frozenset({"state", "result", "source_status"})
STATE_HINT = ("pass --state PATH: the folder holding manifest.json of an earlier dbt build or floe compile "
              "(for example a copy of .floe/dbt taken before your changes)")


# AssetSelection's public extension points are resolve_inner and resolve_checks_inner; Dagster
# serializes a custom selection as the keys it resolves to (to_serializable_asset_selection).
@dataclass(frozen=True)
class DbtSelection(AssetSelection):
    """The assets (and their dbt tests as checks) a dbt selection picks from the manifest."""

    manifest_path: str
    select: str
    exclude: str
    project_dir: str
    state: str = ""

    def keys_and_checks(self) -> tuple[frozenset[AssetKey], frozenset[AssetCheckKey]]:
        """The assets and checks of the nodes dbt selects."""
        stamp = Path(self.manifest_path).stat().st_mtime_ns
        mine = _selected_keys(self, stamp)
        everything = _selected_keys(DbtSelection(self.manifest_path, DEFAULT_SELECT, "", self.project_dir), stamp)
        return mine[0] & everything[0], mine[1] & everything[1]

    def resolve_inner(self, asset_graph: Any, allow_missing: bool = False) -> AbstractSet[AssetKey]:
        """The assets of the selected dbt nodes."""
        return set(self.keys_and_checks()[0])

    def resolve_checks_inner(self, asset_graph: Any, allow_missing: bool) -> AbstractSet[AssetCheckKey]:
        """The checks of the selected dbt tests."""
        return set(self.keys_and_checks()[1])


def dbt_selection(manifest_path: Path, select: str, exclude: str | None = None, *, project_dir: Path,
                  state: Path | None = None) -> DbtSelection:
    """A job's or a run's dbt selection (dbt syntax, e.g. ``+marts`` or ``tag:daily``).

    Args:
        manifest_path: The project's manifest.json.
        select: What to select, as the user wrote it.
        exclude: What to leave out.
        project_dir: The dbt project's root: ``path:`` selectors resolve against it.
        state: The folder of an earlier build's manifest.json, for ``state:`` selectors
            (relative: to the working directory).

    Raises:
        FloeError: the selection compares with a state and there is none, or the state folder
            has no manifest.json.
    """
    if state is None:
        used = uses_state(select) or uses_state(exclude or "")
        if used:
            from floe.errors import FloeError

            raise FloeError(f"the selection uses dbt's '{used}:' method, which compares with an earlier build",
                            hint=STATE_HINT)
        return DbtSelection(str(manifest_path), select, exclude or "", str(project_dir))
    return DbtSelection(str(manifest_path), select, exclude or "", str(project_dir), str(checked_state(state)))


def checked_state(state: Path) -> Path:
    """The state folder, absolute (relative to the working directory, like any path floe is given).

    Raises:
        FloeError: it holds no manifest.json.
    """
    state = state.resolve()
    if not (state / "manifest.json").is_file():
        from floe.errors import FloeError

        raise FloeError(f"--state {state}: no manifest.json in this folder",
                        hint="point --state at the target folder of an earlier dbt build (or a copy of .floe/dbt)")
    return state


def uses_state(selection: str) -> str | None:
    """The first selector method of ``selection`` that needs a comparison state, or None.

    A selection is words (union) of comma-joined criteria (intersection), each optionally
    prefixed by ``@``, ``N+`` or ``+`` and suffixed by ``+N``; the method precedes ``:``, with
    an optional ``.argument`` (``state:modified``, ``result:fail``, ``source_status:fresher``).
    """
    for word in selection.replace(",", " ").split():
        criterion = word.lstrip("@+0123456789")
        if ":" in criterion:
            method = criterion.split(":", 1)[0].split(".", 1)[0]
            if method in STATE_METHODS:
                return method
    return None


# Selecting everything needs no selection engine: every member of these collections matches.
_FQN_STAR_COLLECTIONS = ("nodes", "exposures", "metrics", "unit_tests", "semantic_models", "saved_queries",
                         "functions")
_known_specs: dict[tuple[str, int], DbtSpecs] = {}
_MAX_EVALUATED = 64


def remember_specs(manifest_path: Path, specs: DbtSpecs) -> None:
    """Let selections reuse the specs the code location was built from (same manifest file)."""
    _known_specs.clear()
    _known_specs[str(manifest_path), manifest_path.stat().st_mtime_ns] = specs


def _specs(manifest_path: str, stamp: int) -> DbtSpecs:
    found = _known_specs.get((manifest_path, stamp))
    if found is None:
        found = _known_specs[manifest_path, stamp] = DbtSpecs(load_manifest(Path(manifest_path)))
    return found


Keys = tuple[frozenset[AssetKey], frozenset[AssetCheckKey]]
_evaluated: dict[tuple[DbtSelection, int], Keys] = {}


def _selected_keys(selection: DbtSelection, stamp: int) -> Keys:
    """The assets, then the checks, of the nodes dbt selects.

    The answer depends on the manifest, the project, the two strings and the state only, so it
    is evaluated once per manifest file.
    """
    cache_key = (selection, stamp)
    found = _evaluated.get(cache_key)
    if found is not None:
        return found
    specs = _specs(selection.manifest_path, stamp)
    unique_ids = _unique_ids(specs.manifest, selection)
    found = (frozenset(specs.key(uid) for uid in unique_ids if is_asset_node(get_node(specs.manifest, uid))),
             frozenset(key for key in map(specs.check_key, unique_ids) if key is not None))
    if len(_evaluated) >= _MAX_EVALUATED:
        _evaluated.clear()
    _evaluated[cache_key] = found
    return found


def _unique_ids(manifest_json: Mapping[str, Any], selection: DbtSelection) -> AbstractSet[str]:
    """The unique ids dbt's selector picks, as ``dbt ls`` and ``dbt build`` would."""
    if selection.select == DEFAULT_SELECT and not selection.exclude and not selection.state:
        return {uid for name in _FQN_STAR_COLLECTIONS for uid in manifest_json.get(name) or {}}
    with _root_logging_kept(), _dbt_errors_explained(selection):
        manifest = None
        if not selection.state:  # state comparison calls methods of dbt's node classes
            from floe.orchestration.fastpath.dbt_selection import light_manifest

            manifest = light_manifest(manifest_json)
        if manifest is None:
            from dbt.artifacts.schemas.manifest import WritableManifest
            from dbt.contracts.graph.manifest import Manifest

            manifest = Manifest.from_writable_manifest(WritableManifest.read_and_check_versions(
                selection.manifest_path))
            manifest.nodes.update({uid: dbt_test_node(data) for uid, data in manifest_json["nodes"].items()
                                   if data.get("resource_type") == "test"})
        return _run_dbt_selector(manifest, manifest_json, selection)


def dbt_test_node(data: Mapping[str, Any]) -> Any:
    """A test from manifest.json as dbt's parser makes it: generic when it has test metadata.

    Read back through dbt's artifact classes, every test becomes a ``SingularTestNode`` (the
    first test class of their union), and ``test_type:generic`` would match nothing.
    """
    from dbt.contracts.graph.nodes import GenericTestNode, SingularTestNode

    return (GenericTestNode if data.get("test_metadata") else SingularTestNode).from_dict(data)


@contextmanager
def _root_logging_kept() -> Iterator[None]:
    """Importing dbt-core imports snowplow_tracker, which calls ``logging.basicConfig()``: the
    root logger would then print Dagster's step logs on stderr. Keep it as it was (as
    dagster-dbt does around its own import of dbt)."""
    import logging

    root = logging.getLogger()
    handlers = list(root.handlers)
    try:
        yield
    finally:
        root.handlers = handlers


@contextmanager
def _dbt_errors_explained(selection: DbtSelection) -> Iterator[None]:
    """dbt's selection errors (an unknown method, a bad state manifest) as floe's user errors."""
    from dbt_common.exceptions import DbtBaseException

    try:
        yield
    except DbtBaseException as error:
        from floe.errors import FloeError

        wrote = f"--select '{selection.select}'" + (f" --exclude '{selection.exclude}'" if selection.exclude else "")
        raise FloeError(f"dbt cannot resolve the selection {wrote}: {str(error).strip()}",
                        hint="use dbt's selection syntax: https://docs.getdbt.com/reference/node-selection/syntax"
                        ) from error


def _run_dbt_selector(manifest: Any, manifest_json: Mapping[str, Any], selection: DbtSelection) -> AbstractSet[str]:
    """dbt-core's ``NodeSelector`` as ``dbt build`` runs it: tests selected eagerly, ``path:``
    against the project's root, ``state:`` against the earlier build's manifest."""
    import contextlib
    import io
    from argparse import Namespace

    from dbt.contracts.state import PreviousState
    from dbt.flags import get_flag_dict, set_flags
    from dbt.graph import cli as graph_cli
    from dbt.graph.graph import Graph
    from dbt.graph.selector import NodeSelector
    from dbt.graph.selector_spec import IndirectSelection, SelectionDifference, SelectionSpec
    from dbt_common.events.contextvars import task_contextvars
    from networkx import DiGraph  # type: ignore[import-untyped]

    # dbt's default for build and ls: tests of selected nodes are selected too (eager).
    flags = Namespace(**{key.upper(): value for key, value in get_flag_dict().items()})  # type: ignore[no-untyped-call]
    flags.INDIRECT_SELECTION = IndirectSelection.Eager
    set_flags(flags)  # type: ignore[no-untyped-call]
    project_dir = Path(selection.project_dir)
    previous = None
    if selection.state:
        previous = PreviousState(state_path=Path(selection.state), target_path=project_dir / "target",
                                 project_root=project_dir)
    graph = DiGraph(incoming_graph_data=manifest_json["child_map"])
    graph.add_nodes_from(uid for name in _FQN_STAR_COLLECTIONS for uid in manifest_json.get(name) or {})
    spec: SelectionSpec = graph_cli.parse_union([selection.select], True)
    if selection.exclude:
        spec = SelectionDifference(components=[spec, graph_cli.parse_union([selection.exclude], False)])
    # dbt prints "does not match any enabled nodes" on stdout; floe says it in its own words.
    with task_contextvars(project_root=str(project_dir)), contextlib.redirect_stdout(io.StringIO()):
        selected, _ = NodeSelector(Graph(graph), manifest, previous_state=previous).select_nodes(spec)
    return set(selected)


# A run's dbt selection as the user wrote it, and dbt's comparison state, carried in run tags:
# the dbt step hands dbt these rather than one explicit selector per selected node
# (fastpath.dbt_step.written_selection_args), and passes --state/--defer on (state_args).
RUN_SELECT_TAG = "floe/dbt_select"
RUN_EXCLUDE_TAG = "floe/dbt_exclude"
RUN_STATE_TAG = "floe/dbt_state"
RUN_DEFER_TAG = "floe/dbt_defer"
RUN_FAVOR_STATE_TAG = "floe/dbt_favor_state"


@dataclass(frozen=True)
class RunSubset:
    """The assets and checks a run narrowed by a dbt selection executes."""

    assets: frozenset[AssetKey]
    checks: frozenset[AssetCheckKey]
    tags: dict[str, str]  # the selection as written, when the subset is exactly what it selects


def run_subset(selection: DbtSelection, job_selection: AssetSelection, asset_graph: Any) -> RunSubset:
    """What a run of a job narrowed by ``selection`` executes: the selected models', seeds' and
    snapshots' assets and the selected tests' checks, within the job.

    When the job keeps all of it (the 'all' job does), the run carries the selection as written
    in its tags, for dbt to resolve itself: it picks the very same nodes.
    """
    # A test of a source is a check dagster-dbt's selection names but no definition has (the
    # source's asset comes from ingestion, or from nowhere); dbt still runs it, Dagster records
    # its result as an observation, as in a whole run.
    assets = frozenset(selection.resolve(asset_graph))
    checks = frozenset(selection.resolve_checks(asset_graph) & asset_graph.asset_check_keys)
    in_job = (frozenset(assets & job_selection.resolve(asset_graph)),
              frozenset(checks & job_selection.resolve_checks(asset_graph)))
    tags: dict[str, str] = {}
    if in_job == (assets, checks):
        tags = ({RUN_SELECT_TAG: selection.select} if selection.select != DEFAULT_SELECT else {}) | (
            {RUN_EXCLUDE_TAG: selection.exclude} if selection.exclude else {})
    return RunSubset(in_job[0], in_job[1], tags)


def state_tags(state: Path | None, *, defer: bool, favor_state: bool) -> dict[str, str]:
    """The run tags of dbt's ``--state``, ``--defer`` and ``--favor-state`` (state made absolute).

    Raises:
        FloeError: --defer without --state, --favor-state without --defer, no manifest.json in
            the state folder.
    """
    from floe.errors import FloeError

    if favor_state and not defer:
        raise FloeError("--favor-state applies to deferral only", hint="add --defer (and --state PATH)")
    if state is None:
        if defer:
            raise FloeError("--defer needs the state to defer to", hint=STATE_HINT)
        return {}
    return ({RUN_STATE_TAG: str(checked_state(state))} | ({RUN_DEFER_TAG: "true"} if defer else {})
            | ({RUN_FAVOR_STATE_TAG: "true"} if favor_state else {}))


def state_args(tags: Mapping[str, str]) -> list[str]:
    """dbt's ``--state``/``--defer``/``--favor-state`` arguments recorded in a run's tags."""
    if RUN_STATE_TAG not in tags:
        return []
    return (["--state", tags[RUN_STATE_TAG]] + (["--defer"] if tags.get(RUN_DEFER_TAG) == "true" else [])
            + (["--favor-state"] if tags.get(RUN_FAVOR_STATE_TAG) == "true" else []))


def tagged_selection(tags: Mapping[str, str], manifest_path: Path, project_dir: Path) -> DbtSelection | None:
    """The dbt selection a run's tags carry as the user wrote it, or None."""
    if RUN_SELECT_TAG not in tags and RUN_EXCLUDE_TAG not in tags:
        return None
    state = tags.get(RUN_STATE_TAG)
    return DbtSelection(str(manifest_path), tags.get(RUN_SELECT_TAG) or DEFAULT_SELECT, tags.get(RUN_EXCLUDE_TAG, ""),
                        str(project_dir), state or "")

