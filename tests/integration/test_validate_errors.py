"""`floe validate` on broken projects: the real CLI in a subprocess, one mistake at a time.

Each case starts from a fresh `floe init` project, breaks one thing, and checks that the
command exits 1 and says where (file:line:col), what (field path and message) and, where it
knows, what next, without a traceback. Expected positions are computed from the broken file
itself, so the cases do not depend on the template's exact layout.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

Runner = Callable[..., subprocess.CompletedProcess[str]]
Mutation = Callable[[Path], None]

MIB = 1024 * 1024
# A whole `floe validate` process (interpreter, imports, both specs) on a machine that may be
# loaded: under two CPU hogs beside the suite it took over 20 s. Unbounded input takes many
# minutes or all memory, so a generous bound still tells the two apart.
FAST_SECONDS = 90.0


# --- mutations ---------------------------------------------------------------------------------


def replace(file: str, old: str, new: str) -> Mutation:
    def mutate(root: Path) -> None:
        path = root / file
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {file}: the template changed"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")

    return mutate


def write(file: str, content: str | bytes) -> Mutation:
    def mutate(root: Path) -> None:
        if isinstance(content, bytes):
            (root / file).write_bytes(content)
        else:
            (root / file).write_text(content, encoding="utf-8")

    return mutate


def remove(relative: str) -> Mutation:
    def mutate(root: Path) -> None:
        target = root / relative
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink()

    return mutate


def both(*mutations: Mutation) -> Mutation:
    def mutate(root: Path) -> None:
        for mutation in mutations:
            mutation(root)

    return mutate


def billion_laughs() -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, 10):
        lines.append(f"a{level}: &a{level} [{','.join([f'*a{level - 1}'] * 9)}]")
    return "\n".join(lines) + "\nenvironments:\n  dev: {}\n"


def merge_bomb() -> str:
    lines = ["m0: &m0 {}"]
    for level in range(1, 14):
        lines.append(f"m{level}: &m{level} {{<<: [{','.join([f'*m{level - 1}'] * 9)}]}}")
    return "\n".join(lines) + "\nenvironments:\n  dev: {}\n"


POSTGRES_WITH_PASSWORD = """\
      type: postgres
      host: db.internal
      user: shop
      database: shop
      password: hunter2
"""


# --- cases -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One broken project and what `floe validate` must say about it.

    Attributes:
        mutate: Breaks a fresh project.
        file: The file the problem is reported in.
        at: Text in the broken file where the problem is located; a '|' inside marks the exact
            character, else the text's first character is meant. None: the file as a whole.
        path: The field path shown, '' for none.
        message: The message, exactly (or its start when it ends with '…').
        hint: Text the hint must contain, if any.
        args: Extra arguments to `floe validate`.
    """

    mutate: Mutation
    file: str
    at: str | None
    path: str
    message: str
    hint: str | None = None
    args: tuple[str, ...] = ()


