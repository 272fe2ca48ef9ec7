"""The dbt project as Dagster asset specs and check specs, read from the compiled manifest alone.

dagster-dbt's ``@dbt_assets`` builds the same specs, but importing dagster-dbt imports dbt-core
(about 1.4 s) and its ``fqn:*`` selection builds dbt's graph of the project; a code location
needs neither, only the manifest JSON. The functions here reproduce what floe's translator
(:func:`dbt_translator`: dagster-dbt's ``DagsterDbtTranslator`` with asset checks on, sources
kept apart and groups by layer, every other setting at its default) derives from each node:
asset key, dependencies (sources included, ephemeral models looked through), group, description,
metadata, owners, tags, kinds, code version, automation condition; and one check
per dbt test attached to a model, seed or snapshot. tests/integration/test_dbt_specs.py compares
them with dagster-dbt's own on real projects.

Two entries of dagster-dbt's metadata are left out: the manifest and the translator objects it
stores on every spec for its own helpers. floe's dbt step passes both to dagster-dbt explicitly
(see ``floe.orchestration.dbt_step``).
"""

from __future__ import annotations

import hashlib
import json
import re
import textwrap
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from dagster import (
    AssetCheckKey,
    AssetCheckSpec,
    AssetDep,
    AssetKey,
    AssetSpec,
    AutoMaterializePolicy,
    AutomationCondition,
    MetadataValue,
    TableColumn,
    TableSchema,
)

from floe.errors import CompileError

Manifest = Mapping[str, Any]
Node = Mapping[str, Any]

ASSET_RESOURCE_TYPES = frozenset({"model", "seed", "snapshot"})
# Keys dagster-dbt reads back from the specs (its subset selection needs the unique id).
UNIQUE_ID_METADATA_KEY = "dagster_dbt/unique_id"
SELECT_TAG = "dagster_dbt/select"
DEFAULT_SELECT = "fqn:*"
_DBT_NAMESPACE = "dagster_dbt/"
_TABLE_NAME_KEY = "dagster/table_name"
# Dagster's rule for tag keys (like Kubernetes labels: an optional prefix, then a name, 63
# characters each); dagster-dbt keeps only the dbt tags that follow it.
_TAG_KEY = re.compile(r"^([A-Za-z0-9_.-]{1,63}/|dagster/kind/)?[A-Za-z0-9_.-]{1,63}$")
_GROUP_UNSAFE = re.compile(r"[^A-Za-z0-9_]")
_NODE_COLLECTIONS = ("nodes", "sources", "exposures", "metrics", "semantic_models", "saved_queries",
                     "unit_tests", "functions")


def dbt_translator(manifest: Manifest) -> Any:
    """dagster-dbt's translator as floe uses it for ``manifest`` (imports dagster-dbt).

    dbt tests become asset checks, sources that read a table the project itself builds get
    their own key (:func:`source_keys_apart`), and nodes are grouped by layer
    (:func:`layer_group`). The specs below give the keys and groups this translator gives; the
    dbt step, stock definitions and stock selections all use this one.
    """
    from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings

    apart = source_keys_apart(manifest)
    apart_keys = set(apart.values())

    class FloeDbtTranslator(DagsterDbtTranslator):
        def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
            found = apart.get(dbt_resource_props.get("unique_id", ""))
            return found if found is not None else super().get_asset_key(dbt_resource_props)

        def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
            return layer_group(dbt_resource_props)

        def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: Any) -> AssetSpec:
            spec: AssetSpec = super().get_asset_spec(manifest, unique_id, project)
            if not any(dep.asset_key in apart_keys for dep in spec.deps):
                return spec
            deps = [_unjoined(dep) if dep.asset_key in apart_keys else dep for dep in spec.deps]
            return spec.replace_attributes(deps=deps)

    return FloeDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


def _unjoined(dep: AssetDep) -> AssetDep:
    """``dep`` without its table name, which Dagster would use to join it to the seed's asset."""
    metadata = {key: value for key, value in (dep.metadata or {}).items() if key != _TABLE_NAME_KEY}
    return AssetDep(asset=dep.asset_key, partition_mapping=dep.partition_mapping, metadata=metadata or None)


SOURCE_KEY_PREFIX = "source"


