"""The ecommerce template's ingestion block, switched for tests."""

from __future__ import annotations

from pathlib import Path

WALL_CLOCK = "    clock: wall\n    backfill: 7d\n"
REALISTIC_RATE = "      type: realistic\n      per_hour: 1200\n"


def use_virtual_clock(root: Path, rows: int = 1000) -> None:
    """Make the project in ``root`` replay the virtual clock with a burst of ``rows`` orders per
    batch: every run lands the same rows on every machine, which tests comparing two projects
    or exact totals need (the template's wall clock lands whatever happened since last time)."""
    spec = root / "floe.yaml"
    text = spec.read_text()
    if WALL_CLOCK not in text or REALISTIC_RATE not in text:
        raise AssertionError(f"{spec}: the template's ingestion block changed; update tests/support/demo_project.py")
    spec.write_text(text.replace(WALL_CLOCK, "    clock: virtual\n    interval: 5m\n")
                    .replace(REALISTIC_RATE, f"      type: burst\n      rows: {rows}\n"))


def set_wall_rate(root: Path, per_hour: float, backfill: str = "7d") -> None:
    """Keep the wall clock, with another rate and backfill (smaller data for faster tests)."""
    spec = root / "floe.yaml"
    text = spec.read_text()
    if WALL_CLOCK not in text or REALISTIC_RATE not in text:
        raise AssertionError(f"{spec}: the template's ingestion block changed; update tests/support/demo_project.py")
    spec.write_text(text.replace(WALL_CLOCK, f"    clock: wall\n    backfill: {backfill}\n")
                    .replace(REALISTIC_RATE, f"      type: realistic\n      per_hour: {per_hour}\n"))


def observe_dev(root: Path, observability: dict[str, object]) -> None:
    """Set the ``dev`` environment's observability block of the project's platform.yaml (the
    template has other environments after it, so appending text would land in the last one)."""
    import yaml

    path = root / "platform.yaml"
    platform = yaml.safe_load(path.read_text())
    platform["environments"]["dev"]["observability"] = observability
    path.write_text(yaml.safe_dump(platform, sort_keys=False))
