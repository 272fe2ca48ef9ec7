"""Values of ``charts/floe-runtime``, the umbrella: the official chart and one block per floe chart.

The official Dagster chart is a direct dependency of the umbrella (``dagster:``), not only of
floe-dagster: Helm (and so Argo CD and Flux) builds the dependencies of the chart it is pointed
at, never those of a ``file://`` subchart, so a Dagster nested inside floe-dagster would simply be
missing from the release. floe-dagster's own copy stays off in here (``floe-dagster.dagster``).

The umbrella's ``dagster:`` block is not written by hand: ``sync_umbrella_values`` copies it,
comments included, from ``charts/floe-dagster/values.yaml`` (``make generate``), and a test fails
when the two differ. Each floe block is checked by its own chart's schema (Helm validates a
subchart's values after merging its defaults), so here a block is open apart from its switch.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field, model_validator

from floe.contract.io import write_text_atomic
from floe.errors import FloeError
from floe.platform.helm.dagster_values import DagsterBlock, migrate_conflict, official_migrate_enabled
from floe.platform.helm.values_common import HelmModel, dig


class SubchartBlock(HelmModel):
    """Values passed to one floe chart, plus the switch that deploys it."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    enabled: bool = Field(default=True, description="Deploy this chart as part of the release.")


class FloeRuntimeValues(HelmModel):
    """Everything ``charts/floe-runtime/values.yaml`` may hold."""

    global_: dict[str, Any] = Field(
        default_factory=dict, alias="global", description="Helm's values shared with every subchart."
    )
    dagster: DagsterBlock = Field(
        default_factory=DagsterBlock,
        description="The official dagster chart (a direct dependency of the umbrella): webserver, daemon, "
        "code location. floe's defaults for it are those of charts/floe-dagster (copied by 'make generate').",
    )
    floe_dagster: SubchartBlock = Field(
        default_factory=SubchartBlock, alias="floe-dagster",
        description="charts/floe-dagster: artifacts, preflight, budgets, alerts, backups. Its own dagster "
        "block stays disabled here: the umbrella's top-level dagster block is the one Dagster.",
    )
    floe_cube: SubchartBlock = Field(
        default_factory=lambda: SubchartBlock(enabled=False), alias="floe-cube",
        description="charts/floe-cube: the Cube semantic layer.",
    )
    floe_jobs: SubchartBlock = Field(
        default_factory=lambda: SubchartBlock(enabled=False), alias="floe-jobs",
        description="charts/floe-jobs: pipeline Jobs and CronJobs outside Dagster.",
    )

    @model_validator(mode="after")
    def _one_migration(self) -> FloeRuntimeValues:
        floe_migrate = (self.floe_dagster.model_extra or {}).get("migrate") or {}
        floe_migrates = self.floe_dagster.enabled and floe_migrate.get("enabled", True)
        if floe_migrates and official_migrate_enabled(self.dagster.model_extra or {}):
            raise ValueError(migrate_conflict("floe-dagster.migrate.enabled"))
        return self


# --- the dagster: block, one source ---------------------------------------------------------

BEGIN_MARK = "# >>> dagster block: generated from charts/floe-dagster/values.yaml by 'make generate'; edit it there"
END_MARK = "# <<< end of the generated dagster block"


def dagster_block_text(floe_dagster_values: str) -> str:
    """The ``dagster:`` block of floe-dagster's values.yaml, with the comment lines right above it."""
    lines = floe_dagster_values.splitlines()
    starts = [i for i, line in enumerate(lines) if line.rstrip() == "dagster:"]
    if len(starts) != 1:
        raise FloeError("charts/floe-dagster/values.yaml must hold exactly one top-level 'dagster:' block")
    first = starts[0]
    while first > 0 and lines[first - 1].startswith("#"):
        first -= 1
    end = starts[0] + 1
    while end < len(lines) and (not lines[end] or lines[end].startswith((" ", "#"))):
        end += 1  # the block runs until the next top-level key
    return "\n".join(lines[first:end]).rstrip() + "\n"


