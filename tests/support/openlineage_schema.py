"""Validation of OpenLineage events against the official JSON Schemas in ../shared/reference."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from floe.observability import lineage_facets
from tests.conftest import SHARED

OPENLINEAGE = SHARED / "reference" / "openlineage"


def openlineage_validator() -> Callable[[dict[str, Any]], None]:
    """A function that asserts an event, and each facet in it, validates against the official
    schemas (floe's own floe_trace facet against its schema). Skips when ../shared is absent."""
    if not OPENLINEAGE.is_dir():
        pytest.skip(f"the OpenLineage schemas are not here ({OPENLINEAGE}): ../shared is absent")
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    documents = [json.loads(p.read_text()) for p in [OPENLINEAGE / "OpenLineage.json",
                                                      *sorted((OPENLINEAGE / "facets").glob("*.json"))]]
    documents.append(lineage_facets.trace_facet_schema())
    registry: Registry[Any] = Registry().with_resources(
        (doc["$id"], Resource.from_contents(doc)) for doc in documents)
    # Facet key -> schema document, per place a facet can sit (the same key, e.g. documentation,
    # names a job facet and a dataset facet).
    kinds = {"run": "RunFacet", "job": "JobFacet", "dataset": "DatasetFacet",
             "input": "InputDatasetFacet", "output": "OutputDatasetFacet"}
    facet_schema: dict[str, dict[str, Any]] = {kind: {} for kind in kinds}
    for doc in documents[1:]:
        for key, ref in doc.get("properties", {}).items():
            if "$ref" not in ref:
                continue  # LineageFacet: one key for a job or a dataset facet; floe emits neither
            definition = ref["$ref"].rsplit("/", 1)[-1]
            kind = next(k for k, suffix in sorted(kinds.items(), key=lambda kv: -len(kv[1]))
                        if definition.endswith(suffix))
            facet_schema[kind][key] = doc
    spec = documents[0]["$id"]

    def check(schema: dict[str, Any], instance: Any) -> None:
        validator = Draft202012Validator(schema, registry=registry,
                                         format_checker=Draft202012Validator.FORMAT_CHECKER)
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(instance)]
        assert not errors, errors

    def validate_event(event: dict[str, Any]) -> None:
        check({"$ref": f"{spec}#/$defs/RunEvent"}, event)
        groups = [("run", event["run"].get("facets", {})), ("job", event["job"].get("facets", {}))]
        for dataset in [*event["inputs"], *event["outputs"]]:
            groups += [("dataset", dataset.get("facets", {})), ("input", dataset.get("inputFacets", {})),
                       ("output", dataset.get("outputFacets", {}))]
        for kind, group in groups:
            for key, facet in group.items():
                assert key in facet_schema[kind], f"{kind} facet {key!r} has no schema to validate against"
                doc = facet_schema[kind][key]
                check(doc, {key: facet})
                assert facet["_schemaURL"] == doc["$id"] + doc["properties"][key]["$ref"]

    return validate_event
