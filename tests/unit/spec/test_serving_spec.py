"""platform.yaml's serving database: defaults, the DuckDB-only rule, and the template's `local` environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from floe.errors import SpecError
from floe.spec.loading import load_spec
from floe.spec.platform import PlatformSpec

PLATFORM = """environments:
  dev:
    compute: {compute}
    serving: {serving}
"""


def _load(tmp_path: Path, compute: str, serving: str, environ: dict[str, str] | None = None) -> PlatformSpec:
    path = tmp_path / "platform.yaml"
    path.write_text(PLATFORM.format(compute=compute, serving=serving), encoding="utf-8")
    spec = load_spec(path, PlatformSpec, environ or {}, display_name="platform.yaml", pipeline_file=False).model
    assert isinstance(spec, PlatformSpec)
    return spec


def test_serving_defaults_to_the_floe_serving_schema_and_the_semantic_models(tmp_path: Path) -> None:
    serving = _load(tmp_path, "{type: duckdb}", "{type: postgres, host: db, user: cube, database: marts}") \
        .environments["dev"].serving
    assert serving is not None
    assert (serving.host, serving.port, serving.schema_, serving.models, serving.password) == \
        ("db", 5432, "floe_serving", None, None)


def test_serving_beside_a_server_compute_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="serving is only for an embedded DuckDB compute") as refused:
        _load(tmp_path, "{type: postgres, host: db, user: u, database: d}",
              "{type: postgres, host: db, user: cube, database: marts}")
    assert "remove serving" in str(refused.value)


def test_a_plain_password_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="password"):
        _load(tmp_path, "{type: duckdb}", "{type: postgres, host: db, user: u, database: d, password: hunter2}")


def test_a_schema_must_be_a_plain_identifier(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="schema"):
        _load(tmp_path, "{type: duckdb}", "{type: postgres, host: db, user: u, database: d, schema: 'a;drop'}")


def test_the_ecommerce_template_has_a_local_environment_on_the_local_postgres(tmp_path: Path) -> None:
    from floe.templates import __file__ as templates_init

    text = (Path(templates_init).parent / "ecommerce" / "platform.yaml").read_text(encoding="utf-8")
    path = tmp_path / "platform.yaml"
    path.write_text(text, encoding="utf-8")
    spec = load_spec(path, PlatformSpec, {}, display_name="platform.yaml", pipeline_file=False).model
    assert isinstance(spec, PlatformSpec)
    assert spec.environments["dev"].serving is None
    local = spec.environments["local"].serving
    assert local is not None and (local.host, local.port, local.user, local.database, local.schema_) == \
        ("127.0.0.1", 5432, "postgres", "postgres", "floe_serving")
    moved = load_spec(path, PlatformSpec, {"PGUSER": "shop", "PGPORT": "6543"}, display_name="platform.yaml",
                      pipeline_file=False).model
    assert isinstance(moved, PlatformSpec)
    served = moved.environments["local"].serving
    assert served is not None and (served.user, served.port) == ("shop", 6543)