def umbrella_values_text(umbrella_values: str, floe_dagster_values: str) -> str:
    """floe-runtime's values.yaml with its generated ``dagster:`` block replaced by the current one."""
    pattern = re.compile(re.escape(BEGIN_MARK) + r"\n.*?" + re.escape(END_MARK) + r"\n", re.DOTALL)
    if not pattern.search(umbrella_values):
        raise FloeError("an umbrella's values.yaml (floe-runtime, floe-platform) lacks the markers of its generated "
                        "dagster block",
                        hint=f"put the lines '{BEGIN_MARK}' and '{END_MARK}' where the block goes")
    block = f"{BEGIN_MARK}\n{dagster_block_text(floe_dagster_values)}{END_MARK}\n"
    return pattern.sub(lambda _: block, umbrella_values, count=1)


UMBRELLAS = ("floe-runtime", "floe-platform")
"""The charts that depend on the official chart beside floe-dagster, each with the copied block."""


def sync_umbrella_values(charts_dir: Path) -> list[Path]:
    """Rewrite the values.yaml of each umbrella with floe-dagster's current ``dagster:`` block."""
    source = (charts_dir / "floe-dagster" / "values.yaml").read_text(encoding="utf-8")
    written = []
    for umbrella in UMBRELLAS:
        target = charts_dir / umbrella / "values.yaml"
        if target.is_file():
            write_text_atomic(target, umbrella_values_text(target.read_text(encoding="utf-8"), source))
            written.append(target)
    return written


# --- values that would deploy no Dagster, or two ----------------------------------------------

def dagster_workload_problems(values: dict[str, Any]) -> list[tuple[str, str]]:
    """(value path, what is wrong) for umbrella values that would render without Dagster's workloads.

    ``values`` are the umbrella's merged values (chart defaults, the environment's files, and what
    ``floe platform render`` generates). floe-dagster without a Dagster would deploy artifacts and a
    preflight hook for nothing; two Dagsters (the umbrella's and floe-dagster's own) would fight
    over the same object names; the daemon must run exactly once (the official chart's, or floe's
    under leader election).
    """
    if not dig(values, "floe-dagster", "enabled", default=True):
        if dig(values, "dagster", "enabled", default=True):
            # The code location mounts floe-dagster's artifacts ConfigMap: it would never start.
            return [("dagster.enabled", "is true while floe-dagster is disabled: Dagster would run without "
                     "floe's artifacts; set dagster.enabled: false as well, or enable floe-dagster")]
        return []  # no Dagster wanted: e.g. only Cube or only the Jobs
    problems = []
    if not dig(values, "dagster", "enabled", default=True):
        problems.append(("dagster.enabled", "is false while floe-dagster is enabled: no webserver, daemon or "
                         "code location would be deployed"))
    if dig(values, "floe-dagster", "dagster", "enabled", default=False):
        problems.append(("floe-dagster.dagster.enabled", "is true: in floe-runtime the official chart is the "
                         "top-level 'dagster' block, so this would deploy a second Dagster"))
    problems += _daemon_problems(values)
    user_code = dig(values, "dagster", "dagster-user-deployments", default={})
    for key in ("enabled", "enableSubchart"):
        if not dig(user_code, key, default=True):
            problems.append((f"dagster.dagster-user-deployments.{key}", "is false: floe's code location "
                             "(the user-code Deployment and its Service) would not be deployed"))
    if not dig(user_code, "deployments", default=[]):
        problems.append(("dagster.dagster-user-deployments.deployments", "is empty: Dagster would have no code "
                         "location to load floe's definitions from"))
    return problems


