"""Per-run logs and dbt target folders stay bounded however many runs there were."""

from __future__ import annotations

import os
from pathlib import Path

from floe.orchestration.run_folders import prune_folders


def _runs(tmp_path: Path, count: int) -> tuple[Path, Path]:
    logs, target = tmp_path / "logs", tmp_path / "target"
    logs.mkdir()
    target.mkdir()
    (target / "partial_parse.msgpack").write_text("kept: a file, not a run's folder")
    for run in range(count):
        (logs / f"run-20260101T0000{run:02d}000000.log").write_text(f"run {run}")
        folder = target / f"dbt_models-{run:08x}-abc"
        (folder / "compiled").mkdir(parents=True)
        (folder / "run_results.json").write_text("{}")
        os.utime(folder, (1_000_000 + run, 1_000_000 + run))  # older runs, older folders
    return logs, target


def test_after_more_runs_than_the_limit_only_the_newest_stay(tmp_path: Path) -> None:
    logs, target = _runs(tmp_path, 12)
    pruned = prune_folders(logs, target, logs=5, targets=3)
    assert (pruned.logs, pruned.targets) == (7, 9)
    assert sorted(p.name for p in logs.iterdir()) == [f"run-20260101T0000{r:02d}000000.log" for r in range(7, 12)]
    assert sorted(p.name for p in target.iterdir() if p.is_dir()) == [f"dbt_models-{r:08x}-abc" for r in (9, 10, 11)]
    assert (target / "partial_parse.msgpack").is_file()
    again = prune_folders(logs, target, logs=5, targets=3)
    assert (again.logs, again.targets) == (0, 0)


def test_missing_folders_are_nothing_to_prune(tmp_path: Path) -> None:
    pruned = prune_folders(tmp_path / "no-logs", tmp_path / "no-target", logs=1, targets=1)
    assert (pruned.logs, pruned.targets) == (0, 0)