CASES: dict[str, Case] = {
    "yaml_syntax_error": Case(
        replace("floe.yaml", "name: shop", "name: [shop"), "floe.yaml", 'version|: "0.1.0"', "",
        "YAML syntax error: expected ',' or ']', but got ':'", "check indentation and quoting",
    ),
    "tab_indentation": Case(
        replace("floe.yaml", "    path: ./dbt", "\tpath: ./dbt"), "floe.yaml", "\tpath", "",
        "YAML syntax error: found character '\\t' that cannot start any token",
    ),
    "two_documents": Case(
        replace("floe.yaml", "\njobs:", "\n---\njobs:"), "floe.yaml", "---", "",
        "YAML syntax error: expected a single document in the stream, but found another document",
    ),
    "duplicate_key": Case(
        replace("platform.yaml", "      threads: 4\n", "      threads: 4\n      threads: 8\n"),
        "platform.yaml", "threads: 8", "environments.dev.compute.threads",
        "duplicate key 'threads' (first defined at line …", "YAML keeps only the last",
    ),
    "wrong_type_int": Case(
        replace("platform.yaml", "threads: 4", "threads: many"), "platform.yaml", "many",
        "environments.dev.compute.threads",
        "Input should be a valid integer, unable to parse string as an integer (got 'many')",
        "dbt threads",
    ),
    "wrong_type_bool": Case(
        replace("floe.yaml", "enabled: false", "enabled: sometimes"), "floe.yaml", "sometimes",
        "schedules[0].enabled", "Input should be a valid boolean, unable to interpret input (got 'sometimes')",
    ),
    "number_instead_of_text": Case(
        replace("floe.yaml", "name: shop", "name: 123"), "floe.yaml", "123", "name",
        "Input should be a valid string (got 123)", 'quote the value so YAML keeps it as text: name: "123"',
    ),
    "mapping_expected": Case(
        replace("platform.yaml", "    compute:\n      type: duckdb\n      path: .floe/warehouse.duckdb\n"
                "      threads: 4\n", "    compute: duckdb\n"),
        "platform.yaml", "duckdb", "environments.dev.compute", "expected a mapping of fields, got 'duckdb'",
    ),
    "unknown_key_did_you_mean": Case(
        replace("floe.yaml", "description: A small", "descripton: A small"), "floe.yaml", "descripton:",
        "descripton", "unknown field 'descripton'", "did you mean 'description'?",
    ),
    "unknown_key_in_platform": Case(
        replace("platform.yaml", "threads: 4", "thread: 4"), "platform.yaml", "thread: 4",
        "environments.dev.compute.thread", "unknown field 'thread'", "did you mean 'threads'?",
    ),
    "missing_required_field": Case(
        replace("floe.yaml", "    path: ./dbt\n", ""), "floe.yaml", "type: dbt", "transforms[0]",
        "missing required field 'path'", "Directory of the dbt project",
    ),
    "unknown_environment": Case(
        lambda root: None, "platform.yaml", "environments:", "environments",
        "environment 'nope' is not defined", "defined environments: dev; pass --env NAME", args=("--env", "nope"),
    ),
    "invalid_environment_name": Case(
        replace("platform.yaml", "  dev:", "  Dev:"), "platform.yaml", "Dev:", "environments.Dev",
        "invalid name 'Dev': String should match pattern '^[a-z][a-z0-9_-]*$'", args=("--env", "Dev"),
    ),
    "missing_dbt_directory": Case(
        remove("dbt"), "floe.yaml", "./dbt", "transforms[0].path", "directory './dbt' does not exist",
        "floe init NAME --from-dbt PATH",
    ),
    "dbt_directory_without_dbt_project_yml": Case(
        remove("dbt/dbt_project.yml"), "floe.yaml", "./dbt", "transforms[0].path",
        "'./dbt' has no dbt_project.yml", "the folder that holds dbt_project.yml",
    ),
    "dbt_path_escapes_the_project": Case(
        replace("floe.yaml", "path: ./dbt", "path: ../elsewhere"), "floe.yaml", "../elsewhere",
        "transforms[0].path", "directory '../elsewhere' does not exist",
        "outside the folder of floe.yaml",
    ),
    "dbt_path_with_nul_byte": Case(
        replace("floe.yaml", "path: ./dbt", 'path: "dbt\\0"'), "floe.yaml", '"dbt', "transforms[0].path",
        "the text contains a NUL character (\\0)", "remove the \\0 escape",
    ),
    "literal_password": Case(
        replace("platform.yaml", "      type: duckdb\n      path: .floe/warehouse.duckdb\n      threads: 4\n",
                POSTGRES_WITH_PASSWORD),
        "platform.yaml", "hunter2", "environments.dev.compute.password",
        "a credential must not be written in a spec file", "password: {secret_ref: NAME}",
    ),
    "password_in_url": Case(
        replace("platform.yaml", "    orchestrator:", "    catalog:\n      type: sql\n"
                "      uri: postgresql://floe:hunter2@db/catalog\n    orchestrator:"),
        "platform.yaml", "postgresql://", "environments.dev.catalog.uri", "this URL contains a password",
        "remove user:password@ from the URL",
    ),
    "password_in_url_from_variable": Case(
        replace("platform.yaml", "    orchestrator:", "    catalog:\n      type: sql\n"
                "      uri: ${FLOE_TEST_CATALOG_URI}\n    orchestrator:"),
        "platform.yaml", "${FLOE_TEST_CATALOG_URI}", "environments.dev.catalog.uri",
        "this URL contains a password (after ${VAR} interpolation)",
    ),
    "host_in_floe_yaml": Case(
        replace("floe.yaml", "    path: ./dbt\n", "    path: ./dbt\n    host: db.example.com\n"), "floe.yaml",
        "host:", "transforms[0].host", "'host' does not belong in floe.yaml",
        "declared per environment in platform.yaml",
    ),
    "undefined_variable": Case(
        replace("platform.yaml", "path: .floe/warehouse.duckdb", "path: ${FLOE_TEST_UNSET_VARIABLE}/w.duckdb"),
        "platform.yaml", "${FLOE_TEST_UNSET_VARIABLE}", "environments.dev.compute.path",
        "environment variable 'FLOE_TEST_UNSET_VARIABLE' is not set",
        "export FLOE_TEST_UNSET_VARIABLE=... or write ${FLOE_TEST_UNSET_VARIABLE:-default}",
    ),
    "empty_file": Case(write("floe.yaml", ""), "floe.yaml", None, "", "file is empty", "floe init"),
    "comment_only_file": Case(
        write("floe.yaml", "# nothing here yet\n\n   # still nothing\n"), "floe.yaml", None, "", "file is empty",
    ),
    "document_marker_only": Case(write("platform.yaml", "---\n"), "platform.yaml", None, "", "file is empty"),
    "huge_file": Case(
        write("floe.yaml", "name: shop\n# " + "x" * MIB + "\n"), "floe.yaml", None, "",
        f"file is {MIB + 14:,} bytes; spec files are limited to {MIB:,} bytes (1 MiB)",
        "move data into the dbt project",
    ),
    "top_level_list": Case(
        write("floe.yaml", "- name: shop\n- transforms: []\n"), "floe.yaml", "- name", "",
        "expected a mapping of fields at the top, found a list",
    ),
    "top_level_scalar": Case(
        write("platform.yaml", "dev\n"), "platform.yaml", "dev", "",
        "expected a mapping of fields at the top, found a single value ('dev')",
    ),
    "unknown_compute_type": Case(
        replace("platform.yaml", "type: duckdb", "type: duckdbb"), "platform.yaml", "duckdbb",
        "environments.dev.compute.type", "unknown type 'duckdbb'",
        "expected one of 'duckdb', 'postgres', 'snowflake', 'bigquery', 'trino'",
    ),
    "compute_without_type": Case(
        replace("platform.yaml", "      type: duckdb\n", ""), "platform.yaml", "compute:", "environments.dev.compute",
        "missing required field 'type'",
    ),
    "schedule_of_undeclared_job": Case(
        replace("floe.yaml", "    job: marts", "    job: nightly"), "floe.yaml", "nightly", "schedules[0].job",
        "job 'nightly' is not declared", "declared jobs: all, marts",
    ),
    "schedule_name_used_by_a_job": Case(
        replace("floe.yaml", "  - name: marts_daily", "  - name: marts"), "floe.yaml", "  - name: |marts\n    job",
        "schedules[0].name", "name 'marts' is already used", "share one namespace",
    ),
    "invalid_cron": Case(
        replace("floe.yaml", '"0 6 * * *"', '"0 25 * * *"'), "floe.yaml", '"0 25', "schedules[0].cron",
        "invalid cron '0 25 * * *': hour field '25': 25 is outside 0-23", "example: '0 6 * * *'",
    ),
    "cron_with_non_ascii_digit": Case(
        replace("floe.yaml", '"0 6 * * *"', '"0 ² * * *"'), "floe.yaml", '"0 ²', "schedules[0].cron",
        "invalid cron '0 ² * * *': hour field '²': '²' is not a number",
    ),
    "unknown_time_zone": Case(
        replace("floe.yaml", "timezone: UTC", "timezone: Mars/Olympus_Mons"), "floe.yaml", "Mars/",
        "schedules[0].timezone", "unknown time zone 'Mars/Olympus_Mons'", "an IANA name such as 'UTC'",
    ),
    "time_zone_too_long_for_a_file_name": Case(
        replace("floe.yaml", "timezone: UTC", "timezone: " + "Z" * 400), "floe.yaml", "ZZZ",
        "schedules[0].timezone", f"unknown time zone '{'Z' * 400}'",
    ),
    "missing_platform_yaml": Case(
        remove("platform.yaml"), "platform.yaml", None, "", "file not found", "--platform PATH",
    ),
    "missing_pipeline_file": Case(
        lambda root: None, "other.yaml", None, "", "file not found", "-f PATH", args=("-f", "other.yaml"),
    ),
    "non_utf8_bytes": Case(
        lambda root: (root / "floe.yaml").write_bytes(
            (root / "floe.yaml").read_bytes().replace(b"A small shop", b"A small caf\xe9 shop")),
        "floe.yaml", "caf|\ufffd", "", "not UTF-8 text: cannot decode byte 0xe9", "save the file as UTF-8",
    ),
    "python_tag": Case(
        replace("floe.yaml", "name: shop", "name: !!python/object/apply:os.system ['touch pwned']"), "floe.yaml",
        "!!python", "name",
        "unsupported value: the tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed",
    ),
}

