"""What a Python process does when it exits, for the two places that exit without the interpreter.

The ``floe`` command leaves without the interpreter's teardown after heavy commands
(``floe.cli.main.entry``), and the prestarted dbt worker reports dbt's status before it exits
(``floe.orchestration.dbt_worker``). Both need the interpreter's reading of ``sys.exit(code)``
and the exit steps that must still happen. Standard library only: the dbt launcher imports it.
"""

from __future__ import annotations

import sys


def exit_status(code: object) -> int:
    """What the interpreter makes of ``sys.exit(code)``: None is 0, a message is printed and 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    sys.stderr.write(f"{code}\n")
    return 1


def run_exit_handlers() -> None:
    """Run the exit handlers and flush the standard streams, as interpreter exit would."""
    import atexit

    atexit._run_exitfuncs()  # noqa: SLF001 - CPython's own exit step; there is no public way to run it early
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass


class Interrupted(KeyboardInterrupt):
    """The command was stopped by a signal (SIGINT, SIGTERM): exit ``128 + signum`` as a shell would."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def interrupt_exit_code(interrupt: KeyboardInterrupt) -> int:
    """The exit status for an interrupt: 130 for Ctrl-C (a plain KeyboardInterrupt), 143 for SIGTERM."""
    return interrupt.exit_code if isinstance(interrupt, Interrupted) else 130
