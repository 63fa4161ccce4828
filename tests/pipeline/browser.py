"""A headless Chromium driven over the DevTools protocol: open a page, list what went wrong.

Chromium is found on PATH; without it the browser tests skip, except under CI=true where a
missing browser is a broken CI image and fails. The websocket client is tornado's (a
dependency of distributed), so the tests need nothing beyond the project's own packages.
"""
from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def chromium_or_skip() -> str:
    for name in NAMES:
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("chromium is not installed; .ci/run installs it (apt-get install -y chromium)")
    pytest.skip("chromium is not installed (apt-get install chromium); CI runs this test")


@dataclass
class PageVisit:
    failed_requests: list[str] = field(default_factory=list)
    bad_responses: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    evaluated: object = None
    screenshot: bytes = b""


def _stop(proc: subprocess.Popen, timeout: float = 10) -> None:
    """End Chromium and every process it started (renderer, crash handler...): they write to the
    profile folder until they exit, and a folder removed under them fails with "Directory not
    empty". Chromium runs in its own session, so its process group is all of them."""
    def signal_group(sig: int) -> bool:
        try:
            os.killpg(proc.pid, sig)
            return True
        except ProcessLookupError:
            return False

    signal_group(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        proc.poll()  # reap the leader, or the group stays alive as a zombie's
        if not signal_group(0):
            return
        time.sleep(0.05)
    signal_group(signal.SIGKILL)
    proc.wait()


def _start(binary: str, profile: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                             "--hide-scrollbars", "--remote-debugging-port=0", f"--user-data-dir={profile}",
                             "--window-size=1400,1600", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    port_file = Path(profile) / "DevToolsActivePort"
    deadline = time.monotonic() + 30
    while not port_file.exists() or not port_file.read_text().strip():
        if time.monotonic() > deadline or proc.poll() is not None:
            _stop(proc)
            raise RuntimeError("chromium did not open its DevTools port")
        time.sleep(0.1)
    port = port_file.read_text().split()[0]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
        pages = [t for t in json.load(r) if t["type"] == "page"]
    return proc, pages[0]["webSocketDebuggerUrl"]


async def _visit(ws_url: str, url: str, expression: str, timeout: float) -> PageVisit:
    from tornado.websocket import websocket_connect

    conn = await websocket_connect(ws_url, max_message_size=256 * 1024 * 1024)
    ids = itertools.count(1)
    visit = PageVisit()
    loaded = asyncio.Event()
    replies: dict[int, dict] = {}

    async def reader() -> None:
        while True:
            raw = await conn.read_message()
            if raw is None:
                return
            msg = json.loads(raw)
            if "id" in msg:
                replies[msg["id"]] = msg
            method, params = msg.get("method"), msg.get("params", {})
            if method == "Network.loadingFailed":
                visit.failed_requests.append(f"{params.get('errorText')} ({params.get('requestId')})")
            elif method == "Network.responseReceived":
                resp = params["response"]
                # file:// responses carry status 0 when fine; anything >= 400 is a failure.
                if resp.get("status", 0) >= 400:
                    visit.bad_responses.append(f"{resp['status']} {resp['url']}")
            elif method == "Runtime.exceptionThrown":
                visit.errors.append(json.dumps(params.get("exceptionDetails", {}))[:500])
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                visit.errors.append(f"{params['entry'].get('text')} {params['entry'].get('url', '')}")
            elif method == "Page.loadEventFired":
                loaded.set()

    async def call(method: str, **params) -> dict:
        i = next(ids)
        conn.write_message(json.dumps({"id": i, "method": method, "params": params}))
        while i not in replies:
            await asyncio.sleep(0.02)
        reply = replies.pop(i)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    task = asyncio.ensure_future(reader())
    try:
        for domain in ("Network", "Page", "Runtime", "Log"):
            await call(f"{domain}.enable")
        await call("Page.navigate", url=url)
        await asyncio.wait_for(loaded.wait(), timeout)
        result = await call("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        visit.evaluated = result["result"].get("value")
        await asyncio.sleep(0.3)  # late request failures arrive as events
        shot = await call("Page.captureScreenshot", format="png")
        visit.screenshot = base64.b64decode(shot["data"])
    finally:
        conn.close()
        task.cancel()
    return visit


@pytest.fixture(scope="session")
def chromium() -> str:
    """The browser's path. Session scope: set up before the module's scan, so a test without a
    browser skips at once."""
    return chromium_or_skip()


def visit_page(binary: str, path: Path, expression: str = "true", timeout: float = 60) -> PageVisit:
    """Open ``path`` (a file) in headless Chromium; evaluate ``expression`` after load; screenshot."""
    with tempfile.TemporaryDirectory(prefix="ssdnet-chromium-") as profile:
        proc, ws_url = _start(binary, profile)
        try:
            return asyncio.run(_visit(ws_url, path.resolve().as_uri(), expression, timeout))
        finally:
            _stop(proc)
