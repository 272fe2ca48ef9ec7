"""Cube Store runs the same Cube release as the Cube API.

The API image is built FROM cubejs/cube:<version> (docker/Dockerfile.cube); Cube Store's image
tag is a chart value. They speak an internal protocol of their own release, so a mismatch breaks
pre-aggregations at run time. ``CUBE_VERSION`` is the one source: this test holds the Dockerfile,
the chart's values files and the values model to it.
"""

from __future__ import annotations

import re

from floe.platform.helm.cube_values import CUBE_VERSION, FloeCubeValues
from tests.charts.helm_support import CHARTS_DIR, ENVIRONMENTS, REPO_ROOT, load_yaml


def test_the_cube_api_image_is_built_from_cube_version():
    text = (REPO_ROOT / "docker" / "Dockerfile.cube").read_text(encoding="utf-8")
    bases = re.findall(r"^FROM\s+(?:docker\.io/)?cubejs/cube:(\S+)", text, flags=re.MULTILINE)
    assert bases == [CUBE_VERSION], f"docker/Dockerfile.cube builds on {bases}, floe's Cube release is {CUBE_VERSION}"


def test_cube_store_runs_the_same_release_in_every_values_file():
    assert FloeCubeValues().cube_store.image.tag == CUBE_VERSION
    for name in ["values.yaml", *(f"values-{env}.yaml" for env in ENVIRONMENTS)]:
        values = load_yaml(CHARTS_DIR / "floe-cube" / name)
        tag = values.get("cubeStore", {}).get("image", {}).get("tag")
        if name == "values.yaml" or tag is not None:
            assert tag == CUBE_VERSION, f"charts/floe-cube/{name}: cubeStore.image.tag {tag} != Cube API {CUBE_VERSION}"