def source_keys_apart(manifest: Manifest) -> dict[str, AssetKey]:
    """Keys for the sources that read a table the project itself builds: ``source/<source>/<table>``.

    A source declared over a seed's (or model's, or snapshot's) table is a common dbt pattern,
    and with dagster-dbt's default keys the two often share one key (a seed in schema ``raw``
    and source ``raw``). They are the same table, but not the same node: dbt does not order a
    source's readers after the node that builds its table, so making them one asset would have
    Dagster reject the order dbt runs them in. The source keeps its own asset, under a prefix;
    ``floe compile`` says which sources these are (:func:`sources_over_built_tables`).
    Sources whose key clashes with a node over another table are left alone: that is a clash
    ``check_asset_keys`` reports.
    """
    built: dict[AssetKey, str] = {}
    for node in manifest.get("nodes", {}).values():
        if is_asset_node(node) and node.get("relation_name"):
            built[asset_key(node)] = _relation(node["relation_name"])
    apart: dict[str, AssetKey] = {}
    for unique_id, source in (manifest.get("sources") or {}).items():
        key = asset_key(source)
        if key in built and source.get("relation_name") and _relation(source["relation_name"]) == built[key]:
            apart[unique_id] = AssetKey([SOURCE_KEY_PREFIX, *key.path])
    return apart


def sources_over_built_tables(manifest: Manifest) -> list[str]:
    """One line per source that reads a table the project builds (see :func:`source_keys_apart`)."""
    notes = []
    apart = source_keys_apart(manifest)
    by_key = {asset_key(node): node for node in manifest.get("nodes", {}).values() if is_asset_node(node)}
    for unique_id in sorted(apart):
        source = manifest["sources"][unique_id]
        node = by_key[asset_key(source)]
        notes.append(f"source '{source['source_name']}.{source['name']}' ({source['original_file_path']}) reads the"
                     f" table of {node['resource_type']} '{node['name']}', which dbt does not build before the"
                     f" source's readers: use ref('{node['name']}') instead of the source to have dbt build it first"
                     f" (in Dagster the source is asset {'/'.join(apart[unique_id].path)})")
    return notes


def _relation(relation_name: str) -> str:
    """A relation name without quotes, lower case: how two nodes are seen to name one table."""
    return relation_name.replace('"', "").replace("`", "").lower()


def load_manifest(path: Path) -> dict[str, Any]:
    """The manifest JSON (orjson when present: three times faster on a 3 MB manifest)."""
    data = path.read_bytes()
    try:
        import orjson
    except ImportError:  # pragma: no cover - orjson comes with dagster-dbt
        return dict(json.loads(data))
    return dict(orjson.loads(data))


def get_node(manifest: Manifest, unique_id: str) -> Node:
    """A node of any kind by its unique id."""
    for collection in _NODE_COLLECTIONS:
        found = manifest.get(collection) or {}
        if unique_id in found:
            node: Node = found[unique_id]
            return node
    raise KeyError(f"{unique_id} is not in the dbt manifest")


def is_asset_node(node: Node) -> bool:
    """Models (not ephemeral ones), seeds and snapshots become assets."""
    return node["resource_type"] in ASSET_RESOURCE_TYPES and not _is_non_asset_node(node)


def _is_non_asset_node(node: Node) -> bool:
    kind = node["resource_type"]
    return kind in ("metric", "semantic_model", "saved_query", "function") or (
        kind == "model" and (node.get("config") or {}).get("materialized") == "ephemeral")


def _is_valid_upstream(node: Node) -> bool:
    return node["resource_type"] in ASSET_RESOURCE_TYPES or node["resource_type"] == "source"


def _meta(node: Node) -> Mapping[str, Any]:
    meta: Mapping[str, Any] = (node.get("config") or {}).get("meta") or node.get("meta") or {}
    return meta


def asset_key(node: Node) -> AssetKey:
    """meta.dagster.asset_key, else [source, table] for sources, else [schema?, name]."""
    configured = _meta(node).get("dagster", {}).get("asset_key", [])
    if configured:
        return AssetKey(configured)
    if node["resource_type"] == "source":
        return AssetKey([node["source_name"], node["name"]])
    if node.get("version"):
        return AssetKey([node["alias"]])
    schema = node["config"].get("schema")
    return AssetKey([schema, node["name"]] if schema is not None else [node["name"]])


