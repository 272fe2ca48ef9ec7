"""A Dagster project with one every-minute schedule, on PostgreSQL storage, for the daemon tests.

The job is one trivial op run in-process: the tests count ticks, and each run must cost as
little as possible on a loaded machine.
"""

from __future__ import annotations

import textwrap
from datetime import datetime
from pathlib import Path

SCHEDULE = "every_minute"

_DEFINITIONS = textwrap.dedent('''
    from dagster import DefaultScheduleStatus, Definitions, ScheduleDefinition, in_process_executor, job, op

    @op
    def tick() -> None:
        pass

    @job(executor_def=in_process_executor)
    def every_minute_job():
        tick()

    defs = Definitions(jobs=[every_minute_job], schedules=[ScheduleDefinition(
        name="every_minute", job=every_minute_job, cron_schedule="* * * * *",
        default_status=DefaultScheduleStatus.RUNNING)])
''')


def write_tick_project(folder: Path, database: str, host: str = "127.0.0.1", port: int = 5432,
                       user: str = "postgres") -> Path:
    """defs.py, workspace.yaml and a DAGSTER_HOME (folder/home) on ``database``; returns the home."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "defs.py").write_text(_DEFINITIONS, encoding="utf-8")
    (folder / "workspace.yaml").write_text(
        "load_from:\n  - python_file: {relative_path: defs.py, working_directory: .}\n", encoding="utf-8")
    home = folder / "home"
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text(
        "storage:\n  postgres:\n"
        f"    postgres_url: \"postgresql+psycopg2://{user}@{host}:{port}/{database}\"\n"
        "telemetry: {enabled: false}\n", encoding="utf-8")
    return home


def scheduled_times(home: Path) -> list[datetime]:
    """The scheduled execution time of every run the schedule created, in run order."""
    from dagster import DagsterInstance, RunsFilter

    with DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs(filters=RunsFilter(tags={"dagster/schedule_name": SCHEDULE}))
        stamps = [run.tags.get(".dagster/scheduled_execution_time") for run in runs]
    return sorted(datetime.fromisoformat(stamp) for stamp in stamps if stamp)
