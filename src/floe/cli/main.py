"""Entry point of the ``floe`` command.

Subcommands are imported only when invoked, so ``floe --help`` loads neither Dagster nor
dbt. Every command maps :class:`floe.errors.FloeError` to exit code 1 with its message, and
anything unexpected to exit code 2.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from typing import Any

import click

from floe import __version__

# name -> (module, attribute, one-line help shown by `floe --help` without importing it)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "init": ("floe.cli.init_cmd", "init", "Create a project that runs as it is."),
    "validate": ("floe.cli.validate_cmd", "validate", "Check floe.yaml and platform.yaml; report every problem."),
    "compile": ("floe.cli.compile_cmd", "compile_", "Compile the specs for one environment into .floe/."),
    "run": ("floe.cli.run_cmd", "run", "Materialize the pipeline in-process with Dagster and dbt."),
    "dev": ("floe.cli.dev_cmd", "dev", "The Dagster UI with this pipeline, locally, until Ctrl-C."),
    "preflight": ("floe.cli.preflight_cmd", "preflight", "Prove every external service of an environment works."),
    "lineage": ("floe.cli.lineage_cmd", "lineage", "Show what the last run read and wrote, from the lineage file."),
    "cube": ("floe.cli.cube_cmd", "cube", "Generate the Cube semantic model from dbt; verify it on the warehouse."),
    "demo": ("floe.cli.demo_cmd", "demo", "The live e-commerce demo: synthetic orders to Iceberg to marts."),
    "product": ("floe.cli.product_cmd", "product", "Data products of a mesh domain: init, register, list."),
    "domain": ("floe.cli.domain_cmd", "domain", "Data mesh domains: the floe-domain chart values of their products."),
    "schema": ("floe.cli.schema_cmd", "schema", "Export the JSON Schemas of the specs and the artifacts."),
    "platform": ("floe.cli.platform_cmd", "platform", "Helm values and manifests for Kubernetes; deploy them."),
    "metrics": ("floe.cli.metrics_cmd", "metrics", "Prometheus metrics of the Dagster instance: serve or show them."),
    "daemon": ("floe.cli.daemon_cmd", "daemon", "Dagster's daemon, restarted when it hangs, or leader-elected (ha)."),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module = importlib.import_module(entry[0])
        command: click.Command = getattr(module, entry[1])
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_text) for name, (_, _, help_text) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="floe")
def cli() -> None:
    """floe: describe a pipeline once, run it anywhere.

    \b
    A typical session:
      floe init shop          create a project (floe.yaml, platform.yaml, dbt/)
      cd shop
      floe validate           check both spec files, every problem at once
      floe compile --env dev  write .floe/artifacts.json and the dbt manifest
      floe run                build every model and test, with a summary

    Exit codes: 0 success, 1 a problem in your project or pipeline, 2 a bug in floe.
    """


def main(argv: list[str] | None = None) -> Any:
    """Run the CLI, turning floe's errors into exit code 1 and crashes into exit code 2."""
    from floe.errors import FloeError

    # No shell can pass a NUL byte, but a program calling floe can; every path would fail on it.
    for arg in sys.argv[1:] if argv is None else argv:
        if "\0" in arg:
            click.secho(f"error: the argument {arg!r} contains a NUL character (\\0)\n"
                        "  hint: no path or name can hold one; check how the command line is built",
                        err=True, fg="red")
            sys.exit(1)
    try:
        return cli.main(args=argv, prog_name="floe", standalone_mode=False)
    except click.exceptions.Abort as abort:  # click's form of KeyboardInterrupt (its cause)
        from floe.process_exit import interrupt_exit_code

        cause = abort.__cause__
        click.echo("interrupted" if isinstance(cause, KeyboardInterrupt) else "aborted", err=True)
        sys.exit(interrupt_exit_code(cause) if isinstance(cause, KeyboardInterrupt) else 130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(1 if exc.exit_code == 2 else exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except FloeError as exc:
        click.secho(f"error: {exc}", err=True, fg="red")
        sys.exit(1)
    except KeyboardInterrupt as stop:  # Ctrl-C 130, SIGTERM during a run 143 (floe.process_exit.Interrupted)
        from floe.process_exit import interrupt_exit_code

        click.echo("interrupted", err=True)
        sys.exit(interrupt_exit_code(stop))
    except Exception:  # noqa: BLE001 - the one place that catches everything
        if os.environ.get("FLOE_DEBUG"):
            traceback.print_exc()
        else:
            click.echo(traceback.format_exc().strip().splitlines()[-1], err=True)
        click.secho("internal error in floe (exit 2): please report it; FLOE_DEBUG=1 shows the traceback",
                    err=True, fg="red")
        sys.exit(2)


def entry() -> None:
    """The ``floe`` command (and ``python -m floe``): ``main()``, then a quick exit.

    A run leaves Dagster, dbt-core and the run's own objects in memory: millions of objects
    that the interpreter frees one by one when it exits (0.3-0.5 s, measured). After a command
    that loaded Dagster, do what exit must do (wait for threads, run exit handlers, flush the
    streams) and leave without that teardown. Light commands exit as usual.
    """
    from floe.process_exit import exit_status, run_exit_handlers

    try:
        main()
        code = 0
    except SystemExit as stop:
        code = exit_status(stop.code)
    if "dagster" not in sys.modules:
        sys.exit(code)
    import threading

    # The interpreter's own first steps of exiting: stop thread pools and join non-daemon
    # threads (threading._shutdown), then the exit handlers and the streams.
    threading._shutdown()  # type: ignore[attr-defined]  # noqa: SLF001 - CPython's own exit step
    run_exit_handlers()
    os._exit(code)
