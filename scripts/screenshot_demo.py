"""Screenshots of the running e-commerce demo for the README, taken from a real run.

    pip install "floe-runtime[docs]"            # playwright's Python package (not its browsers)
    apt-get install -y chromium                 # or set CHROMIUM=/path/to/chrome
    .venv/bin/python scripts/screenshot_demo.py [--output docs/images] [--dsn "host=127.0.0.1 user=postgres"]

Needs PostgreSQL (the serving database Cube reads; a scratch database is created and dropped)
and Node 20 with npm (Cube). In a scratch folder it creates the ecommerce demo, lands two
batches with ``floe demo run`` (the first backfills a day of orders; the marts are published to
the serving database), starts ``floe dev --native`` on the same environment, launches one more
batch through Dagster with ``floe demo trigger`` and waits for it, then photographs:

* ``demo-assets.png``: the asset catalog, grouped by layer, with the last materializations;
* ``demo-runs.png``: the runs: those ``floe demo run`` made, the one ``floe demo trigger``
  launched, and one the ``demo_every_5_minutes`` schedule started (the script waits for it);
* ``demo-checks.png``: the data checks (dbt tests) of ``stg_orders`` after the runs;
* ``demo-cube-answer.png``: revenue by region as the real Cube API answers it (``floe cube
  query``, drawn as a table page).
"""

from __future__ import annotations

import argparse
import html
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from screenshot_asset_graph import CHROMIUM_FLAGS, free_port, start_dev

FLOE = [sys.executable, "-m", "floe"]
ENVIRONMENT = "local"  # the template's environment with a serving database on the local PostgreSQL
QUERY = {"measures": ["orders.order_count", "orders.revenue"], "dimensions": ["orders.region"],
         "order": {"orders.revenue": "desc"}}


def _floe(project: Path, env: dict[str, str], *args: str) -> str:
    result = subprocess.run([*FLOE, *args], cwd=project, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"floe {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result.stdout


def _sql(dsn: str, statement: str) -> None:
    import psycopg2

    connection = psycopg2.connect(dsn)
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(statement)
    finally:
        connection.close()


def _smaller_demo(project: Path) -> None:
    """A day of history at a lower rate: the pictures need shapes, not volume."""
    spec = project / "floe.yaml"
    text = spec.read_text()
    text = text.replace("backfill: 7d", "backfill: 1d").replace("per_hour: 1200", "per_hour: 400")
    spec.write_text(text)


def _cube_page(answer: dict[str, Any], folder: Path) -> Path:
    rows = "".join(
        f"<tr><td>{html.escape(str(row.get('orders.region')))}</td>"
        f"<td class=n>{int(row['orders.order_count']):,}</td><td class=n>{float(row['orders.revenue']):,.2f}</td></tr>"
        for row in answer["data"])
    used = ", ".join(answer.get("usedPreAggregations") or {}) or "none (read from the table)"
    page = folder / "cube.html"
    page.write_text(f"""<!doctype html><meta charset=utf-8><title>Cube answer</title>
<style>body{{font:15px system-ui,sans-serif;margin:32px;color:#1f2937}} table{{border-collapse:collapse}}
td,th{{border-bottom:1px solid #e5e7eb;padding:6px 18px;text-align:left}} .n{{text-align:right}}
code,pre{{background:#f3f4f6;padding:2px 6px;border-radius:4px}} pre{{padding:12px;white-space:pre-wrap}}</style>
<h2>Revenue by region, from the Cube API</h2>
<p><code>floe cube query --env {ENVIRONMENT}</code> against <code>/cubejs-api/v1/load</code>:</p>
<pre>{html.escape(json.dumps(QUERY))}</pre>
<table><tr><th>orders.region</th><th class=n>orders.order_count</th><th class=n>orders.revenue</th></tr>{rows}</table>
<p>served from the pre-aggregation: <code>{html.escape(used)}</code></p>""")
    return page


def _shoot(pages: list[tuple[str, Path]], chromium: str, size: tuple[int, int]) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": size[0], "height": size[1]})
        for url, output in pages:
            page.goto(url, wait_until="networkidle")
            skip = page.get_by_role("button", name="Skip")  # Dagster's first-visit dialog
            try:
                skip.wait_for(state="visible", timeout=5_000)
                skip.click()
            except PlaywrightTimeout:
                pass
            page.wait_for_load_state("networkidle")
            time.sleep(4)  # graphs lay themselves out and animate to fit
            output.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(output), full_page=False)
            print(f"wrote {output}", file=sys.stderr)
        browser.close()