def upstream_unique_ids(manifest: Manifest, node: Node) -> set[str]:
    """Parents that are assets or sources, looking through ephemeral models and metrics."""
    upstreams: set[str] = set()
    for parent_id in node.get("depends_on", {}).get("nodes", []):
        parent = get_node(manifest, parent_id)
        if not _is_non_asset_node(parent):
            if _is_valid_upstream(parent):
                upstreams.add(parent_id)
            continue
        visited: set[str] = set()
        queue = list(parent.get("depends_on", {}).get("nodes", []))
        while queue:
            candidate_id = queue.pop()
            if candidate_id in visited:
                continue
            visited.add(candidate_id)
            candidate = get_node(manifest, candidate_id)
            if _is_non_asset_node(candidate):
                queue.extend(candidate.get("depends_on", {}).get("nodes", []))
            elif _is_valid_upstream(candidate):
                upstreams.add(candidate_id)
    return upstreams


def _metadata(node: Node) -> dict[str, Any]:
    metadata: dict[str, Any] = {}
    materialized = (node.get("config") or {}).get("materialized")
    if materialized is not None:
        metadata["dagster-dbt/materialization_type"] = materialized
    columns = node.get("columns", {})
    if columns:
        metadata["dagster/column_schema"] = TableSchema(columns=[
            TableColumn(name=name, type=info.get("data_type") or "?", description=info.get("description"),
                        tags={tag: "" for tag in info.get("tags", [])})
            for name, info in columns.items()
        ])
    parts = [node.get("database"), node.get("schema"), node.get("alias"),
             node.get("name") if node.get("resource_type") == "source" else None]
    relation = ".".join(part for part in parts if part)
    if relation:
        metadata[_TABLE_NAME_KEY] = relation
    return metadata


def _description(node: Node) -> str:
    code = textwrap.indent(node.get("raw_sql") or node.get("raw_code", ""), "    ")
    sections = [node.get("description") or f"dbt {node['resource_type']} {node['name']}",
                f"#### Raw SQL:\n```sql\n{code}\n```"]
    return "\n\n".join(filter(None, sections))


def layer_group(node: Node) -> str | None:
    """The Dagster group of a dbt node: the one its author chose, else its layer.

    ``meta.dagster.group`` or dbt's ``group`` config win (dagster-dbt's own rule); otherwise the
    node's first folder under its resource's path (``models/staging/stg_orders.sql`` is in
    ``staging``), so the UI shows staging, intermediate and marts apart instead of one
    "default" group. A node at the top of its folder gets none (Dagster's "default").
    """
    chosen: str | None = node.get("meta", {}).get("dagster", {}).get("group") or (
        node.get("config") or {}).get("group") or None
    if chosen:
        return chosen
    parts = str(node.get("path") or "").replace("\\", "/").split("/")
    if len(parts) < 2 or not parts[0]:
        return None
    # Dagster allows letters, digits and underscores in a group name.
    return _GROUP_UNSAFE.sub("_", parts[0])


def _owners(node: Node, group: Node | None) -> Sequence[str] | None:
    """meta.dagster.owners, else the email of the owner of the node's dbt group."""
    configured: Sequence[str] | None = node.get("meta", {}).get("dagster", {}).get("owners")
    if configured:
        return configured
    holder = group if group is not None else (node.get("group") or {})
    email = holder.get("owner", {}).get("email") if isinstance(holder, Mapping) else None
    if not email:
        return None
    return [email] if isinstance(email, str) else list(email)


def _code_version(node: Node) -> str | None:
    code: str | None = node.get("raw_sql") or node.get("raw_code")
    if code:
        return hashlib.sha1(code.encode("utf-8")).hexdigest()  # dagster-dbt's code version: not for security
    checksum: str | None = node.get("checksum", {}).get("checksum")
    return checksum


def _automation_condition(node: Node) -> AutomationCondition[Any] | None:
    policy = node.get("meta", {}).get("dagster", {}).get("auto_materialize_policy", {})
    if policy.get("type") == "eager":
        return AutoMaterializePolicy.eager().to_automation_condition()
    if policy.get("type") == "lazy":
        return AutoMaterializePolicy.lazy().to_automation_condition()
    return None


