"""``values.schema.json`` of every floe chart, generated from the Pydantic models.

Helm validates values against the schema on install, upgrade, template and lint. The files are
committed next to each chart's values.yaml (``make generate`` rewrites them) and a test fails
when a committed copy differs from what this module generates. They use JSON Schema draft-07
with ``definitions``, which both Helm 3 and Helm 4 read.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from floe.contract.io import write_text_atomic
from floe.contract.schema import sort_keys
from floe.platform.helm.cube_values import FloeCubeValues
from floe.platform.helm.dagster_values import FloeDagsterValues
from floe.platform.helm.domain_values import FloeDomainValues
from floe.platform.helm.jobs_values import FloeJobsValues
from floe.platform.helm.namespace_values import FloeNamespaceValues
from floe.platform.helm.observability_values import FloeObservabilityValues
from floe.platform.helm.platform_chart_values import FloePlatformValues
from floe.platform.helm.polaris_values import FloePolarisValues
from floe.platform.helm.runtime_values import FloeRuntimeValues, sync_umbrella_values

DRAFT_07 = "http://json-schema.org/draft-07/schema#"
SCHEMA_FILE = "values.schema.json"

CHART_MODELS: dict[str, type[BaseModel]] = {
    "floe-dagster": FloeDagsterValues,
    "floe-cube": FloeCubeValues,
    "floe-jobs": FloeJobsValues,
    "floe-runtime": FloeRuntimeValues,
    "floe-polaris": FloePolarisValues,
    "floe-observability": FloeObservabilityValues,
    "floe-namespace": FloeNamespaceValues,
    "floe-platform": FloePlatformValues,
    "floe-domain": FloeDomainValues,
}


def values_schema(chart: str) -> dict[str, Any]:
    """The values schema of one chart (by name, e.g. ``floe-dagster``), keys sorted."""
    model = CHART_MODELS[chart]
    schema = model.model_json_schema(mode="validation", by_alias=True, ref_template="#/definitions/{model}")
    definitions = schema.pop("$defs", None)
    if definitions:
        schema["definitions"] = definitions
    schema["$schema"] = DRAFT_07
    schema["title"] = f"{chart} values"
    _drop_defaults(schema)
    result: dict[str, Any] = sort_keys(schema)
    return result


def render_values_schema(chart: str) -> str:
    """The exact text of a chart's values.schema.json."""
    return json.dumps(values_schema(chart), indent=2, sort_keys=True) + "\n"


def export_values_schemas(charts_dir: Path) -> list[Path]:
    """Write ``<charts_dir>/<chart>/values.schema.json`` for every floe chart."""
    written = []
    for chart in CHART_MODELS:
        path = charts_dir / chart / SCHEMA_FILE
        write_text_atomic(path, render_values_schema(chart))
        written.append(path)
    return written


def _drop_defaults(value: Any) -> None:
    """Remove ``default`` keywords: values.yaml holds the defaults, the schema only the rules.

    (Generated defaults would repeat values.yaml and could contradict it; Helm ignores them.)
    """
    if isinstance(value, dict):
        value.pop("default", None)
        for item in value.values():
            _drop_defaults(item)
    elif isinstance(value, list):
        for item in value:
            _drop_defaults(item)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m floe.platform.helm.schema [CHARTS_DIR]``: what ``make generate`` runs.

    Besides the schemas it copies floe-dagster's ``dagster:`` block into floe-runtime's values.yaml
    (one source for floe's defaults of the official chart).
    """
    parser = argparse.ArgumentParser(
        description="Write values.schema.json of every floe chart and floe-runtime's generated dagster block.")
    parser.add_argument("charts_dir", nargs="?", default="charts", type=Path)
    args = parser.parse_args(argv)
    export_values_schemas(args.charts_dir)
    sync_umbrella_values(args.charts_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