# Inputs built to exhaust the loader; each must be refused within FAST_SECONDS.
SLOW_INPUT_CASES: dict[str, Case] = {
    "huge_file": CASES["huge_file"],
    "alias_bomb": Case(
        write("platform.yaml", billion_laughs()), "platform.yaml", "", "",
        "the document expands to more than 100,000 values", "alias bomb",
    ),
    "merge_key_bomb": Case(
        write("platform.yaml", merge_bomb()), "platform.yaml", "", "",
        "the document expands to more than 100,000 values", "alias bomb",
    ),
    "deep_nesting": Case(
        replace("floe.yaml", "observability:\n", "extra: " + "[" * 300_000 + "]" * 300_000 + "\nobservability:\n"),
        "floe.yaml", "extra: " + "[" * 64 + "|[", "", "nesting deeper than 64 levels",
    ),
}


# --- helpers -------------------------------------------------------------------------------------


def _position(root: Path, file: str, at: str) -> tuple[int, int]:
    """1-based line and column of ``at`` in the file as it is now (bad bytes count as one)."""
    text = (root / file).read_bytes().decode("utf-8", errors="replace")
    needle, _, _ = at.partition("|")
    whole = at.replace("|", "")
    offset = text.find(whole)
    assert offset >= 0, f"{whole!r} not found in {file}"
    offset += len(needle) if "|" in at else 0
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def _expected_line(root: Path, case: Case) -> str:
    where = case.file
    if case.at is not None:
        line, column = _position(root, case.file, case.at)
        where += f":{line}:{column}"
    return f"{where}  {case.path + ': ' if case.path else ''}{case.message}".removesuffix("…")


