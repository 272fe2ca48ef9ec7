"""The guard of tests/support/process_tier.py is on for this unmarked (unit-tier) test."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_an_unmarked_test_cannot_start_a_process() -> None:
    with pytest.raises(AssertionError, match=r"test_an_unmarked_test_cannot_start_a_process starts a process .*"
                                             r"@pytest.mark.process"):
        subprocess.run([sys.executable, "-c", "pass"], check=False)


@pytest.mark.process
def test_a_marked_test_can() -> None:
    assert subprocess.run([sys.executable, "-c", "raise SystemExit(3)"], check=False).returncode == 3