def _wait_for_scheduled_run(url: str, timeout_s: float = 900) -> None:
    """Until a run of the demo schedule has finished (Dagster's GraphQL API)."""
    import urllib.request

    query = ('{runsOrError(filter: {tags: [{key: "dagster/schedule_name", value: "demo_every_5_minutes"}]})'
             ' {... on Runs {results {runId status}}}}')
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        request = urllib.request.Request(f"{url}/graphql", data=json.dumps({"query": query}).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            runs = json.loads(response.read())["data"]["runsOrError"]["results"]
        if any(run["status"] in ("SUCCESS", "FAILURE") for run in runs):
            return
        time.sleep(10)
    raise SystemExit("the demo schedule started no run in time: is the daemon running?")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", type=Path, default=Path("build/screenshots"), help="folder of the PNGs")
    parser.add_argument("--dsn", default=os.environ.get("FLOE_TEST_POSTGRES_DSN",
                                                        "host=127.0.0.1 port=5432 user=postgres dbname=postgres"),
                        help="libpq DSN of a PostgreSQL server where a scratch database may be created")
    parser.add_argument("--size", default="1600x1000", help="viewport WIDTHxHEIGHT [1600x1000]")
    args = parser.parse_args(argv)
    try:
        import playwright  # noqa: F401
    except ModuleNotFoundError:
        raise SystemExit('this script needs playwright: pip install "floe-runtime[docs]"') from None
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("google-chrome")
    if not chromium:
        raise SystemExit("no Chromium found: apt-get install -y chromium, or set CHROMIUM")
    size = tuple(int(part) for part in args.size.split("x"))
    database = f"floe_shots_{uuid.uuid4().hex[:8]}"
    _sql(args.dsn, f'CREATE DATABASE "{database}"')
    scratch = Path(tempfile.mkdtemp(prefix="floe-demo-shots-"))
    dsn = dict(part.split("=", 1) for part in args.dsn.split())
    env = {**os.environ, "FLOE_ENV": ENVIRONMENT, "PGDATABASE": database, "PGHOST": dsn.get("host", "127.0.0.1"),
           "PGPORT": dsn.get("port", "5432"), "PGUSER": dsn.get("user", "postgres")}
    dev = None
    try:
        project = scratch / "shop"
        subprocess.run([*FLOE, "init", str(project), "--template", "ecommerce"], check=True, env=env,
                       stdout=subprocess.DEVNULL)
        _smaller_demo(project)
        print("landing two batches (the first backfills a day)", file=sys.stderr)
        _floe(project, env, "demo", "run", "-n", "2")
        port = free_port()
        os.environ.update({key: env[key] for key in ("FLOE_ENV", "PGDATABASE", "PGHOST", "PGPORT", "PGUSER")})
        dev = start_dev(project, port)
        url = f"http://127.0.0.1:{port}"
        print("one more batch through Dagster (floe demo trigger)", file=sys.stderr)
        _floe(project, env, "demo", "trigger", "-n", "1", "--url", url)
        print("waiting for the schedule's next run (every 5 minutes)", file=sys.stderr)
        _wait_for_scheduled_run(url)
        answer = json.loads(_floe(project, env, "cube", "query", "--json", json.dumps(QUERY)))
        _shoot([
            (f"{url}/assets", args.output / "demo-assets.png"),
            (f"{url}/runs", args.output / "demo-runs.png"),
            (f"{url}/assets/stg_orders?view=checks", args.output / "demo-checks.png"),
            (_cube_page(answer, scratch).as_uri(), args.output / "demo-cube-answer.png"),
        ], chromium, (size[0], size[1]))
    finally:
        if dev is not None:
            os.killpg(dev.pid, signal.SIGINT)
            dev.wait(timeout=120)
        shutil.rmtree(scratch, ignore_errors=True)
        _sql(args.dsn, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
