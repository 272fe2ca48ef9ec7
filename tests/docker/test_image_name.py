"""One name and one tag for floe's images across Dockerfiles, Compose, docs, charts and examples.

Before, the Dockerfiles and Compose said ``floe-dagster:0.1.0`` while the charts pulled
``floe/dagster``: an image built as documented was not the one a release ran. The tag is floe's
version everywhere it is a default; the GitOps examples pin one promoted tag per environment.
The chart and example files are read as they are (another part of the work owns them).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

import floe
from floe.platform.helm.dagster_values import FLOE_IMAGE_REPOSITORY
from tests.conftest import REPO_ROOT
from tests.docker.conftest import COMPOSE_FILE, DOCKER_DIR, interpolate
from tests.docker.dockerfile import env_pairs, parse

NAMES = {"dagster": FLOE_IMAGE_REPOSITORY, "cube": "floe/cube"}
# Any spelling of a floe image reference: floe/dagster:TAG, floe-dagster:TAG, registry/floe/cube:TAG.
REFERENCE = re.compile(r"(?<![\w./-])(?:[\w.-]+/)*floe[-/](dagster|cube):([\w.${}:?'-]+)")
PROMOTED = REPO_ROOT / "examples" / "environments"
PROMOTION_WALKTHROUGH = REPO_ROOT / "examples" / "README.md"
TEXT_FILES = [DOCKER_DIR / "Dockerfile.dagster", DOCKER_DIR / "Dockerfile.cube", DOCKER_DIR / "README.md",
              REPO_ROOT / "charts" / "README.md", REPO_ROOT / "examples" / "README.md",
              *sorted((REPO_ROOT / "docs").glob("*.md"))]
YAML_FILES = [*sorted((REPO_ROOT / "charts").glob("*/values*.yaml")), *sorted((REPO_ROOT / "examples").rglob("*.yaml"))]


def text_references(path: Path) -> Iterator[tuple[str, str, str]]:
    """(kind, full reference, tag) of every floe image named in a text file."""
    for match in REFERENCE.finditer(path.read_text(encoding="utf-8")):
        yield match.group(1), match.group(0), match.group(2)


def yaml_references(node: Any) -> Iterator[tuple[str, str, str]]:
    """(kind, repository, tag) of every floe image in a values or example document."""
    if isinstance(node, dict):
        repository = node.get("repository")
        if isinstance(repository, str) and re.search(r"floe[-/](dagster|cube)$", repository):
            yield repository.rsplit("-", 1)[-1].rsplit("/", 1)[-1], repository, str(node.get("tag", ""))
        for value in node.values():
            yield from yaml_references(value)
    elif isinstance(node, list):
        for item in node:
            yield from yaml_references(item)
    elif isinstance(node, str):
        for match in REFERENCE.finditer(node):
            yield match.group(1), match.group(0).rsplit(":", 1)[0], match.group(2)


def _documents(path: Path) -> list[Any]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def _repository(reference: str) -> str:
    return reference.split(":", 1)[0]


def test_every_reference_uses_the_one_name() -> None:
    wrong = []
    for path in TEXT_FILES:
        for kind, reference, _tag in text_references(path):
            if not _repository(reference).endswith(NAMES[kind]):
                wrong.append(f"{path.relative_to(REPO_ROOT)}: {reference}")
    for path in YAML_FILES:
        for document in _documents(path):
            for kind, repository, _tag in yaml_references(document):
                if not repository.endswith(NAMES[kind]):
                    wrong.append(f"{path.relative_to(REPO_ROOT)}: {repository}")
    assert not wrong, "floe images under another name:\n" + "\n".join(wrong)


def test_every_default_tag_is_floes_version() -> None:
    version = floe.__version__
    wrong = []
    for path in TEXT_FILES:
        if path == PROMOTION_WALKTHROUGH:
            continue  # its tags are those of the example's promotion, like examples/environments/
        for _kind, reference, tag in text_references(path):
            if "$" not in tag and tag != version:  # a shell or Compose variable is filled at build time
                wrong.append(f"{path.relative_to(REPO_ROOT)}: {reference}")
    for path in YAML_FILES:
        if PROMOTED in path.parents:
            continue
        for document in _documents(path):
            for _kind, repository, tag in yaml_references(document):
                if tag and tag != version:
                    wrong.append(f"{path.relative_to(REPO_ROOT)}: {repository}:{tag}")
    assert not wrong, f"floe image tags other than floe's version {version}:\n" + "\n".join(wrong)


def test_each_promoted_environment_pins_one_tag() -> None:
    for env in sorted(p for p in PROMOTED.iterdir() if p.is_dir()):
        tags = {tag for path in env.glob("*.yaml") for document in _documents(path)
                for _kind, _repository, tag in yaml_references(document) if tag}
        assert len(tags) <= 1, f"examples/environments/{env.name} pins several floe image tags: {tags}"


def test_the_dockerfiles_and_compose_fill_the_tag_from_floes_version(env_values: dict[str, str]) -> None:
    assert env_values["FLOE_VERSION"] == floe.__version__
    compose = yaml.safe_load(interpolate(COMPOSE_FILE.read_text(encoding="utf-8"), env_values))
    images = {name: service["image"] for name, service in compose["services"].items()
              if "floe" in str(service["image"])}
    assert images and set(images.values()) <= {f"{NAMES['dagster']}:{floe.__version__}",
                                               f"{NAMES['cube']}:{floe.__version__}"}, images
    for name in ("Dockerfile.dagster", "Dockerfile.cube"):
        dockerfile = parse(DOCKER_DIR / name)
        assert dockerfile.args()["FLOE_VERSION"] == floe.__version__
        labels = {k: v for label in dockerfile.final.all("LABEL") for k, v in env_pairs(label).items()}
        title = labels["org.opencontainers.image.title"]
        assert title == NAMES["dagster" if "dagster" in name else "cube"]
    chart = yaml.safe_load((REPO_ROOT / "charts" / "floe-dagster" / "Chart.yaml").read_text(encoding="utf-8"))
    assert chart["appVersion"] == floe.__version__


def test_the_reference_pattern_sees_every_spelling() -> None:
    found = list(yaml_references({"a": "floe-dagster:0.1.0", "b": {"repository": "r.io/floe/dagster", "tag": "1"},
                                  "c": ["docker build -t floe/cube:0.1.0 ."]}))
    assert found == [("dagster", "floe-dagster", "0.1.0"), ("dagster", "r.io/floe/dagster", "1"),
                     ("cube", "floe/cube", "0.1.0")]
