"""Write the image values of an environment: the floe image tag, everywhere the charts take it.

Helm replaces lists instead of merging them, and the official Dagster chart takes the code
location and the run pods' init container as list entries. So changing the floe image tag
means restating those entries. This script restates them from the charts' own defaults with
only the tag changed, so an environment's ``image.yaml`` never drifts from the charts:

    python examples/environments/image_values.py 0.2.0 > examples/environments/dev/image.yaml

Promotion copies the file unchanged (dev -> staging -> prod); see examples/README.md.
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path
from typing import Any

import yaml

CHARTS = Path(__file__).resolve().parents[2] / "charts"
TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")  # an OCI image tag
HEADER = """\
# The floe image of this environment, in every place the charts take it (written by
# examples/environments/image_values.py from the charts' defaults; do not edit by hand).
# Promotion copies this file from the previous environment: dev -> staging -> prod.
"""


def _chart_values(chart: str) -> dict[str, Any]:
    data = yaml.safe_load((CHARTS / chart / "values.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _retag(container: dict[str, Any], tag: str) -> None:
    repository = str(container["image"]).rsplit(":", 1)[0]
    container["image"] = f"{repository}:{tag}"


def image_values(tag: str) -> dict[str, Any]:
    """The floe-runtime values that pin every floe image to ``tag``."""
    if not TAG.match(tag) or tag == "latest":
        raise ValueError(f"not a pinned image tag: {tag!r}")
    dagster = _chart_values("floe-dagster")["dagster"]
    launcher = copy.deepcopy(dagster["runLauncher"]["config"]["k8sRunLauncher"]["runK8sConfig"])
    for container in launcher["podSpecConfig"]["initContainers"]:
        _retag(container, tag)
    deployments = copy.deepcopy(dagster["dagster-user-deployments"]["deployments"])
    for deployment in deployments:
        deployment["image"]["tag"] = tag
        for container in deployment.get("initContainers", []):
            _retag(container, tag)
    return {
        "floe-dagster": {
            "image": {"tag": tag},
            "dagster": {
                "runLauncher": {"config": {"k8sRunLauncher": {"runK8sConfig": launcher}}},
                "dagster-user-deployments": {"deployments": deployments},
            },
        },
        "floe-jobs": {"image": {"tag": tag}},
        "floe-cube": {"image": {"tag": tag}},
    }


class _Dumper(yaml.SafeDumper):
    """Writes multi-line strings (the init container's script) as literal blocks."""


def _string(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(str, _string)


def render(tag: str) -> str:
    """The text of an environment's image.yaml."""
    return HEADER + yaml.dump(image_values(tag), Dumper=_Dumper, sort_keys=False, width=100)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tag", help="the floe image tag to deploy, e.g. 0.2.0 (never 'latest')")
    args = parser.parse_args(argv)
    try:
        sys.stdout.write(render(args.tag))
    except ValueError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
