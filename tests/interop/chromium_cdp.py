"""A headless Chromium driven over the DevTools protocol on a pipe (stdlib only).

Owns: starting Debian's `chromium --headless --remote-debugging-pipe` with a
throw-away profile, one page (tab) in it, sending protocol commands to that
page and waiting for their answers, evaluating JavaScript in it, pressing
keys, and taking a PNG screenshot; stopping the browser.

Why a pipe and not --dump-dom: the web page keeps an event stream open
(/api/events), and a pending request stops --virtual-time-budget's clock,
so `--dump-dom` never returns; --remote-debugging-pipe needs no websocket
and no port: the browser reads commands on its fd 3 and writes answers on
fd 4, each one JSON text ended by a NUL byte.

Does not: know anything about smtpsink's page (the tests do); download a
browser (the Debian package `chromium` is in tools/lib/setup.sh).
"""

import base64
import fcntl
import json
import os
import shutil
import subprocess
import threading
import time

COMMAND_TIMEOUT = 30.0  # seconds for one protocol answer on a loaded machine
START_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--no-first-run", "--no-default-browser-check", "--disable-extensions",
              "--disable-background-networking", "--disable-sync", "--mute-audio",
              "--remote-debugging-pipe"]


def chromium_path():
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _above_4(fd):
    """fd moved to a number above 4 (still close-on-exec)."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 5)
    os.close(fd)
    return moved


class CdpError(Exception):
    pass


class Chromium:
    """One headless browser with one page; use as a context manager."""

    def __init__(self, profile_dir, width=1280, height=900, log_path=None):
        exe = chromium_path()
        if exe is None:
            raise CdpError("chromium not found (Debian: apt-get install chromium; tools/lib/setup.sh lists it)")
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        # the child's ends above fd 4, so that making fds 3 and 4 cannot
        # overwrite one before it is copied (nor dup2 an fd onto itself,
        # which would keep its close-on-exec flag)
        to_child_r, from_child_w = (_above_4(fd) for fd in (to_child_r, from_child_w))

        def fds_3_and_4():
            os.dup2(to_child_r, 3)
            os.dup2(from_child_w, 4)

        argv = [exe] + START_ARGS + ["--user-data-dir=%s" % profile_dir,
                                     "--window-size=%d,%d" % (width, height), "about:blank"]
        self._log = open(log_path or os.devnull, "wb")
        # close_fds=False: fds 3 and 4 are made in preexec_fn, after which
        # close_fds would close them; every other pipe end is O_CLOEXEC.
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log,
                                     preexec_fn=fds_3_and_4, close_fds=False, start_new_session=True)
        os.close(to_child_r)
        os.close(from_child_w)
        self._next_id = 0
        self._answers = {}
        self.events = []
        self._cv = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.page("Page.enable")
        self.page("Runtime.enable")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _read(self):
        buf = b""
        while True:
            chunk = os.read(self._from_child, 1 << 16)
            if not chunk:
                break
            buf += chunk
            *messages, buf = buf.split(b"\0")
            with self._cv:
                for raw in messages:
                    msg = json.loads(raw)
                    if "id" in msg:
                        self._answers[msg["id"]] = msg
                    else:
                        self.events.append(msg)
                self._cv.notify_all()
        with self._cv:
            self._answers[None] = {"error": {"message": "chromium closed its pipe"}}
            self._cv.notify_all()

    def call(self, method, params=None, session=None, timeout=COMMAND_TIMEOUT):
        """Send one command; return its result or raise CdpError."""
        with self._cv:
            self._next_id += 1
            cid = self._next_id
        msg = {"id": cid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_child, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        with self._cv:
            while cid not in self._answers and None not in self._answers:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise CdpError("%s: no answer within %.0f s" % (method, timeout))
                self._cv.wait(left)
            answer = self._answers.pop(cid, None) or self._answers[None]
        if "error" in answer:
            raise CdpError("%s: %s" % (method, answer["error"].get("message")))
        return answer.get("result", {})

    def page(self, method, params=None):
        return self.call(method, params, session=self.session)

    def evaluate(self, expression):
        """The value of a JavaScript expression in the page (awaited if a promise)."""
        r = self.page("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                           "awaitPromise": True})
        if "exceptionDetails" in r:
            raise CdpError("%s: %s" % (expression, r["exceptionDetails"].get("text")))
        return r.get("result", {}).get("value")

    def wait_for(self, expression, timeout=15.0, what=None):
        """Evaluate expression until it is truthy; return its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError("timed out after %.0f s waiting for %s" % (timeout, what or expression))
            time.sleep(0.1)

    def navigate(self, url):
        self.page("Page.navigate", {"url": url})
        self.wait_for("document.readyState === 'complete'", what="the page to load")

    def key(self, key, code=None, keycode=0, text=None):
        """Press and release one key, as typed on a keyboard."""
        base = {"key": key, "code": code or key, "windowsVirtualKeyCode": keycode,
                "nativeVirtualKeyCode": keycode}
        down = dict(base, type="keyDown")
        if text is not None:
            down["text"] = text
        self.page("Input.dispatchKeyEvent", down)
        self.page("Input.dispatchKeyEvent", dict(base, type="keyUp"))

    def type_text(self, text):
        self.page("Input.insertText", {"text": text})

    def screenshot(self, path):
        """Save a PNG of the page's viewport to path; return its bytes."""
        data = base64.b64decode(self.page("Page.captureScreenshot", {"format": "png"})["data"])
        with open(path, "wb") as f:
            f.write(data)
        return data

    def close(self):
        if self.proc.poll() is None:
            try:
                self.call("Browser.close", timeout=5.0)
            except (CdpError, OSError):
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait()
        for fd in (self._to_child, self._from_child):
            try:
                os.close(fd)
            except OSError:
                pass
        self._log.close()
