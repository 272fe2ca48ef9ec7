"""Generate an N-model floe project for the benchmarks: deterministic, layered, tables only.

``floe init`` writes floe.yaml, platform.yaml (env ``dev`` on DuckDB) and the dbt project;
the template's seeds and models are then replaced by:

* 3 seeds (``raw_a``, ``raw_b``, ``raw_c``, 200 rows each);
* staging (20 % of N): each model selects from one seed;
* intermediate (60 %): each joins 1-3 earlier models (staging or intermediate);
* marts (20 %): each joins 1-3 intermediate models and aggregates;
* a ``not_null`` test on every 10th model, so dbt tests (Dagster asset checks) take part.

Every model is ``+materialized: table`` (long chains of DuckDB views are pathological) and
has the same columns ``(id, grp, value)``, so any model can select from any earlier one. The
choice of parents comes from a fixed random seed: the same N gives the same project.

A generated project is reused while its stamp matches (N and ``GENERATOR_VERSION``); it is
compiled with ``floe compile``, and prepared for the two baselines:

* plain ``dbt build`` uses its own target folder (``.bench/dbt-target``);
* plain dagster-dbt uses ``.bench/dagster-dbt-target``, where ``dbt parse`` wrote the
  manifest and partial-parse file, as the dagster-dbt docs prescribe.

For ``--before VENV`` (another floe install, e.g. the commit before a change),
``ensure_before_copy`` gives that floe a copy of the same dbt project in ``proj_N_before``,
compiled by its own ``floe compile`` into its own ``.floe`` (artifacts, warehouse, Dagster
history), so the two installs share no mutable state.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from _timing import VENV_BIN, WORK, Command, bench_env, note, run_once, tool

# Runs of Dagster history a timed floe run starts with (see BenchProject.bounded_history).
KEEP_HISTORY_RUNS = 3
# Runs under either floe install of a --before comparison: open_compiled_project moved from
# floe.orchestration.paths to floe.contract.project, so try the new home, then the old.
_PRUNE = """
import sys
from pathlib import Path
try:
    from floe.contract.project import open_compiled_project
except ImportError:
    from floe.orchestration.paths import open_compiled_project