def _daemon_problems(values: dict[str, Any]) -> list[tuple[str, str]]:
    """Exactly one daemon: the official chart's (mode single) or floe's under leader election (ha)."""
    official = dig(values, "dagster", "dagsterDaemon", "enabled", default=True)
    floe_ha = dig(values, "floe-dagster", "daemon", "ha", "enabled", default=False)
    if not official and not floe_ha:
        return [("dagster.dagsterDaemon.enabled", "is false and floe's daemon (floe-dagster.daemon.ha) is off: "
                 "without a daemon no schedule, sensor or queued run ever starts; remove the setting, or set "
                 "orchestrator.daemon.mode: ha in platform.yaml for daemons under leader election")]
    if official and floe_ha:
        return [("floe-dagster.daemon.ha.enabled", "is true while dagster.dagsterDaemon.enabled is true: the "
                 "official chart's daemon would run beside floe's, outside the leader election, and every "
                 "schedule would tick twice; let 'floe platform render' write both from "
                 "orchestrator.daemon.mode in platform.yaml")]
    return []


def check_dagster_workloads(values: dict[str, Any], where: str) -> None:
    """Refuse values that would deploy floe without Dagster's workloads (see dagster_workload_problems).

    Raises:
        FloeError: naming each value path to change and how.
    """
    problems = dagster_workload_problems(values)
    if problems:
        lines = "\n  ".join(f"{path} {message}" for path, message in problems)
        raise FloeError(
            f"{where}: these values would not deploy Dagster's workloads as floe runs them:\n  {lines}",
            hint="remove those settings (floe's defaults deploy the webserver, the daemon and the 'floe' code "
            "location), or set both floe-dagster.enabled and dagster.enabled to false to deploy no Dagster at all",
        )


# --- one floe image ---------------------------------------------------------------------------

def _image_name(image: dict[str, Any]) -> str:
    name = f"{image['repository']}:{image['tag']}"
    return f"{name}@{image['digest']}" if image.get("digest") else name


def floe_image_overrides(values: dict[str, Any]) -> dict[str, Any]:
    """Overrides that make every container of the floe image run ``floe-dagster.image``.

    The floe image appears in floe-dagster's ``image``, in floe-jobs' ``image``, in the official
    chart's code location (``dagster.dagster-user-deployments.deployments[].image``) and in the
    init container staging the artifacts (in the code location and in every run pod). Helm
    replaces lists whole, so the lists are restated from ``values`` (the merged umbrella values)
    with only the floe image's entries changed. An entry counts as the floe image when its
    repository is floe-dagster's repository or the chart default's.
    """
    image = dict(dig(values, "floe-dagster", "image", default={}))
    if not image.get("repository") or not image.get("tag"):
        raise FloeError("floe-dagster.image needs a repository and a tag", hint="e.g. floe/dagster and 0.1.0")
    repositories = {image["repository"], "floe/dagster"}
    name = _image_name(image)

    def retag(container: dict[str, Any]) -> None:
        if str(container.get("image", "")).split("@")[0].rsplit(":", 1)[0] in repositories:
            container["image"] = name

    dagster = dig(values, "dagster", default={})
    run_config = copy.deepcopy(dig(dagster, "runLauncher", "config", "k8sRunLauncher", "runK8sConfig", default={}))
    for container in dig(run_config, "podSpecConfig", "initContainers", default=[]):
        retag(container)
    deployments = copy.deepcopy(dig(dagster, "dagster-user-deployments", "deployments", default=[]))
    for deployment in deployments:
        if dig(deployment, "image", "repository") in repositories:
            deployment["image"] = {**deployment["image"], "repository": image["repository"], "tag": image["tag"]}
        for container in deployment.get("initContainers", []):
            retag(container)
    plain = {key: image[key] for key in ("repository", "tag", "digest") if image.get(key)}
    overrides: dict[str, Any] = {"floe-dagster": {"image": plain}, "floe-jobs": {"image": plain}, "dagster": {}}
    if run_config:
        overrides["dagster"]["runLauncher"] = {"config": {"k8sRunLauncher": {"runK8sConfig": run_config}}}
    if deployments:
        overrides["dagster"]["dagster-user-deployments"] = {"deployments": deployments}
    return overrides
