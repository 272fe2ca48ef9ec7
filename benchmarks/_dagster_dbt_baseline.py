"""Plain dagster-dbt, the standard way: the baseline floe is compared with.

    python _dagster_dbt_baseline.py run  MANIFEST PROJECT_DIR PROFILES_DIR
    python _dagster_dbt_baseline.py load MANIFEST PROJECT_DIR PROFILES_DIR [--resolve]

``run`` materializes every asset with ``dagster.materialize`` (an ephemeral in-memory
instance), streaming ``dbt build`` through ``DbtCliResource`` with its defaults, exactly as
the dagster-dbt documentation shows. ``load`` only builds ``Definitions`` (``--resolve``
also resolves the repository, as a code server does).
"""

# No "from __future__ import annotations": Dagster inspects the op signature at runtime.

import sys
from pathlib import Path

from dagster import AssetExecutionContext, Definitions, materialize
from dagster_dbt import DbtCliResource, dbt_assets


def main(argv: list[str]) -> int:
    mode, manifest, project_dir, profiles_dir = argv[:4]

    @dbt_assets(manifest=Path(manifest))
    def bench_dbt_assets(context: AssetExecutionContext, dbt: DbtCliResource):
        yield from dbt.cli(["build"], context=context).stream()

    dbt = DbtCliResource(project_dir=project_dir, profiles_dir=profiles_dir, profile="floe", target="dev")
    if mode == "load":
        defs = Definitions(assets=[bench_dbt_assets], resources={"dbt": dbt})
        if "--resolve" in argv:
            Definitions.validate_loadable(defs)
        return 0
    result = materialize([bench_dbt_assets], resources={"dbt": dbt})
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