from floe.orchestration.history import prune_runs
from floe.orchestration.instance import open_instance
prune_runs(open_instance(open_compiled_project(Path(sys.argv[1]))), int(sys.argv[2]))
"""

GENERATOR_VERSION = 1
SEEDS = ("raw_a", "raw_b", "raw_c")
SEED_ROWS = 200
TEST_EVERY = 10
PROFILE = "floe"
TARGET = "dev"


@dataclass(frozen=True)
class BenchProject:
    """A generated, compiled project and where its baselines keep their files."""

    root: Path
    n_models: int
    # The venv whose floe, dbt and python work on this project (another one for --before).
    venv_bin: Path = VENV_BIN

    def tool(self, name: str) -> str:
        """An executable of this project's venv."""
        return tool(name, self.venv_bin)

    @property
    def dbt_dir(self) -> Path:
        return self.root / "dbt"

    @property
    def artifacts_path(self) -> Path:
        return self.root / ".floe" / "artifacts.json"

    @property
    def profiles_dir(self) -> Path:
        return self.root / ".floe" / "dbt"

    @property
    def floe_manifest(self) -> Path:
        return self.root / ".floe" / "dbt" / "manifest.json"

    @property
    def dbt_target(self) -> Path:
        """Target folder of the plain ``dbt build`` baseline."""
        return self.root / ".bench" / "dbt-target"

    @property
    def dagster_dbt_target(self) -> Path:
        """Target folder of the plain dagster-dbt baseline (manifest from ``dbt parse``)."""
        return self.root / ".bench" / "dagster-dbt-target"

    @property
    def dagster_dbt_manifest(self) -> Path:
        return self.dagster_dbt_target / "manifest.json"

    @property
    def warehouse(self) -> Path:
        """The DuckDB file all three ways of building write (floe's generated profile)."""
        return self.root / ".floe" / "warehouse.duckdb"

    def fresh_warehouse(self) -> None:
        """Remove the warehouse, so the next build starts from an empty one.

        DuckDB does not give back all the space of the tables a rebuild replaces: the file
        doubles over the first few rebuilds and dbt's own time grows with it (75-80 s on a new
        file, ~104 s on a rebuilt one, 1,000 models). Timed runs that each start from an empty
        warehouse compare like with like.
        """
        for suffix in ("", ".wal"):
            self.warehouse.with_name(self.warehouse.name + suffix).unlink(missing_ok=True)

    def bounded_history(self) -> None:
        """Delete floe's Dagster runs beyond the newest few (floe's own ``prune_runs``).

        Every floe run adds some 3,300 events at 1,000 models to the project's SQLite history,
        and nothing in ``floe run`` prunes it: after 58 runs the index file was 154 MB, and a
        200-model run took 11.2 s against 10.6 s with a fresh history (3 interleaved runs
        each). The plain dagster-dbt baseline keeps no history at all (an in-memory instance).
        Timed floe runs start from the same short history instead of one that grows.
        """
        subprocess.run([self.tool("python"), "-c", _PRUNE, str(self.artifacts_path), str(KEEP_HISTORY_RUNS)],
                       cwd=self.root,
                       env=self.env(), check=True, stdout=subprocess.DEVNULL)

    def fresh_warehouse_and_bounded_history(self) -> None:
        """What a timed floe run starts from: an empty warehouse and a short run history."""
        self.fresh_warehouse()
        self.bounded_history()

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for commands on this project (the profile reads FLOE_PROJECT_DIR)."""
        return bench_env({"FLOE_PROJECT_DIR": str(self.root), **extra}, venv_bin=self.venv_bin)

    def node_counts(self) -> dict[str, int]:
        """Models, seeds and tests in the compiled manifest."""
        nodes = json.loads(self.floe_manifest.read_text())["nodes"].values()
        counts: dict[str, int] = {}
        for node in nodes:
            counts[node["resource_type"]] = counts.get(node["resource_type"], 0) + 1
        return counts


def project_dir(n_models: int) -> Path:
    return WORK / f"proj_{n_models}"


def ensure_project(n_models: int, *, compiled: bool = True) -> BenchProject:
    """The N-model project, generated and compiled unless an up-to-date one exists."""
    root = project_dir(n_models)
    project = BenchProject(root, n_models)
    stamp = root / ".bench" / "stamp.json"
    wanted = {"generator": GENERATOR_VERSION, "n_models": n_models}
    if not (stamp.is_file() and json.loads(stamp.read_text()) == wanted):
        note(f"generating a {n_models}-model project in {root}")
        shutil.rmtree(root, ignore_errors=True)
        root.parent.mkdir(parents=True, exist_ok=True)
        run_once(Command("floe init", [tool("floe"), "init", root.name], cwd=root.parent, env=bench_env()))
        write_dbt_project(root / "dbt", n_models)
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text(json.dumps(wanted))
    if compiled:
        _compile(project)
    return project


def ensure_before_copy(project: BenchProject, venv_bin: Path) -> BenchProject:
    """A copy of ``project``'s sources for the floe installed in ``venv_bin``, compiled by it.

    Only the sources are copied (floe.yaml, platform.yaml, the dbt project), never ``.floe``
    or ``.bench``: the copy gets its own artifacts, dbt target, warehouse and Dagster history.
    The copy is remade when the source project or the venv changes.
    """
    root = project.root.with_name(project.root.name + "_before")
    copy = BenchProject(root, project.n_models, venv_bin)
    stamp = root / ".bench" / "stamp.json"
    wanted = {"source": json.loads((project.root / ".bench" / "stamp.json").read_text()), "venv_bin": str(venv_bin)}
    if not (stamp.is_file() and json.loads(stamp.read_text()) == wanted):
        note(f"copying the {project.n_models}-model project to {root} for {venv_bin.parent}")
        shutil.rmtree(root, ignore_errors=True)
        shutil.copytree(project.root, root, ignore=shutil.ignore_patterns(".floe", ".bench", "target", "logs"))
        stamp.parent.mkdir(parents=True, exist_ok=True)
        note(f"floe (before): compile ({project.n_models} models)")
        run_once(Command("floe compile (before)", [copy.tool("floe"), "compile"], cwd=root, env=copy.env()),
                 root / ".bench" / "compile.log")
        stamp.write_text(json.dumps(wanted))
    _compile_floe(copy)
    return copy


def _compile(project: BenchProject) -> None:
    """floe compile (when stale) and the baselines' ``dbt parse`` (when missing)."""
    _compile_floe(project)
    if not project.dagster_dbt_manifest.is_file():
        log = project.root / ".bench" / "compile.log"
        env = project.env()
        note(f"dbt parse for the dagster-dbt baseline ({project.n_models} models)")
        target = str(project.dagster_dbt_target)
        run_once(Command("dbt parse", [tool("dbt"), "parse", *dbt_args(project)], cwd=project.dbt_dir,
                         env={**env, "DBT_TARGET_PATH": target, "DBT_LOG_PATH": target}), log)


def _compile_floe(project: BenchProject) -> None:
    """Compile with the project's own floe when stale, the way ``floe run`` would."""
    log = project.root / ".bench" / "compile.log"
    env = project.env()
    # floe run recompiles a stale project itself: do it now, the same way, so no timed run does.
    note(f"floe: compile if stale ({project.n_models} models, {project.venv_bin.parent})")
    code = ("from pathlib import Path; from floe.compiler.freshness import ensure_compiled; "
            "ensure_compiled(Path('floe.yaml'))")
    try:
        run_once(Command("floe ensure_compiled", [project.tool("python"), "-c", code], cwd=project.root, env=env),
                 log)
    except Exception:  # floe's internals moved: compile unconditionally
        run_once(Command("floe compile", [project.tool("floe"), "compile"], cwd=project.root, env=env), log)


