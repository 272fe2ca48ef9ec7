"""``floe init``: wrapping a dbt project where it lives, .gitignore, --force, symlinks, errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from floe.cli.init_cmd import init as init_command
from floe.errors import FloeError
from floe.scaffold import init_project
from floe.spec.project import load_project
from tests.support.small_dbt import write_small_dbt_project


def _dbt_project(path: Path, name: str = "shop") -> Path:
    return write_small_dbt_project(path, name)


def _transform_path(root: Path) -> str:
    return str(yaml.safe_load((root / "floe.yaml").read_text())["transforms"][0]["path"])


def test_wrapping_a_project_beside_refers_to_it_and_copies_nothing(tmp_path: Path) -> None:
    source = _dbt_project(tmp_path / "shop_dbt")
    before = sorted(p.relative_to(source) for p in source.rglob("*"))
    result = init_project(tmp_path / "shop", from_dbt=source)
    root = tmp_path / "shop"
    assert _transform_path(root) == "../shop_dbt"
    assert sorted(p.name for p in root.iterdir()) == [".gitignore", "floe.yaml", "platform.yaml"]
    assert sorted(p.relative_to(source) for p in source.rglob("*")) == before
    assert result.wrapped and result.dbt_project_dir == source
    # The spec loads, and the dbt project is the original.
    assert load_project(root / "floe.yaml", environ={}).dbt_project_dir == source.resolve()
    # Outside the floe project: only floe's own state is ignored there.
    assert (root / ".gitignore").read_text() == ".floe/\n"


def test_wrapping_with_a_relative_path_from_elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _dbt_project(tmp_path / "work" / "dbt" / "shop")
    monkeypatch.chdir(tmp_path / "work")
    init_project(Path("platform") / "shop", from_dbt=Path("dbt/shop"))
    assert _transform_path(tmp_path / "work" / "platform" / "shop") == "../../dbt/shop"


def test_a_dbt_project_inside_the_root_gets_anchored_ignores(tmp_path: Path) -> None:
    source = _dbt_project(tmp_path / "shop" / "transform")
    init_project(tmp_path / "shop", from_dbt=source)
    assert _transform_path(tmp_path / "shop") == "./transform"
    assert (tmp_path / "shop" / ".gitignore").read_text().splitlines() == [
        ".floe/", "transform/target/", "transform/logs/", "transform/dbt_packages/"]


def test_init_inside_a_dbt_project_wraps_it_in_place(tmp_path: Path) -> None:
    source = _dbt_project(tmp_path / "shop_dbt")
    result = init_project(source)
    assert result.wrapped
    assert _transform_path(source) == "."
    # Anchored at the root: models/logs/ holds sources and must stay tracked.
    assert (source / ".gitignore").read_text().splitlines() == [".floe/", "/target/", "/logs/", "/dbt_packages/"]
    assert not (source / "dbt").exists(), "no template dbt project inside the user's"


def test_a_template_inside_a_dbt_project_is_refused(tmp_path: Path) -> None:
    source = _dbt_project(tmp_path / "shop_dbt")
    with pytest.raises(FloeError, match="is a dbt project") as raised:
        init_project(source, template="minimal")
    assert "drop --template" in (raised.value.hint or "")
    assert not (source / "floe.yaml").exists()


def test_a_template_and_a_dbt_project_to_wrap_exclude_each_other(tmp_path: Path) -> None:
    source = _dbt_project(tmp_path / "shop_dbt")
    with pytest.raises(FloeError, match="exclude each other"):
        init_project(tmp_path / "shop", template="ecommerce", from_dbt=source)
    assert not (tmp_path / "shop").exists()


@pytest.mark.parametrize(("existing", "expected"), [
    ("target/\n*.duckdb\n", "target/\n*.duckdb\n.floe/\n"),
    ("target/\n*.duckdb", "target/\n*.duckdb\n.floe/\n"),  # no final newline
    ("", ".floe/\n"),
    ("target/\n/.floe/\n", "target/\n/.floe/\n"),  # already there, however written
])
def test_an_existing_gitignore_gets_floe_state_appended_once(tmp_path: Path, existing: str, expected: str) -> None:
    source = _dbt_project(tmp_path / "shop_dbt")
    (source / ".gitignore").write_text(existing)
    init_project(source)
    assert (source / ".gitignore").read_text() == expected
    init_project(source, force=True)
    assert (source / ".gitignore").read_text() == expected


def test_template_init_appends_to_an_existing_gitignore(tmp_path: Path) -> None:
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / ".gitignore").write_text("notes/\n")
    result = init_project(tmp_path / "shop")
    assert (tmp_path / "shop" / ".gitignore").read_text() == "notes/\n.floe/\n"
    assert result.appended == [tmp_path / "shop" / ".gitignore"]


def test_force_replaces_floe_yaml_and_keeps_platform_yaml(tmp_path: Path) -> None:
    source = _dbt_project(tmp_path / "shop_dbt")
    root = tmp_path / "shop"
    init_project(root, from_dbt=source)
    platform = "environments:\n  prod:\n    compute:\n      type: duckdb\n      path: prod.duckdb\n"
    (root / "platform.yaml").write_text(platform)
    (root / "floe.yaml").write_text((root / "floe.yaml").read_text() + "# my edit\n")
    with pytest.raises(FloeError, match=r"would overwrite floe\.yaml") as raised:
        init_project(root, from_dbt=source)
    assert "--force" in (raised.value.hint or "")
    other = _dbt_project(tmp_path / "other_dbt", name="other")
    result = init_project(root, from_dbt=other, force=True)
    assert (root / "platform.yaml").read_text() == platform
    assert root / "platform.yaml" in result.kept
    assert _transform_path(root) == "../other_dbt"
    assert "# my edit" not in (root / "floe.yaml").read_text()


def test_force_over_an_earlier_copy_says_it_is_not_used(tmp_path: Path) -> None:
    source = _dbt_project(tmp_path / "shop_dbt")
    init_project(tmp_path / "shop")  # the template's dbt/ (an earlier copy looks the same)
    result = init_project(tmp_path / "shop", from_dbt=source, force=True)
    assert _transform_path(tmp_path / "shop") == "../shop_dbt"
    assert (tmp_path / "shop" / "dbt" / "dbt_project.yml").is_file(), "the user's files are not deleted"
    assert any("is not used any more" in note for note in result.notes)


def test_platform_yaml_of_the_user_is_kept_without_force(tmp_path: Path) -> None:
    source = _dbt_project(tmp_path / "shop_dbt")
    (source / "platform.yaml").write_text("environments:\n  mine: {}\n")
    result = init_project(source)
    assert (source / "platform.yaml").read_text() == "environments:\n  mine: {}\n"
    assert source / "platform.yaml" in result.kept


def test_a_symlinked_project_keeps_its_link_name(tmp_path: Path) -> None:
    real = _dbt_project(tmp_path / "repos" / "shop_dbt")
    (tmp_path / "linked").symlink_to(real, target_is_directory=True)
    init_project(tmp_path / "shop", from_dbt=tmp_path / "linked")
    assert _transform_path(tmp_path / "shop") == "../linked"
    assert load_project(tmp_path / "shop" / "floe.yaml", environ={}).dbt_project_dir == real.resolve()


def test_a_symlink_above_the_root_still_leads_to_the_project(tmp_path: Path) -> None:
    # shop is reached through a link: '..' from the resolved root is elsewhere, so the
    # relative path is taken between resolved folders.
    _dbt_project(tmp_path / "a" / "shop_dbt")
    (tmp_path / "b" / "deep").mkdir(parents=True)
    (tmp_path / "a" / "floe_link").symlink_to(tmp_path / "b" / "deep", target_is_directory=True)
    init_project(tmp_path / "a" / "floe_link" / "shop", from_dbt=tmp_path / "a" / "shop_dbt")
    project = load_project(tmp_path / "b" / "deep" / "shop" / "floe.yaml", environ={})
    assert project.dbt_project_dir == (tmp_path / "a" / "shop_dbt").resolve()


def test_dangling_symlinks_in_the_project_do_not_matter_to_init(tmp_path: Path) -> None:
    source = _dbt_project(tmp_path / "shop_dbt")
    (source / "models" / "gone.sql").symlink_to(tmp_path / "nowhere.sql")
    (source / "data").symlink_to(tmp_path / "no_such_dir", target_is_directory=True)
    init_project(tmp_path / "shop", from_dbt=source)
    assert _transform_path(tmp_path / "shop") == "../shop_dbt"


@pytest.mark.parametrize(("setup", "message", "hint"), [
    (lambda p: p.mkdir(), "not a dbt project (no dbt_project.yml here)", "folder that holds dbt_project.yml"),
    (lambda p: None, "no such folder", "existing dbt project"),
    (lambda p: (p.mkdir(), (p / "dbt_project.yml").write_text("name: [\n")), "dbt_project.yml:2:1: not valid YAML",
     "fix the file"),
    (lambda p: (p.mkdir(), (p / "dbt_project.yml").write_text("version: 2\n")), "not a dbt project file (no 'name')",
     "name: <project>"),
    (lambda p: (p.mkdir(), (p / "dbt_project.yml").write_bytes(b"name: \xff\n")), "not UTF-8 text", "UTF-8"),
    (lambda p: (p.mkdir(), (p / "dbt_project.yml").mkdir()), "not a dbt project (no dbt_project.yml here)",
     "dbt_project.yml"),
])
def test_what_is_not_a_dbt_project_is_a_clear_error(tmp_path: Path, setup, message: str, hint: str) -> None:
    source = tmp_path / "shop_dbt"
    setup(source)
    with pytest.raises(FloeError) as raised:
        init_project(tmp_path / "shop", from_dbt=source)
    assert message in raised.value.message
    assert hint in (raised.value.hint or "")
    assert not (tmp_path / "shop" / "floe.yaml").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_an_unreadable_dbt_project_file_is_a_clear_error(tmp_path: Path) -> None:
    source = _dbt_project(tmp_path / "shop_dbt")
    (source / "dbt_project.yml").chmod(0)
    with pytest.raises(FloeError, match="cannot be read"):
        init_project(tmp_path / "shop", from_dbt=source)


def test_cli_init_without_name_inside_a_dbt_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = _dbt_project(tmp_path / "shop_dbt")
    monkeypatch.chdir(source)
    result = CliRunner().invoke(init_command, [])
    assert result.exit_code == 0, result.output
    assert "as 'path: .'" in result.output
    assert _transform_path(source) == "."


def test_cli_init_without_name_elsewhere_asks_for_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(init_command, [])
    assert isinstance(result.exception, FloeError)
    assert "needs NAME" in result.exception.message
    assert list(tmp_path.iterdir()) == []


def test_cli_force_help_says_what_it_replaces() -> None:
    result = CliRunner().invoke(init_command, ["--help"])
    assert "platform.yaml is never replaced" in " ".join(result.output.split())
