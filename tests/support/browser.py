"""Headless Chromium (Debian's ``chromium`` package) driven over the DevTools protocol, for UI tests.

``with Browser.running(artifacts) as browser:`` starts ``chromium --headless=new`` on a free loopback port with a
throw-away profile, attaches to its page over the websocket of ``/json`` and stops it (its process group) on
exit. ``goto``, ``wait_for_text``, ``click_text``, ``evaluate``; ``dump(name)`` writes a screenshot and the page's
text to the artifact directory. Nothing is downloaded: a missing ``chromium`` fails with the install command.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import requests
from websockets.sync.client import connect

from rehearsal.net import LOOPBACK, free_port, wait_for_port

INSTALL = "apt-get install -y chromium"
WIDTH, HEIGHT = 1280, 900  # the default window of a laptop browser: what "readable at default size" means


def chromium_binary() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        raise FileNotFoundError(f"chromium is not installed; the UI test drives it headless. Install it: {INSTALL}")
    return found


class Browser:
    def __init__(self, artifacts: Path) -> None:
        self.artifacts = artifacts
        self.profile = Path(tempfile.mkdtemp(prefix="cdc-chromium-"))
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self._ws = None
        self._ids = itertools.count(1)
        self.dumps: list[Path] = []

    @classmethod
    @contextlib.contextmanager
    def running(cls, artifacts: Path) -> Iterator[Browser]:
        browser = cls(artifacts)
        try:
            browser.start()
            yield browser
        finally:
            browser.stop()

    def start(self) -> None:
        argv = [chromium_binary(), "--headless=new", f"--remote-debugging-port={self.port}",
                f"--remote-debugging-address={LOOPBACK}", f"--user-data-dir={self.profile}",
                f"--window-size={WIDTH},{HEIGHT}", "--no-first-run", "--no-default-browser-check",
                "--disable-gpu", "--disable-dev-shm-usage", "--disable-extensions", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--metrics-recording-only", "about:blank"]
        if os.geteuid() == 0:
            argv.insert(1, "--no-sandbox")  # CI runs as root; Chromium refuses its sandbox there
        with (self.profile / "chromium.log").open("w") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        wait_for_port(self.port, 30, "chromium DevTools")
        pages = [t for t in requests.get(f"http://{LOOPBACK}:{self.port}/json", timeout=10).json()
                 if t.get("type") == "page"]
        self._ws = connect(pages[0]["webSocketDebuggerUrl"], max_size=None, open_timeout=10,
                           ping_interval=None)  # loopback: no keepalive, a busy browser may not pong in time
        for domain in ("Page", "Runtime", "Network"):
            self.send(f"{domain}.enable")

    def stop(self) -> None:
        if self._ws is not None:
            with contextlib.suppress(Exception):
                self._ws.close()
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        shutil.rmtree(self.profile, ignore_errors=True)

    # -- the protocol ----------------------------------------------------------------------------
    def send(self, method: str, timeout: float = 30, **params) -> dict:
        """One DevTools command; events that arrive meanwhile are dropped (the tests wait on the page)."""
        message_id = next(self._ids)
        self._ws.send(json.dumps({"id": message_id, "method": method, "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            reply = json.loads(self._ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if reply.get("id") == message_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def evaluate(self, expression: str):
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:200]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    # -- what a test does ------------------------------------------------------------------------
    def set_cookie(self, url: str, name: str, value: str) -> None:
        self.send("Network.setCookie", url=url, name=name, value=value, path="/")

    def goto(self, url: str) -> None:
        self.send("Page.navigate", url=url)

    def text(self) -> str:
        return self.evaluate("document.body ? document.body.innerText : ''") or ""

    def wait_for(self, expression: str, timeout: float, what: str):
        """The first truthy value of a JS expression, polled; TimeoutError (after a dump) when none in time."""
        deadline = time.monotonic() + timeout
        while True:
            # A page being replaced has no context for a moment; a page busy loading (a loaded machine) may not
            # answer within send()'s timeout: both are retried until the deadline.
            with contextlib.suppress(RuntimeError, TimeoutError):
                value = self.evaluate(expression)
                if value:
                    return value
            if time.monotonic() > deadline:
                dumped = self.dump(what)
                raise TimeoutError(f"{what}: not within {timeout:.0f} s (screenshot and text: {dumped})")
            time.sleep(0.5)

    def wait_for_text(self, text: str, timeout: float = 60) -> None:
        self.wait_for(f"document.body && document.body.innerText.includes({json.dumps(text)})", timeout,
                      f"text {text!r}")

    def click_text(self, text: str, selector: str = "button, a, [role=button], [role=tab], [role=menuitem]",
                   timeout: float = 60) -> None:
        """Click the first visible, enabled element matching ``selector`` whose trimmed text (or aria-label, for an
        icon button) is ``text``."""
        token = json.dumps(f"click-{next(self._ids)}")  # a retried evaluation whose first one clicked: no 2nd click
        script = f"""(() => {{
            if (window.__cdcClicked === {token}) return true;
            const el = [...document.querySelectorAll({json.dumps(selector)})].find(e =>
                ((e.innerText || e.textContent || '').trim() === {json.dumps(text)}
                 || e.getAttribute('aria-label') === {json.dumps(text)})
                && e.offsetParent !== null && !e.disabled && e.getAttribute('aria-disabled') !== 'true');
            if (!el) return false;
            window.__cdcClicked = {token}; el.scrollIntoView({{block: 'center'}}); el.click(); return true; }})()"""
        self.wait_for(script, timeout, f"click {text!r}")

    def type_into(self, selector: str, text: str, timeout: float = 30) -> None:
        """Focus the element matching ``selector``, select its content and type ``text`` as keystrokes would."""
        self.wait_for(f"""(() => {{ const el = document.querySelector({json.dumps(selector)});
            if (!el) return false; el.scrollIntoView({{block: 'center'}}); el.focus(); el.select && el.select();
            return document.activeElement === el; }})()""", timeout, f"focus {selector}")
        self.send("Input.insertText", text=text)

    def dump(self, name: str) -> Path:
        """A screenshot and the page's text under the artifact directory; returns the screenshot's path."""
        self.artifacts.mkdir(parents=True, exist_ok=True)
        stem = self.artifacts / "".join(c if c.isalnum() else "_" for c in name)[:80]
        with contextlib.suppress(Exception):
            stem.with_suffix(".txt").write_text(f"{self.evaluate('location.href')}\n\n{self.text()}")
        with contextlib.suppress(Exception):
            data = self.send("Page.captureScreenshot", format="png")["data"]
            stem.with_suffix(".png").write_bytes(base64.b64decode(data))
        self.dumps.append(stem.with_suffix(".png"))
        return stem.with_suffix(".png")
