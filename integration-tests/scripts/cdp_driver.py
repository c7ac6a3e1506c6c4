#!/usr/bin/env python3
"""Drive headless Chromium through the Chrome DevTools Protocol over a pipe.

Usage: cdp_driver.py CHROMIUM URL SCREENSHOT.png EXPRESSION

Opens URL in a fresh headless Chromium (--remote-debugging-pipe: the
protocol's JSON messages, NUL-terminated, on file descriptors 3 and 4, so no
WebSocket client is needed), then evaluates EXPRESSION in the page every
250 ms and prints each result (a JSON string the expression builds) on its
own line. A line `shot PATH` on its standard input captures a screenshot of
the page into PATH; when its standard input closes it captures one into
SCREENSHOT.png, closes the browser and exits.
"""

import base64
import json
import os
import select
import subprocess
import sys
import tempfile
import time

STEP_TIMEOUT = 30.0


class Browser:
    def __init__(self, chromium):
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()

        def fds():
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        self.profile = tempfile.mkdtemp(prefix="cdp-profile-")
        self.proc = subprocess.Popen(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--no-default-browser-check",
                "--window-size=1400,900",
                "--user-data-dir=" + self.profile,
                "--remote-debugging-pipe",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=fds,
            pass_fds=(3, 4),
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.buffer = b""
        self.next_id = 0

    def call(self, method, params=None, session=None):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + STEP_TIMEOUT
        while True:
            while b"\0" in self.buffer:
                raw, self.buffer = self.buffer.split(b"\0", 1)
                reply = json.loads(raw)
                if reply.get("id") == self.next_id:
                    if "error" in reply:
                        raise RuntimeError(f"{method}: {reply['error']}")
                    return reply.get("result", {})
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{method}: no answer from Chromium")
            ready, _, _ = select.select([self.from_browser], [], [], left)
            if ready:
                chunk = os.read(self.from_browser, 1 << 16)
                if not chunk:
                    raise RuntimeError("Chromium closed the protocol pipe")
                self.buffer += chunk

    def close(self):
        try:
            self.call("Browser.close")
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def capture(browser, session, path):
    shot = browser.call("Page.captureScreenshot", {"format": "png"}, session)
    with open(path, "wb") as f:
        f.write(base64.b64decode(shot["data"]))


def main():
    chromium, url, screenshot, expression = sys.argv[1:5]
    browser = Browser(chromium)
    try:
        target = browser.call("Target.createTarget", {"url": url})["targetId"]
        session = browser.call(
            "Target.attachToTarget", {"targetId": target, "flatten": True}
        )["sessionId"]
        while True:
            result = browser.call(
                "Runtime.evaluate",
                {"expression": expression, "returnByValue": True},
                session,
            )
            value = result.get("result", {}).get("value")
            print(value if isinstance(value, str) else json.dumps(value), flush=True)
            ready, _, _ = select.select([sys.stdin], [], [], 0.25)
            if ready:
                line = sys.stdin.readline()
                if not line:
                    break
                if line.startswith("shot "):
                    capture(browser, session, line[5:].strip())
        capture(browser, session, screenshot)
    finally:
        browser.close()


if __name__ == "__main__":
    main()
