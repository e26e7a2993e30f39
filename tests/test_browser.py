"""A real browser on the real UI: `dagster dev` on a free loopback port (temporary DAGSTER_HOME),
headless Debian chromium driven by Playwright: the asset graph shows the three layers, a gold
asset is materialized from its page, the run succeeds, a screenshot is kept."""

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import dagster as dg
import pytest

from lambda_src.handler import handler
from medallion_dagster.definitions import build_definitions
from medallion_dagster.demo import run_sensor_once
from tests.conftest import WIDE, require_binary

ROOT = Path(__file__).resolve().parents[1]
#: What this machine's chromium needs (no sandbox as root, no background traffic to Google).
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

pytestmark = pytest.mark.browser


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def graphql(base: str, query: str, variables: dict | None = None) -> dict:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        f"{base}/graphql", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["data"]


RUNS = """{ runsOrError { ... on Runs { results { runId status assetSelection { path } } } } }"""


@pytest.fixture
def dagster_dev(tmp_path, landing_dir, warehouse, recent_days):
    """`dagster dev` over an instance and a warehouse the pipeline has filled (gold's inputs
    exist and the UI knows they were materialized)."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home)
    for i, day in enumerate(recent_days):
        handler({"batch_date": day.isoformat(), "batch_id": f"ui{i}", "batch_size": 30})
    zone = build_zone(landing_dir)
    defs = build_definitions(landing_zone=zone, warehouse=warehouse, discovery=WIDE)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert all(r.success for r in run_sensor_once(defs, instance, log_level="ERROR")[0])
    port = free_port()
    env = os.environ | {
        "DAGSTER_HOME": str(home),
        "WAREHOUSE_DIR": warehouse.path,
        "LANDING_DIR": str(landing_dir),
    }
    log = (tmp_path / "dagster-dev.log").open("w")
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("dagster")),
            "dev",
            "-w",
            str(ROOT / "workspace.yaml"),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: webserver, daemon, code servers
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{base}/server_info", timeout=2).read()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    output = (tmp_path / "dagster-dev.log").read_text()[-3000:]
                    pytest.fail(f"dagster dev did not start:\n{output}")
                time.sleep(0.5)
        yield base, warehouse
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(server.pid, sig)
            except ProcessLookupError:
                break
            try:
                server.wait(timeout=15)
                break
            except subprocess.TimeoutExpired:
                continue
        log.close()


def build_zone(landing_dir):
    from medallion_dagster.landing_zone import LocalLandingZone

    return LocalLandingZone(root=str(landing_dir))


def test_materialize_a_gold_asset_from_the_ui(dagster_dev, tmp_path):
    chromium = require_binary("chromium")
    playwright = pytest.importorskip("playwright.sync_api")
    base, warehouse = dagster_dev
    before = warehouse.query("SELECT * FROM gold.daily_revenue")
    screenshot = tmp_path / "dagster-ui.png"
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS, headless=True)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        try:
            page.goto(f"{base}/asset-groups", wait_until="domcontentloaded")
            skip = page.get_by_role("button", name="Skip")
            with contextlib.suppress(playwright.TimeoutError):
                skip.click(timeout=15_000)  # a fresh DAGSTER_HOME asks to join the community
            for group in ("bronze", "silver", "gold"):
                page.get_by_text(group, exact=True).first.wait_for(timeout=60_000)
            page.goto(f"{base}/assets/gold/daily_revenue", wait_until="domcontentloaded")
            materialize = page.get_by_role("button").filter(has_text="Materialize").first
            materialize.click(timeout=60_000)
            run_id = wait_for_run(base)
            page.goto(f"{base}/runs/{run_id}", wait_until="domcontentloaded")
            page.get_by_text("Success").first.wait_for(timeout=60_000)
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    print(f"screenshot: {screenshot}")
    assert screenshot.stat().st_size > 10_000
    after = warehouse.query("SELECT * FROM gold.daily_revenue")
    assert after.equals(before)  # re-materialized from the same silver: the same numbers


def wait_for_run(base: str, timeout: float = 240) -> str:
    """The run the click launched: it must reach SUCCESS."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = graphql(base, RUNS)["runsOrError"]["results"]
        launched = [r for r in runs if r["assetSelection"] == [{"path": ["gold", "daily_revenue"]}]]
        if launched:
            run = launched[0]
            if run["status"] == "SUCCESS":
                return run["runId"]
            assert run["status"] not in ("FAILURE", "CANCELED"), run
        time.sleep(1)
    pytest.fail("the run launched from the UI did not finish in time")
