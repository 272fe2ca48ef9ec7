"""A headless-Chromium screenshot of the asset graph that native ``floe dev`` serves.

    pip install "floe-runtime[docs]"            # playwright's Python package (not its browsers)
    apt-get install -y chromium                 # or set CHROMIUM=/path/to/chrome
    .venv/bin/python scripts/screenshot_asset_graph.py [--template ecommerce] [--output build/asset-graph.png]

Creates a project from a template in a scratch folder (or uses ``--project``), compiles it,
starts ``floe dev --native``, opens an asset group's lineage graph in the system's Chromium
(Playwright drives it; no browser is downloaded), dismisses the first-visit dialog, waits for
the graph to draw, saves the screenshot and stops the stack.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_dev(project: Path, port: int) -> subprocess.Popen[str]:
    """``floe dev --native`` in its own process group; returns once it prints 'ready'."""
    floe = Path(sys.executable).parent / "floe"
    process = subprocess.Popen([str(floe), "dev", "--native", "--port", str(port)], cwd=project,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    assert process.stdout is not None
    for line in process.stdout:
        print(line, end="", file=sys.stderr)
        if line.startswith("ready in"):
            return process
    raise SystemExit(f"floe dev exited ({process.wait()}) before it was ready")


def screenshot(url: str, path: str, output: Path, chromium: str, width: int, height: int) -> None:
    try:
        from playwright.sync_api import TimeoutError as PlaywrightTimeout
        from playwright.sync_api import sync_playwright
    except ModuleNotFoundError:
        raise SystemExit('this script needs playwright: pip install "floe-runtime[docs]"') from None
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": width, "height": height})
        page.goto(f"{url}{path}", wait_until="networkidle")
        # The first visit opens a "Join the Dagster community" dialog a moment after the page.
        skip = page.get_by_role("button", name="Skip")
        try:
            skip.wait_for(state="visible", timeout=15_000)
            skip.click()
        except PlaywrightTimeout:
            pass
        page.wait_for_load_state("networkidle")
        time.sleep(3)  # the graph lays itself out and animates to fit
        output.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(output), full_page=False)
        browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project", type=Path, help="an existing floe project [default: a fresh one]")
    parser.add_argument("--template", default="ecommerce", help="template of the fresh project [ecommerce]")
    parser.add_argument("--output", type=Path, default=Path("build/asset-graph.png"), help="PNG to write")
    parser.add_argument("--size", default="1600x1000", help="viewport WIDTHxHEIGHT [1600x1000]")
    parser.add_argument("--group", default="default", help="asset group to draw [default]")
    args = parser.parse_args(argv)
    chromium = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("google-chrome")
    if not chromium:
        raise SystemExit("no Chromium found: apt-get install -y chromium, or set CHROMIUM")
    scratch = None
    project = args.project
    if project is None:
        scratch = Path(tempfile.mkdtemp(prefix="floe-screenshot-"))
        project = scratch / "shop"
        floe = Path(sys.executable).parent / "floe"
        subprocess.run([str(floe), "init", str(project), "--template", args.template], check=True,
                       stdout=subprocess.DEVNULL)
    import yaml

    location = yaml.safe_load((project / "floe.yaml").read_text())["name"]
    port = free_port()
    process = start_dev(project, port)
    try:
        width, height = (int(part) for part in args.size.split("x"))
        # The group of the dbt models, drawn expanded (the global page shows groups collapsed).
        screenshot(f"http://127.0.0.1:{port}", f"/locations/{location}/asset-groups/{args.group}",
                   args.output.resolve(), chromium, width, height)
    finally:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=60)
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
