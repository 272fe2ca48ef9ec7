"""The ``process`` tier is honest: a test that starts a child process must say so.

A *process* here is any child process a test starts: the floe CLI in a subprocess, dbt
(``floe compile`` runs ``dbt parse`` in one), a fresh Python interpreter, a shell, hadolint, a
Dagster command. Each costs from a few hundred milliseconds to tens of seconds, so ``make unit``
leaves them out with ``-m "not process"``. Helm renders are not processes: helm-python-sdk
renders in-process through its bundled library.

While a test without a ``process``, ``integration`` or ``postgres`` mark sets up or runs,
starting a process fails the test, naming the command, so the marks cannot drift from what
the tests do. (A session fixture that starts dbt is caught only when an unmarked test is the
first to ask for it, which is exactly what ``make unit`` does.)
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

MARKS = ("process", "integration", "postgres")


def _refuse(item: pytest.Item) -> Any:
    def refused(self: subprocess.Popen[Any], args: Any, *rest: Any, **kwargs: Any) -> None:
        raise AssertionError(
            f"{item.nodeid} starts a process ({str(args)[:200]}) but is not marked: add "
            "@pytest.mark.process (or integration) so `make unit` leaves it out")

    return refused


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    return (yield from _guarded(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    return (yield from _guarded(item))


def _guarded(item: pytest.Item) -> Iterator[None]:
    if any(item.get_closest_marker(name) for name in MARKS):
        return (yield)
    original = subprocess.Popen.__init__
    subprocess.Popen.__init__ = _refuse(item)  # type: ignore[method-assign]
    try:
        return (yield)
    finally:
        subprocess.Popen.__init__ = original  # type: ignore[method-assign]
