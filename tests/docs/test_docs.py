"""The docs stay true: their platform.yaml examples load through floe's spec loader, and their
floe commands run.

Conventions in docs/*.md:

* a ```console block is run by this test, line by line (``$ floe ...`` and ``$ cd DIR``), in one
  fresh folder per page, in the order of the page; the page's ``<!-- write: PATH -->`` yaml
  blocks are written to PATH (relative to that folder) when reached;
* a ```bash / ```sh block is shown only, and must say why right above it:
  ``<!-- not run: needs a Kubernetes cluster -->``;
* every ```yaml block with a top-level ``environments:`` is a platform.yaml and must be valid
  (the README's too).

Every ```yaml block of the README, docs/ and examples/README.md must parse.
"""

from __future__ import annotations

import re
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT, run_floe

DOCS = sorted((REPO_ROOT / "docs").glob("*.md"))
SHOWN_ONLY_PAGES = [REPO_ROOT / "examples" / "README.md"]
README = REPO_ROOT / "README.md"
_BLOCK = re.compile(
    r"(?:^[ \t]*<!--\s*(?P<marker>[^>]*?)\s*-->\s*\n)?"  # an optional marker comment right above
    r"^[ \t]*```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^[ \t]*```",
    re.MULTILINE | re.DOTALL)


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    lang: str
    marker: str
    body: str