def _assert_no_crash(result: subprocess.CompletedProcess[str]) -> None:
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    assert "internal error" not in output, output
    assert result.returncode == 1, output


def _run(floe: Runner, root: Path, case: Case) -> subprocess.CompletedProcess[str]:
    case.mutate(root)
    return floe("validate", *case.args, cwd=root,
                env={"FLOE_TEST_CATALOG_URI": "postgresql://floe:hunter2@db/catalog"})


# --- tests ------------------------------------------------------------------------------------------


def test_valid_project_passes(floe: Runner, minimal_project: Path) -> None:
    result = floe("validate", cwd=minimal_project)
    assert result.returncode == 0, result.stderr
    assert "floe.yaml and platform.yaml are valid (pipeline shop, environment dev: duckdb)" in result.stdout
    assert result.stderr == ""


def test_valid_project_json(floe: Runner, minimal_project: Path) -> None:
    result = floe("validate", "--json", cwd=minimal_project)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["valid"] is True
    assert summary["issues"] == []
    assert (summary["pipeline"], summary["environment"], summary["compute"]) == ("shop", "dev", "duckdb")


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_broken_project_is_reported(floe: Runner, minimal_project: Path, case: Case) -> None:
    result = _run(floe, minimal_project, case)
    _assert_no_crash(result)
    expected = _expected_line(minimal_project, case)
    assert expected in result.stderr, f"expected: {expected!r}\n--- stderr:\n{result.stderr}"
    assert result.stderr.startswith("1 problem found:\n"), result.stderr
    if case.hint is not None:
        assert re.search(r"\n    hint: .*" + re.escape(case.hint), result.stderr), result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("case", list(SLOW_INPUT_CASES.values()), ids=list(SLOW_INPUT_CASES))
def test_hostile_input_fails_fast(floe: Runner, minimal_project: Path, case: Case) -> None:
    case.mutate(minimal_project)
    started = time.perf_counter()
    result = floe("validate", cwd=minimal_project, timeout=300)
    elapsed = time.perf_counter() - started
    _assert_no_crash(result)
    assert elapsed < FAST_SECONDS, f"took {elapsed:.1f}s"
    if case.at == "":  # located, but where the budget runs out is an implementation detail
        pattern = re.escape(case.file) + r":\d+:\d+  " + re.escape(case.message)
        assert re.search(pattern, result.stderr), result.stderr
    else:
        assert _expected_line(minimal_project, case) in result.stderr, result.stderr
    if case.hint is not None:
        assert case.hint in result.stderr