def dbt_args(project: BenchProject) -> list[str]:
    """Arguments that point dbt at the project and floe's generated profile."""
    return ["--project-dir", str(project.dbt_dir), "--profiles-dir", str(project.profiles_dir),
            "--profile", PROFILE, "--target", TARGET]


def layer_sizes(n_models: int) -> tuple[int, int, int]:
    """Staging, intermediate, marts."""
    if n_models < 3:
        raise ValueError("at least 3 models")
    staging = max(1, round(n_models * 0.2))
    marts = max(1, round(n_models * 0.2))
    return staging, n_models - staging - marts, marts


def write_dbt_project(dbt_dir: Path, n_models: int) -> None:
    """Replace the template's seeds and models with the generated ones."""
    text = (dbt_dir / "dbt_project.yml").read_text()
    name = re.search(r"^name:\s*(\S+)", text, re.M)
    profile = re.search(r"^profile:\s*(\S+)", text, re.M)
    if name is None or profile is None:
        raise RuntimeError(f"unexpected dbt_project.yml from floe init:\n{text}")
    for folder in ("models", "seeds"):
        shutil.rmtree(dbt_dir / folder, ignore_errors=True)
    (dbt_dir / "dbt_project.yml").write_text(
        f"name: {name.group(1)}\n"
        'version: "0.1.0"\n'
        "config-version: 2\n"
        f"profile: {profile.group(1)}\n\n"
        'model-paths: ["models"]\n'
        'seed-paths: ["seeds"]\n\n'
        "models:\n"
        f"  {name.group(1)}:\n"
        "    +materialized: table\n"
    )
    seeds = dbt_dir / "seeds"
    seeds.mkdir(parents=True)
    for index, seed in enumerate(SEEDS):
        rows = "".join(f"{i},{(i * 37 + index * 11) % 1000},{'xyz'[i % 3]}\n" for i in range(1, SEED_ROWS + 1))
        (seeds / f"{seed}.csv").write_text("id,amount,category\n" + rows)

    rng = random.Random(20261122 + n_models)
    n_stg, n_int, n_mart = layer_sizes(n_models)
    stg = [f"stg_{i:04d}" for i in range(n_stg)]
    ints = [f"int_{i:04d}" for i in range(n_int)]
    marts = [f"mart_{i:04d}" for i in range(n_mart)]
    models: dict[str, tuple[str, str]] = {}  # name -> (layer, sql)
    for i, model in enumerate(stg):
        models[model] = ("staging", _staging_sql(SEEDS[i % len(SEEDS)]))
    for i, model in enumerate(ints):
        pool = stg + ints[:i]
        models[model] = ("intermediate", _join_sql(rng.sample(pool, min(len(pool), rng.randint(1, 3)))))
    for model in marts:
        pool = ints or stg
        models[model] = ("marts", _join_sql(rng.sample(pool, min(len(pool), rng.randint(1, 3))), aggregate=True))
    tested: dict[str, list[str]] = {}
    for index, (model, (layer, sql)) in enumerate(models.items()):
        folder = dbt_dir / "models" / layer
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{model}.sql").write_text(sql)
        if index % TEST_EVERY == 0:
            tested.setdefault(layer, []).append(model)
    for layer, names in tested.items():
        entries = "".join(
            f"  - name: {model}\n    columns:\n      - name: id\n        data_tests: [not_null]\n" for model in names
        )
        (dbt_dir / "models" / layer / "_tests.yml").write_text("version: 2\n\nmodels:\n" + entries)


def _staging_sql(seed: str) -> str:
    return (
        "select\n"
        "    id,\n"
        "    id % 10 as grp,\n"
        "    cast(amount as double) as value\n"
        f"from {{{{ ref('{seed}') }}}}\n"
    )


def _join_sql(parents: list[str], *, aggregate: bool = False) -> str:
    terms = " + ".join(["p0.value", *(f"coalesce(p{i}.value, 0)" for i in range(1, len(parents)))])
    joins = "".join(
        f"left join {{{{ ref('{parent}') }}}} as p{i} on p{i}.id = p0.id\n" for i, parent in enumerate(parents) if i
    )
    source = f"from {{{{ ref('{parents[0]}') }}}} as p0\n{joins}"
    if aggregate:
        return f"select\n    p0.grp as id,\n    p0.grp,\n    sum({terms}) as value\n{source}group by p0.grp\n"
    return f"select\n    p0.id,\n    p0.grp,\n    {terms} as value\n{source}"
