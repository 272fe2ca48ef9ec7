"""The dbt worker: a dbt process started before it is needed, so a run does not wait for dbt to import.

``floe run`` spends its first seconds importing Dagster and setting up the run; a fresh
``dbt`` process then spends over a second importing dbt-core before it reads its arguments.
The two are independent, so floe starts the worker first: it imports dbt-core and the adapter
of the compute target on the other core, then waits on a Unix socket. When the dbt step runs
dbt, the executable is ``floe-dbt``, which hands the worker its arguments, environment,
working directory and its own stdin, stdout and stderr (file descriptors passed over the
socket), and exits with the worker's exit status. From dagster-dbt's side nothing differs from
a ``dbt`` child: same arguments, same JSON lines on the same pipe, same exit code.

The worker serves one invocation and exits; its socket is renamed when it is taken, so a
second invocation (or one after the worker ended) runs plain ``dbt``. The parent binds the
socket and hands it over, so ``floe-dbt`` never arrives before the worker listens. Nothing
runs before the invocation arrives except imports: no file is read, no connection opened.

One module per side:

* :mod:`.start`: the parent (``floe run``): :class:`~.start.DbtWorker` starts the worker,
  announces it through ``FLOE_DBT_WORKER`` and stops it when the run ends.
* :mod:`.process`: the worker process itself (``python -m floe.orchestration.dbt_worker.process``).
* :mod:`.floe_dbt`: ``floe-dbt``, what dagster-dbt runs in place of ``dbt`` (standard library only).
* :mod:`.protocol`: the messages between ``floe-dbt`` and the worker.

The worker is part of floe's fast path (``floe.orchestration.fastpath``): ``FLOE_FAST_PATH=0``
turns it off with the rest. It uses no private API of Dagster or dagster-dbt: only
``DbtCliResource``'s ``dbt_executable`` setting.
"""