def blocks(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    found = []
    for match in _BLOCK.finditer(text):
        body = match["body"]
        indent = re.match(r"[ \t]*", text[text.rfind("\n", 0, match.start("lang")) + 1:])
        if indent and indent.group(0):  # a block inside a list item: strip its indentation
            body = "\n".join(line[len(indent.group(0)):] for line in body.splitlines()) + "\n"
        found.append(Block(page, text.count("\n", 0, match.start("lang")) + 1, match["lang"].lower(),
                           match["marker"] or "", body))
    return found


def yaml_blocks() -> list[Block]:
    return [b for page in [README, *DOCS, *SHOWN_ONLY_PAGES] for b in blocks(page) if b.lang in {"yaml", "yml"}]


def yaml_problem(text: str) -> str | None:
    """floe's own message when a YAML text does not parse (None when it does)."""
    from floe.errors import SpecError
    from floe.spec.yaml_source import load_yaml_text

    try:
        yaml.safe_load(text)
    except yaml.YAMLError:
        try:
            load_yaml_text(text, "example")
        except SpecError as exc:
            return str(exc)
        raise  # PyYAML refuses what floe's loader accepts: show PyYAML's own error
    return None


def platform_blocks() -> list[Block]:
    return [b for b in yaml_blocks() if b.page in (README, *DOCS) and "environments" in _mapping(b.body)]


def _mapping(text: str) -> dict:
    """The block's top-level mapping; empty when it is none or does not parse (that test says so)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def load_platform(text: str, tmp_path: Path) -> list[str]:
    """Problems floe finds in a platform.yaml text (empty when valid), via floe's own loader.

    Each ${VAR} the text refers to is set to a placeholder, as a reader would export it."""
    from floe.errors import SpecError
    from floe.spec.loading import load_spec
    from floe.spec.platform import PlatformSpec
    from floe.spec.project import check_platform

    path = tmp_path / "platform.yaml"
    path.write_text(text, encoding="utf-8")
    environ = {name: "example" for name in re.findall(r"\$\{(\w+)", text)}
    try:
        loaded = load_spec(path, PlatformSpec, environ, display_name="platform.yaml", pipeline_file=False)
    except SpecError as exc:
        return [str(issue) for issue in exc.issues]
    return [str(issue) for issue in check_platform(loaded)]


def test_the_docs_exist_and_link_each_other():
    names = {page.name for page in DOCS}
    assert {"06-deployment-view.md", "07-infrastructure-provisioning.md", "quickstart.md"} <= names
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    for name in ("docs/06-deployment-view.md", "docs/07-infrastructure-provisioning.md", "docs/quickstart.md",
                 "examples/README.md"):
        assert f"({name})" in readme, f"README.md does not link {name}"
    for page in DOCS + SHOWN_ONLY_PAGES:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            if "://" not in target:
                assert (page.parent / target).exists(), f"{page.name}: broken link {target}"


@pytest.mark.parametrize("block", yaml_blocks(), ids=lambda b: f"{b.page.relative_to(REPO_ROOT)}:{b.line}")
def test_every_yaml_example_parses(block):
    problem = yaml_problem(block.body)
    assert problem is None, f"{block.page.name}:{block.line}: this YAML example does not parse:\n{problem}"


def test_the_parse_check_fails_on_an_unquoted_variable_in_braces():
    """The check is real: the README's storage example with ${PGHOST} unquoted is a YAML error."""
    block = next(b for b in yaml_blocks() if b.page == README and 'host: "${PGHOST}"' in b.body)
    assert yaml_problem(block.body) is None
    problem = yaml_problem(block.body.replace('"${PGHOST}"', "${PGHOST}"))
    assert problem is not None and 'quote a ${VAR} reference: "${PGHOST}"' in problem


@pytest.mark.parametrize("block", platform_blocks(), ids=lambda b: f"{b.page.name}:{b.line}")
def test_every_platform_yaml_example_is_valid(block, tmp_path):
    problems = load_platform(block.body, tmp_path)
    assert not problems, f"{block.page.name}:{block.line}:\n" + "\n".join(problems)


def test_there_are_platform_examples_for_every_compute_engine_and_service():
    kinds = {"compute": set(), "catalog": set(), "storage": set()}
    for block in platform_blocks():
        for environment in _mapping(block.body)["environments"].values():
            for part in kinds:
                if part in environment:
                    kinds[part].add(environment[part]["type"])
    assert {"duckdb", "trino", "snowflake", "bigquery"} <= kinds["compute"]
    assert {"rest", "sql"} <= kinds["catalog"] and {"s3", "gcs", "adls"} <= kinds["storage"]


def test_the_platform_check_rejects_a_broken_example(tmp_path):
    """The validation is real: a literal password and a misspelt key are both refused."""
    block = next(b for b in platform_blocks() if "POLARIS_CLIENT_SECRET" in b.body)
    assert load_platform(block.body, tmp_path)  == []
    leaked = block.body.replace("{secret_ref: POLARIS_CLIENT_SECRET}", "hunter2")
    assert any("credential" in problem for problem in load_platform(leaked, tmp_path))
    assert load_platform(block.body.replace("warehouse:", "warehous:"), tmp_path)


def test_every_shell_block_is_run_or_says_why_not():
    for page in DOCS + SHOWN_ONLY_PAGES:
        for block in blocks(page):
            if block.lang in {"bash", "sh", "shell"}:
                assert block.marker.startswith("not run:") and len(block.marker) > len("not run:") + 5, (
                    f"{page.name}:{block.line}: a shell block must be a console block (run by the tests) "
                    "or be marked <!-- not run: why -->")
            if block.lang == "console":
                assert page in DOCS, f"{page.name}:{block.line}: console blocks are run only in docs/"


def _steps(page: Path) -> list[tuple[str, Block]]:
    steps: list[tuple[str, Block]] = []
    for block in blocks(page):
        if block.lang == "console":
            steps += [("run", Block(page, block.line, "console", "", line[2:].strip()))
                      for line in block.body.splitlines() if line.startswith("$ ")]
        elif block.marker.startswith("write:"):
            steps.append(("write", block))
    return steps


@pytest.mark.parametrize("page", [p for p in DOCS if any(b.lang == "console" for b in blocks(p))],
                         ids=lambda p: p.name)
@pytest.mark.process
def test_the_floe_commands_of_a_page_run(page, tmp_path):
    shutil.copytree(REPO_ROOT / "charts", tmp_path / "charts")  # `--charts ../charts` from a project
    cwd = tmp_path
    ran = 0
    for kind, step in _steps(page):
        if kind == "write":
            target = tmp_path / step.marker.split(":", 1)[1].strip()
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(step.body, encoding="utf-8")
            continue
        words = shlex.split(step.body)
        if words[0] == "cd":
            cwd = (cwd / words[1]).resolve()
            assert cwd.is_dir(), f"{page.name}:{step.line}: cd {words[1]}: no such folder"
            continue
        assert words[0] == "floe", f"{page.name}:{step.line}: only floe commands run here: {step.body}"
        done = run_floe(*words[1:], cwd=cwd, env={"FLOE_SECRETS_DIR": str(tmp_path / "no-secrets")})
        assert done.returncode == 0, f"{page.name}:{step.line}: $ {step.body}\n{done.stdout}\n{done.stderr}"
        ran += 1
    assert ran >= 2