class DbtSpecs:
    """Asset specs of a manifest's nodes, memoised (every node is some other node's dep)."""

    def __init__(self, manifest: Manifest) -> None:
        self.manifest = manifest
        self._groups = {group["name"]: group for group in (manifest.get("groups") or {}).values()}
        metadata = manifest.get("metadata") or {}
        self._adapter: str | None = metadata.get("adapter_type")
        self._project_id: str | None = metadata.get("project_id")
        self._specs: dict[str, AssetSpec] = {}
        self._colliding: set[AssetKey] | None = None
        self._apart = source_keys_apart(manifest)

    def spec(self, unique_id: str) -> AssetSpec:
        """The asset spec dagster-dbt's translator gives this node."""
        found = self._specs.get(unique_id)
        if found is None:
            found = self._specs[unique_id] = self._build(unique_id)
        return found

    def key(self, unique_id: str) -> AssetKey:
        """The asset key of a node."""
        return self.spec(unique_id).key

    def _colliding_source_keys(self) -> set[AssetKey]:
        if self._colliding is None:
            seen: set[AssetKey] = set()
            self._colliding = set()
            for source_id in self.manifest.get("sources", {}):
                key = self.key(source_id)
                if key in seen:
                    self._colliding.add(key)
                seen.add(key)
        return self._colliding

    def _build(self, unique_id: str) -> AssetSpec:
        node = get_node(self.manifest, unique_id)
        deps: list[AssetDep] = []
        seen: set[AssetKey] = set()
        for upstream_id in upstream_unique_ids(self.manifest, node):
            upstream = self.spec(upstream_id)
            if upstream.key in seen:
                continue
            seen.add(upstream.key)
            dep_metadata = None
            if upstream_id.startswith("source") and upstream.key not in self._colliding_source_keys():
                dep_metadata = {k: v for k, v in upstream.metadata.items() if not k.startswith(_DBT_NAMESPACE)}
            dep = AssetDep(asset=upstream.key, metadata=dep_metadata)
            # Dagster joins a dep to the asset that names the same table; for a source kept apart
            # that would undo the split and make Dagster reject the order dbt runs them in.
            deps.append(_unjoined(dep) if upstream_id in self._apart else dep)
        metadata: dict[str, Any] = {**_metadata(node), UNIQUE_ID_METADATA_KEY: node["unique_id"]}
        if self._adapter is not None:
            metadata["dagster/storage_kind"] = self._adapter
        if self._project_id:
            metadata["dagster_dbt/project_id"] = MetadataValue.text(self._project_id)
        return AssetSpec(
            key=self._apart.get(unique_id) or asset_key(node),
            deps=deps,
            description=_description(node),
            metadata=metadata,
            skippable=True,
            group_name=layer_group(node),
            code_version=_code_version(node),
            automation_condition=_automation_condition(node),
            owners=_owners(node, self._groups.get(node.get("group") or "")),
            tags={tag: "" for tag in node.get("tags", []) if _TAG_KEY.match(tag)},
            kinds={"dbt", self._adapter or "dbt"},
        )

    def check_key(self, test_id: str) -> AssetCheckKey | None:
        """The check a dbt test is: named after the test, on the node it is attached to."""
        if not test_id.startswith("test"):
            return None
        test = get_node(self.manifest, test_id)
        parents = set(test["depends_on"]["nodes"])
        attached: str | None = test.get("attached_node")
        if len(parents) == 1:
            [attached] = parents
        ref = _meta(test).get("dagster", {}).get("ref", {})
        if ref:
            wanted = (ref["name"], ref.get("package") or self.manifest.get("metadata", {})["project_name"],
                      ref.get("version"))
            attached = next((uid for uid, node in self.manifest["nodes"].items()
                             if (node["name"], node["package_name"], node.get("version")) == wanted), None)
        if not attached:
            return None
        return AssetCheckKey(name=test["name"], asset_key=self.key(attached))

    def check_spec(self, key: AssetKey, test_id: str) -> AssetCheckSpec | None:
        """The check spec of a test on the asset ``key``, if the test is attached to it."""
        check_key = self.check_key(test_id)
        if check_key is None or check_key.asset_key != key:
            return None
        test = get_node(self.manifest, test_id)
        additional = {self.key(parent) for parent in self.manifest["parent_map"].get(test_id, [])}
        additional.discard(key)
        severity = (test.get("config") or {}).get("severity") or "error"
        return AssetCheckSpec(
            name=test["name"],
            asset=key,
            description=test.get("meta", {}).get("description"),
            additional_deps=additional,
            metadata={UNIQUE_ID_METADATA_KEY: test_id},
            blocking=severity.lower() == "error",
        )


