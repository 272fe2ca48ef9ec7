"""The ``dbt`` resource of the code location: where the dbt project and its profile are.

A plain Dagster resource, so loading the definitions does not import dagster-dbt (and with it
dbt-core, over a second); the dbt step turns it into dagster-dbt's CLI resource when it runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dagster import ConfigurableResource
from pydantic import Field

if TYPE_CHECKING:
    from dagster_dbt import DbtCliResource


class FloeDbtResource(ConfigurableResource):  # type: ignore[type-arg]
    """How to invoke dbt on the compiled project."""

    project_dir: str = Field(description="The dbt project folder.")
    profiles_dir: str = Field(description="Folder of the profiles.yml floe generated.")
    profile: str = Field(description="Profile name in profiles.yml.")
    target: str = Field(description="Target of that profile.")
    dbt_executable: str = Field(description="The dbt executable to run.")

    def cli_resource(self) -> DbtCliResource:
        """dagster-dbt's CLI resource with the same settings (imports dagster-dbt).

        On the fast path it is floe's lighter subclass, and while ``floe run`` has a dbt worker
        waiting (:mod:`floe.orchestration.dbt_worker`) the executable is ``floe-dbt``, which
        falls back to this resource's dbt by itself. Otherwise it is dagster-dbt's own.
        """
        from floe.orchestration.fastpath import enabled

        if enabled():
            from floe.orchestration.dbt_worker.start import worker_launcher
            from floe.orchestration.fastpath.dbt_cli import FloeDbtCliResource

            return FloeDbtCliResource(project_dir=self.project_dir, profiles_dir=self.profiles_dir,
                                      profile=self.profile, target=self.target,
                                      dbt_executable=worker_launcher() or self.dbt_executable)
        from dagster_dbt import DbtCliResource

        return DbtCliResource(project_dir=self.project_dir, profiles_dir=self.profiles_dir, profile=self.profile,
                              target=self.target, dbt_executable=self.dbt_executable)
