"""floe-jobs one-off Jobs are named from their content, never from the release revision.

Argo CD renders every manifest as revision 1, so a name carrying the revision kept the same name
for a new image and hit the Job's immutable pod template; and a finished Job deleted by a TTL
was re-created (and run again) by self-heal. These tests render the chart as Helm would at two
revisions and with two images.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.charts.helm_support import (
    CHARTS_DIR,
    NAMESPACE,
    RELEASE,
    deep_merge,
    helm,
    offline_overrides,
    parse_rendered,
)

JOBS = {"jobs": [{"name": "backfill", "kind": "dbt"}, {"name": "nightly", "kind": "dbt", "schedule": "0 2 * * *"}]}


def _jobs(charts_root: Path, overrides: dict[str, Any] | None = None, *, revision: int = 1) -> list[dict[str, Any]]:
    values = deep_merge(deep_merge(offline_overrides("floe-jobs"), JOBS), overrides or {})
    with helm.Chart.load(str(charts_root / "floe-jobs")) as chart:
        chart.validate_schema(values)
        rendered = chart.render(values, name=RELEASE, namespace=NAMESPACE, revision=revision,
                                is_install=revision == 1, is_upgrade=revision > 1)
    return [d for d in parse_rendered(rendered) if d["kind"] == "Job"]


def test_the_same_content_keeps_its_name_at_every_revision(charts_root):
    first, second = _jobs(charts_root, revision=1), _jobs(charts_root, revision=2)
    assert len(first) == 1
    assert first[0]["metadata"]["name"] == second[0]["metadata"]["name"]
    assert first == second  # nothing of the Job depends on the revision


def test_a_new_image_or_command_gives_a_new_job(charts_root):
    name = _jobs(charts_root)[0]["metadata"]["name"]
    assert re.fullmatch(rf"{RELEASE}-floe-backfill-[0-9a-f]{{10}}", name), name
    new_image = _jobs(charts_root, {"image": {"tag": "0.2.0"}})[0]["metadata"]["name"]
    new_artifacts = _jobs(charts_root, {"artifacts": {"json": '{"schema_version": 1, "other": true}'}})
    new_command = _jobs(charts_root, {"jobs": [{"name": "backfill", "kind": "dbt", "command": ["floe", "run"]}]})
    names = {name, new_image, new_artifacts[0]["metadata"]["name"], new_command[0]["metadata"]["name"]}
    assert len(names) == 4, names
    assert all(len(n) <= 63 for n in names)


def test_a_long_job_name_still_fits_and_keeps_the_hash(charts_root):
    long_name = "a" * 40
    job = _jobs(charts_root, {"jobs": [{"name": long_name, "kind": "quality"}]})[0]
    name = job["metadata"]["name"]
    assert len(name) <= 63 and re.search(r"-[0-9a-f]{10}$", name), name
    assert job["metadata"]["labels"]["floe.dev/content-hash"] == name[-10:]


def test_finished_one_off_jobs_are_not_deleted_by_a_ttl(charts_root):
    """A TTL would delete the Job while it is still in the manifest: helm upgrade and Argo CD
    self-heal would re-create it and run it again. CronJob runs keep their TTL (they are owned
    by the CronJob, which no GitOps tool re-creates)."""
    job = _jobs(charts_root)[0]
    assert "ttlSecondsAfterFinished" not in job["spec"]
    values = deep_merge(offline_overrides("floe-jobs"), JOBS)
    with helm.Chart.load(str(charts_root / "floe-jobs")) as chart:
        documents = parse_rendered(chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True))
    cron = next(d for d in documents if d["kind"] == "CronJob")
    assert cron["spec"]["jobTemplate"]["spec"]["ttlSecondsAfterFinished"] == 86400


def test_no_template_reads_the_release_revision():
    offenders = [str(path.relative_to(CHARTS_DIR)) for path in CHARTS_DIR.rglob("templates/*")
                 if path.is_file() and "Revision" in path.read_text(encoding="utf-8")]
    assert offenders == [], f"templates naming objects by .Release.Revision: {offenders}"