def _child_map(manifest: Manifest) -> Mapping[str, Iterable[str]]:
    if manifest.get("child_map"):
        child_map: Mapping[str, Iterable[str]] = manifest["child_map"]
        return child_map
    built: dict[str, set[str]] = defaultdict(set)
    for unique_id, node in manifest["nodes"].items():
        for upstream_id in upstream_unique_ids(manifest, node):
            built[upstream_id].add(unique_id)
    return built


def build_dbt_specs(manifest: Manifest | DbtSpecs) -> tuple[list[AssetSpec], list[AssetCheckSpec]]:
    """Every asset node of the manifest as an AssetSpec, and its attached tests as checks.

    Raises:
        CompileError: two dbt nodes map to one asset key (a user mistake, see ``check_asset_keys``).
    """
    specs = manifest if isinstance(manifest, DbtSpecs) else DbtSpecs(manifest)
    manifest = specs.manifest
    assets: list[AssetSpec] = []
    checks: dict[str, AssetCheckSpec] = {}
    key_by_unique_id: dict[str, AssetKey] = {}
    child_map = _child_map(manifest)
    for unique_id, node in manifest["nodes"].items():
        if not is_asset_node(node):
            continue
        spec = specs.spec(unique_id)
        key_by_unique_id[unique_id] = spec.key
        assets.append(spec)
        for child_id in child_map.get(unique_id, []):
            if child_id.startswith("test"):
                check = specs.check_spec(spec.key, child_id)
                if check is not None:
                    checks[check.get_python_identifier()] = check
        for upstream_id in upstream_unique_ids(manifest, node):
            key_by_unique_id[upstream_id] = specs.key(upstream_id)
    _reject_duplicate_keys(manifest, key_by_unique_id)
    return assets, list(checks.values())


def _reject_duplicate_keys(manifest: Manifest, key_by_unique_id: Mapping[str, AssetKey],
                           ingestion: Mapping[AssetKey, str] | None = None) -> None:
    # Where each key comes from: dbt nodes by file, ingestion tables by floe.yaml source.
    owners: dict[AssetKey, set[str]] = defaultdict(set)
    for unique_id, key in key_by_unique_id.items():
        node = get_node(manifest, unique_id)
        where = node["original_file_path"]
        described = (node.get("patch_path") or "").partition("://")[2]  # meta.dagster is set there
        if described and described != where:
            where += f", described in {described}"
        owners[key].add(f"dbt {unique_id} ({where})")
    for key, source in (ingestion or {}).items():
        # An ingestion table and the dbt source of the same name are one asset by design.
        if not any(owner.startswith("dbt source.") for owner in owners.get(key, ())):
            owners[key].add(f"ingestion source '{source}' (floe.yaml)")
    clashes = [f"asset key {'/'.join(key.path)} is claimed by:\n" + "\n".join(f"  - {o}" for o in sorted(found))
               for key, found in owners.items() if len(found) > 1]
    if clashes:
        count = len(clashes)
        raise CompileError(
            f"{count} Dagster asset key{'s are' if count != 1 else ' is'} claimed twice; each dbt model, seed,"
            " snapshot, source and ingestion table must have its own:\n" + "\n".join(clashes),
            hint="rename one of each pair, give it another schema, or set a distinct meta.dagster.asset_key"
                 " on it in its .yml, then run 'floe compile' again",
        )


def check_asset_keys(manifest: Manifest, ingestion: Mapping[AssetKey, str]) -> list[str]:
    """Reject a project whose dbt nodes or ingestion tables share an asset key (``floe compile``).

    Dagster would refuse the definitions later, at run time, with an internal-looking error;
    the manifest holds everything needed to say which files clash as soon as dbt has parsed.

    Args:
        manifest: The parsed dbt manifest.
        ingestion: The key of every ingestion table and the name of the source that lands it.

    Returns:
        Notes for the user: sources that read a table the project builds (given keys apart).

    Raises:
        CompileError: naming each shared key and the files or sources that claim it.
    """
    specs = DbtSpecs(manifest)
    keys: dict[str, AssetKey] = {}
    for unique_id, node in manifest["nodes"].items():
        if is_asset_node(node):
            keys[unique_id] = specs.key(unique_id)
            for upstream_id in upstream_unique_ids(manifest, node):
                keys[upstream_id] = specs.key(upstream_id)
    _reject_duplicate_keys(manifest, keys, ingestion)
    return sources_over_built_tables(manifest)
