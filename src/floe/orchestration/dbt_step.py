"""The body of the dbt step: one ``dbt build`` through dagster-dbt, its events streamed back.

Runs only inside a Dagster run, so importing dagster-dbt (and dbt-core) here costs nothing
when definitions load. Two ways, one outcome:

* the fast path (:mod:`floe.orchestration.fastpath.dbt_step`): dbt started in the dbt worker
  before dagster-dbt is imported; floe's light specs (``dbt_specs``) hand dagster-dbt the
  manifest and translator explicitly;
* stock: the definitions were built by dagster-dbt's own ``@dbt_assets`` (see ``builder``),
  and ``DbtCliResource.cli(args, context=context)`` does everything, public API only.

Either way every raw dbt event also goes to floe's node listeners (terminal, lineage, tracing).
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import traceback
from collections.abc import Iterator, Sequence
from typing import Any

from dagster import AssetExecutionContext, DagsterExecutionInterruptedError

from floe.contract.project import CompiledProject
from floe.node_events import publish_invocation, publish_raw_dbt_event
from floe.orchestration.dbt_resource import FloeDbtResource
from floe.processes import interrupt_and_reap


def stream_dbt_build(context: AssetExecutionContext, compiled: CompiledProject, dbt: FloeDbtResource,
                     args: Sequence[str]) -> Iterator[Any]:
    """Run ``dbt <args>`` on the selected assets and checks; yield their Dagster events.

    ``args`` come from ``dbt_run_args.step_dbt_args`` (flags, vars, ``--state``/``--defer``).
    """
    from floe.orchestration.fastpath import enabled

    if enabled():
        from floe.orchestration.fastpath.dbt_step import stream_fast_dbt_build

        yield from stream_fast_dbt_build(context, compiled, dbt, args)
        return
    yield from stream_invocation(dbt.cli_resource().cli(list(args), context=context), context)


def stream_invocation(invocation: Any, context: AssetExecutionContext) -> Iterator[Any]:
    """dagster-dbt's events of a running dbt invocation, each raw dbt event published on the way.

    Ctrl-C or SIGTERM becomes ``DagsterExecutionInterruptedError`` wherever the main thread is.
    dagster-dbt stops dbt only when that is inside its own read of dbt's output; raised anywhere
    else (here, in a node listener, in Dagster between events) dbt ran on, and dagster-dbt's
    reader — left suspended and later closed — printed "generator ignored GeneratorExit" with a
    traceback (its bare ``except`` catches the close). So whatever ends the stream early, dbt is
    stopped here and the reader is run to its end instead of being abandoned.
    """
    publish_invocation(invocation.target_path)
    events = invocation.stream_raw_events()
    with _quiet_abandoned_reader():
        try:
            for event in events:
                publish_raw_dbt_event(event.raw_event)
                yield from event.to_default_asset_events(
                    manifest=invocation.manifest,
                    dagster_dbt_translator=invocation.dagster_dbt_translator,
                    context=context,
                    target_path=invocation.target_path,
                )
        except BaseException as error:  # interrupted, closed, or failed: no dbt may outlive the step
            interrupt_and_reap(invocation.process, float(invocation.termination_timeout_seconds))
            _finish_reader(events)
            # A reader that the error's traceback holds (the interrupt came through dagster-dbt's
            # own loop) would be closed whenever that traceback goes: close it now, quietly.
            traceback.clear_frames(error.__traceback__)
            interrupt = error.__context__
            if isinstance(error, subprocess.TimeoutExpired) and isinstance(interrupt, DagsterExecutionInterruptedError):
                # dagster-dbt forwarded the interrupt and gave up waiting for dbt: dbt is stopped
                # now, and the step ends as what it is, interrupted — not as a timeout.
                raise interrupt from None
            raise


def _finish_reader(events: Iterator[Any]) -> None:
    """End dagster-dbt's reader by its own exit rather than by a close it would ignore: with the
    pipe closed (:func:`interrupt_and_reap`), its next read fails at once, outside its bare
    ``except``, even if a child of dbt still holds the other end."""
    with contextlib.suppress(Exception):
        for _ in events:
            pass


@contextlib.contextmanager
def _quiet_abandoned_reader() -> Iterator[None]:
    """Silence exactly one unraisable: dagster-dbt's stdout reader closed while it waited at a
    ``yield`` inside its bare ``except``, as when an interrupt escapes through ``stream_raw_events``
    itself (its frame ends and takes the reader with it, out of :func:`_finish_reader`'s reach)."""
    previous = sys.unraisablehook

    def hook(unraisable: Any) -> None:
        if (unraisable.exc_type is RuntimeError and "ignored GeneratorExit" in str(unraisable.exc_value)
                and getattr(unraisable.object, "__qualname__", "").endswith("._stream_stdout")):
            return
        previous(unraisable)

    sys.unraisablehook = hook
    try:
        yield
    finally:
        if sys.unraisablehook is hook:  # someone else's hook set meanwhile stays
            sys.unraisablehook = previous