def test_every_problem_in_both_files_is_reported_in_one_run(floe: Runner, minimal_project: Path) -> None:
    broken = [
        Case(replace("platform.yaml", "threads: 4", "threads: many"), "platform.yaml", "many",
             "environments.dev.compute.threads", "Input should be a valid integer, …"),
        Case(replace("platform.yaml", "type: sqlite", "type: sqlit"), "platform.yaml", "sqlit",
             "environments.dev.orchestrator.storage.type", "unknown type 'sqlit'"),
        Case(replace("floe.yaml", "description: A small", "descripton: A small"), "floe.yaml", "descripton:",
             "descripton", "unknown field 'descripton'"),
        Case(replace("floe.yaml", "enabled: false", "enabled: maybe"), "floe.yaml", "maybe",
             "schedules[0].enabled", "Input should be a valid boolean, …"),
    ]
    for case in broken:
        case.mutate(minimal_project)
    result = floe("validate", cwd=minimal_project)
    _assert_no_crash(result)
    assert result.stderr.startswith("4 problems found:\n"), result.stderr
    for case in broken:
        assert _expected_line(minimal_project, case) in result.stderr, result.stderr


def test_cross_file_checks_run_alongside_load_errors(floe: Runner, minimal_project: Path) -> None:
    # platform.yaml cannot be loaded at all, yet floe.yaml's references are still checked.
    write("platform.yaml", "environments: [dev]\n")(minimal_project)
    replace("floe.yaml", "    job: marts", "    job: nightly")(minimal_project)
    remove("dbt/dbt_project.yml")(minimal_project)
    result = floe("validate", cwd=minimal_project)
    _assert_no_crash(result)
    assert result.stderr.startswith("3 problems found:\n"), result.stderr
    assert "platform.yaml:1:15  environments: " in result.stderr
    assert "transforms[0].path: './dbt' has no dbt_project.yml" in result.stderr
    assert "schedules[0].job: job 'nightly' is not declared" in result.stderr


def test_json_output_lists_every_issue(floe: Runner, minimal_project: Path) -> None:
    replace("platform.yaml", "threads: 4", "threads: many")(minimal_project)
    replace("floe.yaml", "    job: marts", "    job: nightly")(minimal_project)
    result = floe("validate", "--json", cwd=minimal_project)
    _assert_no_crash(result)
    report = json.loads(result.stdout)  # stdout is nothing but the JSON document
    assert report["valid"] is False
    platform_line, platform_column = _position(minimal_project, "platform.yaml", "many")
    floe_line, floe_column = _position(minimal_project, "floe.yaml", "nightly")
    assert report["issues"] == [
        {
            "file": "platform.yaml", "line": platform_line, "column": platform_column,
            "path": "environments.dev.compute.threads",
            "message": "Input should be a valid integer, unable to parse string as an integer (got 'many')",
            "hint": "dbt threads (models built at once).",
        },
        {
            "file": "floe.yaml", "line": floe_line, "column": floe_column, "path": "schedules[0].job",
            "message": "job 'nightly' is not declared", "hint": "declared jobs: all, marts",
        },
    ]


def test_json_output_for_a_file_level_problem(floe: Runner, minimal_project: Path) -> None:
    remove("platform.yaml")(minimal_project)
    result = floe("validate", "--json", cwd=minimal_project)
    _assert_no_crash(result)
    (issue,) = json.loads(result.stdout)["issues"]
    assert (issue["file"], issue["line"], issue["column"], issue["message"]) == (
        "platform.yaml", None, None, "file not found")


def test_paths_are_shown_relative_to_the_working_directory(floe: Runner, minimal_project: Path) -> None:
    replace("floe.yaml", "    job: marts", "    job: nightly")(minimal_project)
    result = floe("validate", "-f", f"{minimal_project.name}/floe.yaml", cwd=minimal_project.parent)
    _assert_no_crash(result)
    line, column = _position(minimal_project, "floe.yaml", "nightly")
    assert f"{minimal_project.name}/floe.yaml:{line}:{column}  schedules[0].job: " in result.stderr


def test_platform_option_names_the_file_used(floe: Runner, minimal_project: Path) -> None:
    (minimal_project / "platform.yaml").rename(minimal_project / "prod-platform.yaml")
    replace("prod-platform.yaml", "type: duckdb", "type: oracle")(minimal_project)
    result = floe("validate", "--platform", "prod-platform.yaml", cwd=minimal_project)
    _assert_no_crash(result)
    line, column = _position(minimal_project, "prod-platform.yaml", "oracle")
    assert f"prod-platform.yaml:{line}:{column}  environments.dev.compute.type: unknown type 'oracle'" in result.stderr
