"""Generate a dbt project the way a data team has one, for ``floe init --from-dbt`` to wrap.

Unlike ``_project`` (a floe project with a generated dbt folder inside), this is a dbt
project of its own, beside the floe project that wraps it in place, with what real projects
carry: a local package (``packages.yml``, ``local: ../bench_pkg``) whose macro every staging
model calls and whose two models join the graph, snapshots, incremental models (with
``is_incremental()`` filters and a ``unique_key``), seeds, tests and its own ``profiles.yml``
for plain ``dbt build``. Layers and SQL are ``_project``'s: same N, same graph shape.

Layout under ``WORK/user_N``: ``bench_pkg/`` (the package), ``shop_dbt/`` (the dbt project,
with ``profiles/``), ``floe/`` (``floe init --from-dbt ../shop_dbt``).
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

from _project import SEED_ROWS, SEEDS, TEST_EVERY, _join_sql, layer_sizes
from _timing import WORK, Command, bench_env, note, run_once, tool

GENERATOR_VERSION = 1
INCREMENTAL_EVERY = 4  # every 4th intermediate model is incremental
SNAPSHOTS = 10


def user_root(n_models: int) -> Path:
    return WORK / f"user_{n_models}"


def ensure_user_project(n_models: int) -> Path:
    """The generated package, dbt project and wrapping floe project (reused while up to date)."""
    root = user_root(n_models)
    stamp = root / "stamp.json"
    wanted = {"generator": GENERATOR_VERSION, "n_models": n_models}
    if stamp.is_file() and json.loads(stamp.read_text()) == wanted:
        return root
    note(f"generating a {n_models}-model dbt project with a package, snapshots and incremental models in {root}")
    shutil.rmtree(root, ignore_errors=True)
    _write_package(root / "bench_pkg")
    _write_project(root / "shop_dbt", n_models)
    run_once(Command("dbt deps", [tool("dbt"), "deps", "--profiles-dir", "profiles"], cwd=root / "shop_dbt",
                     env=bench_env()))
    run_once(Command("floe init", [tool("floe"), "init", "floe", "--from-dbt", "shop_dbt"], cwd=root,
                     env=bench_env()))
    stamp.write_text(json.dumps(wanted))
    return root


def _write_package(folder: Path) -> None:
    (folder / "macros").mkdir(parents=True)
    (folder / "models").mkdir()
    (folder / "dbt_project.yml").write_text('name: bench_pkg\nversion: "1.0.0"\nconfig-version: 2\n'
                                            "models:\n  bench_pkg:\n    +materialized: table\n")
    (folder / "macros" / "scaled.sql").write_text(
        "{% macro scaled(column, factor=1) %}cast({{ column }} as double) * {{ factor }}{% endmacro %}\n")
    (folder / "models" / "pkg_calendar.sql").write_text(
        "select range as id, range % 10 as grp, cast(range as double) as value from range(1, 366)\n")
    (folder / "models" / "pkg_calendar_weeks.sql").write_text(
        "select id // 7 as id, grp, sum(value) as value from {{ ref('pkg_calendar') }} group by 1, 2\n")


def _write_project(folder: Path, n_models: int) -> None:
    folder.mkdir(parents=True)
    (folder / "dbt_project.yml").write_text(
        'name: shop\nversion: "1.0.0"\nconfig-version: 2\nprofile: shop\n\n'
        "models:\n  shop:\n    +materialized: table\n")
    (folder / "packages.yml").write_text("packages:\n  - local: ../bench_pkg\n")
    (folder / "profiles").mkdir()
    (folder / "profiles" / "profiles.yml").write_text(
        "shop:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: plain.duckdb\n      threads: 4\n")
    seeds = folder / "seeds"
    seeds.mkdir()
    for index, seed in enumerate(SEEDS):
        rows = "".join(f"{i},{(i * 37 + index * 11) % 1000},{'xyz'[i % 3]}\n" for i in range(1, SEED_ROWS + 1))
        (seeds / f"{seed}.csv").write_text("id,amount,category\n" + rows)

    rng = random.Random(20261206 + n_models)
    n_stg, n_int, n_mart = layer_sizes(n_models - 2)  # the package brings two models
    stg = [f"stg_{i:04d}" for i in range(n_stg)]
    ints = [f"int_{i:04d}" for i in range(n_int)]
    marts = [f"mart_{i:04d}" for i in range(n_mart)]
    models: dict[str, tuple[str, str]] = {}
    for i, model in enumerate(stg):
        models[model] = ("staging", _staging_sql(SEEDS[i % len(SEEDS)], i % 5 + 1))
    for i, model in enumerate(ints):
        pool = stg + ints[:i] + (["pkg_calendar_weeks"] if i % 50 == 0 else [])
        sql = _join_sql(rng.sample(pool, min(len(pool), rng.randint(1, 3))))
        if i % INCREMENTAL_EVERY == 0:
            sql = ("{{ config(materialized='incremental', unique_key='id') }}\n"
                   f"select * from (\n{sql}) as fresh\n"
                   "{% if is_incremental() %}where fresh.id > (select coalesce(max(id), 0) - 20 from {{ this }})"
                   "{% endif %}\n")
        models[model] = ("intermediate", sql)
    for model in marts:
        models[model] = ("marts", _join_sql(rng.sample(ints, min(len(ints), rng.randint(1, 3))), aggregate=True))
    tested: dict[str, list[str]] = {}
    for index, (model, (layer, sql)) in enumerate(models.items()):
        (folder / "models" / layer).mkdir(parents=True, exist_ok=True)
        (folder / "models" / layer / f"{model}.sql").write_text(sql)
        if index % TEST_EVERY == 0:
            tested.setdefault(layer, []).append(model)
    for layer, names in tested.items():
        entries = "".join(f"  - name: {m}\n    columns:\n      - name: id\n        data_tests: [not_null]\n"
                          for m in names)
        (folder / "models" / layer / "_tests.yml").write_text("version: 2\n\nmodels:\n" + entries)
    snapshots = "".join(
        f"  - name: snap_{i:02d}\n    relation: ref('{stg[i % len(stg)]}')\n"
        "    config:\n      unique_key: id\n      strategy: check\n      check_cols: all\n"
        for i in range(SNAPSHOTS))
    (folder / "snapshots").mkdir()
    (folder / "snapshots" / "snapshots.yml").write_text("snapshots:\n" + snapshots)


def _staging_sql(seed: str, factor: int) -> str:
    return ("select\n    id,\n    id % 10 as grp,\n"
            f"    {{{{ bench_pkg.scaled('amount', {factor}) }}}} as value\nfrom {{{{ ref('{seed}') }}}}\n")
