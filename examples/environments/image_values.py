"""Write the image values of an environment: the floe image, everywhere the charts take it.

The floe image (floe/dagster:<tag>) has one value, ``floe-dagster.image``. Helm replaces lists
instead of merging them, and the official Dagster chart (floe-runtime's top-level ``dagster:``
block) takes the code location and the init container staging the artifacts as list entries, so
those entries are restated from the charts' own defaults with only the image changed, by the
same function ``floe platform render`` uses. An environment's ``image.yaml`` never drifts from the
charts:

    python examples/environments/image_values.py 0.2.0 > examples/environments/dev/image.yaml

Promotion copies the file unchanged (dev -> staging -> prod); see examples/README.md.
"""

from __future__ import annotations

import argparse
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


def image_values(tag: str) -> dict[str, Any]:
    """The floe-runtime values that pin every floe image to ``tag`` (Cube's image moves with it)."""
    from floe.platform.helm.generate import deep_merge
    from floe.platform.helm.render import merged_chart_values
    from floe.platform.helm.runtime_values import floe_image_overrides

    if not TAG.match(tag) or tag == "latest":
        raise ValueError(f"not a pinned image tag: {tag!r}")
    defaults = merged_chart_values(CHARTS, "none")  # the charts' defaults, no environment file
    overrides = floe_image_overrides(deep_merge(defaults, {"floe-dagster": {"image": {"tag": tag}}}))
    return {**overrides, "floe-cube": {"image": {"tag": tag}}}


class _Dumper(yaml.SafeDumper):
    """Writes multi-line strings (the init container's script) as literal blocks, and every value
    in full (no YAML anchors): the file is read by people reviewing a promotion."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


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
