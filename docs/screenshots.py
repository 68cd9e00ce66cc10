"""Take the README's screenshots of the Dagster UI in a real, headless Chromium.

    python docs/screenshots.py                          # start a demo (tiny, 2 days), shoot, stop it
    python docs/screenshots.py --url http://127.0.0.1:3000 --dagster-home .demo/dagster   # a running demo

Needs Chromium and its WebDriver from the distribution's packages (Debian/Ubuntu):

    apt-get install -y chromium chromium-driver

and nothing else: the script speaks the W3C WebDriver protocol to ``chromedriver`` over HTTP with the
standard library. It saves 1280x800 PNGs into ``docs/images/``: the asset graph, the partitions view of
the ``repositories`` asset, the ``daily_report`` asset's metadata table and a snapshot run's page. Each
page is captured only once its expected text is on screen (not a loading spinner); look at the pictures
before committing them. Not part of the test suite.

Without ``--url`` it starts ``backhub demo --scale tiny --days 2`` in a temporary home on a free port,
and stops it (SIGTERM: the demo stops its UI's whole process group) when done.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
IMAGES = REPO_ROOT / "docs" / "images"
WIDTH, HEIGHT = 1280, 800
LOCATION = "backhub_pipeline.definitions"  # the code location `backhub demo` serves


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(what: str, check: Any, timeout: float, interval: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = check()
        except (OSError, urllib.error.URLError, ValueError):
            result = None
        if result:
            return result
        time.sleep(interval)
    raise TimeoutError(f"gave up waiting for {what} after {timeout:.0f} s")


def http_json(method: str, url: str, body: Any = None, timeout: float = 60) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read() or b"null")


SKIP_DIALOG = """
const skip = Array.from(document.querySelectorAll('button')).find(b => b.innerText.trim() === 'Skip');
if (skip) { skip.click(); return 'skipped'; }
return document.readyState === 'complete' ? 'none' : null;
"""


class Browser:
    """Headless Chromium through ``chromedriver`` (W3C WebDriver over HTTP)."""

    def __init__(self, chromium: str, driver: str) -> None:
        self.port = free_port()
        self.driver = subprocess.Popen([driver, f"--port={self.port}"], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{self.port}"
        wait_for("chromedriver", lambda: http_json("GET", f"{self.base}/status")["value"]["ready"], 30, 0.2)
        capabilities = {"browserName": "chrome", "goog:chromeOptions": {
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     f"--window-size={WIDTH},{HEIGHT}", "--hide-scrollbars", "--force-device-scale-factor=1"]}}
        session = http_json("POST", f"{self.base}/session", {"capabilities": {"alwaysMatch": capabilities}})
        self.session = f"{self.base}/session/{session['value']['sessionId']}"
        # --window-size is the outer window: grow it until the page itself is WIDTH x HEIGHT.
        inner = self.script("return [window.innerWidth, window.innerHeight]")
        http_json("POST", f"{self.session}/window/rect", {"width": 2 * WIDTH - inner[0], "height": 2 * HEIGHT - inner[1]})

    def go(self, url: str) -> None:
        http_json("POST", f"{self.session}/url", {"url": url}, timeout=120)

    def script(self, source: str, *args: Any) -> Any:
        return http_json("POST", f"{self.session}/execute/sync", {"script": source, "args": list(args)})["value"]

    def shoot(self, url: str, expect: list[str], path: Path, *, settle: float = 3.0, timeout: float = 180) -> None:
        """Open ``url``, wait until every text in ``expect`` shows and no spinner does, save a PNG."""
        self.go(url)

        def ready() -> bool:
            if self.script(SKIP_DIALOG) == "skipped":  # Dagster's first-visit dialog (it stays skipped)
                return False
            text = self.script("return document.body ? document.body.innerText : ''")
            spinning = self.script("return document.querySelectorAll('[class*=Spinner], [role=progressbar]').length")
            return all(item in text for item in expect) and not spinning

        wait_for(f"{', '.join(expect)} at {url}", ready, timeout)
        time.sleep(settle)  # let the graph lay out and the last fetches paint
        png = base64.b64decode(http_json("GET", f"{self.session}/screenshot")["value"])
        path.write_bytes(png)
        print(f"saved {path} ({len(png) // 1024} KiB)")

    def close(self) -> None:
        try:
            http_json("DELETE", self.session)
        finally:
            self.driver.terminate()
            self.driver.wait(timeout=30)


def start_demo(home: Path, port: int) -> subprocess.Popen[str]:
    log = open(home.parent / "demo.log", "w")  # noqa: SIM115 (the demo's whole life)
    command = [sys.executable, "-m", "backhub_pipeline.cli", "demo", "--home", str(home), "--scale", "tiny",
               "--days", "2", "--port", str(port)]
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    print(f"starting the demo in {home} (log: {log.name}); the first start takes a few minutes")
    return subprocess.Popen(command, cwd=REPO_ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT, text=True)


def graphql(url: str, query: str) -> Any:
    answer = http_json("POST", f"{url}/graphql", {"query": query})
    if answer.get("errors"):
        raise RuntimeError(answer["errors"])
    return answer["data"]


def latest_run(url: str, job: str) -> str:
    query = ('{ runsOrError(filter: {pipelineName: "JOB", statuses: [SUCCESS]}, limit: 1) '
             '{ ... on Runs { results { runId } } } }').replace("JOB", job)
    return graphql(url, query)["runsOrError"]["results"][0]["runId"]


def partition_keys(url: str, asset: str) -> dict[str, list[str]]:
    """Dimension name -> partition keys of ``asset`` (one dimension, "default", when not multi-partitioned)."""
    query = ('{ assetNodes(assetKeys: [{path: ["ASSET"]}]) { partitionKeysByDimension { name partitionKeys } } }'
             ).replace("ASSET", asset)
    [node] = graphql(url, query)["assetNodes"]
    return {dimension["name"]: sorted(dimension["partitionKeys"]) for dimension in node["partitionKeysByDimension"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running demo's Dagster UI (default: start a demo)")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    parser.add_argument("--driver", default=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    parser.add_argument("--out", type=Path, default=IMAGES)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    demo = None
    scratch = None
    url = args.url
    try:
        if not url:
            scratch = Path(tempfile.mkdtemp(prefix="backhub-screenshots-"))
            port = free_port()
            demo = start_demo(scratch / "demo", port)
            url = f"http://127.0.0.1:{port}"
        url = url.rstrip("/")
        wait_for(f"the Dagster UI at {url}", lambda: http_json("GET", f"{url}/server_info", timeout=5), 1800, 5)
        wait_for("a daily_report", lambda: next(iter(partition_keys(url, "daily_report").values())), 600, 5)
        run_id = latest_run(url, "snapshot_job")
        [dates] = partition_keys(url, "daily_report").values()
        customer = partition_keys(url, "repositories")["customer"][0]
        date = dates[-1]
        browser = Browser(args.chromium, args.driver)
        try:
            browser.shoot(f"{url}/locations/{LOCATION}/asset-groups/backup", ["inventory", "repositories", "wikis"],
                          args.out / "asset-graph.png", settle=5)
            browser.shoot(f"{url}/assets/repositories?view=partitions&partition={customer}|{date}",
                          ["Materialized (", customer, "logical_bytes"], args.out / "partitions.png")
            browser.shoot(f"{url}/assets/daily_report?view=events&partition={date}", ["daily_report", "zoe-dev", "committed"],
                          args.out / "daily-report.png")
            browser.shoot(f"{url}/runs/{run_id}", ["snapshot_job", "RUN_SUCCESS"], args.out / "run.png", settle=4)
        finally:
            browser.close()
    finally:
        if demo is not None:
            demo.send_signal(signal.SIGTERM)
            try:
                demo.wait(timeout=60)
            except subprocess.TimeoutExpired:
                demo.kill()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
