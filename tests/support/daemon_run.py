"""Execute a floe job the way Dagster's daemon, the UI or a run pod does, not through floe run.

``python -m tests.support.daemon_run <job>`` (with ``FLOE_ARTIFACTS_PATH`` set and the
repository on ``PYTHONPATH``): the job is loaded as a reconstructable job from the code
location module, executed by Dagster's ``execute_job`` on the project's own Dagster instance
with the job's own executor (multiprocess: every step in a process of its own, as a daemon's
run worker runs it). Prints ``<run id> <success>`` last.
"""

from __future__ import annotations

import sys
from typing import Any


def job(name: str = "all") -> Any:
    """The job from the code location module (what a code server loads)."""
    from floe.orchestration.definitions import defs

    return defs.resolve_job_def(name)


def main(name: str) -> None:
    from dagster import build_reconstructable_job, execute_job

    from floe.contract.project import open_compiled_project
    from floe.orchestration.instance import open_instance

    compiled = open_compiled_project()
    with open_instance(compiled) as instance:
        result = execute_job(build_reconstructable_job("tests.support.daemon_run", "job", reconstructable_args=(name,)),
                             instance=instance, raise_on_error=False)
        print(result.run_id, result.success)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "all")
