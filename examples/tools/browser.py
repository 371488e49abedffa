#!/usr/bin/env python3
"""Drives headless Chromium over the DevTools protocol (--remote-debugging-pipe: no port, no
websocket library), for examples/ui_test.sh: open a page, then run STEPs in order.

  browser.py [--timeout S] [--width W --height H] URL STEP...

  wait JS        until the expression JS is truthy in the page (each wait bounded by --timeout)
  js JS          evaluate JS (a statement or expression), print nothing
  print JS       print the value of JS
  sh CMD         run CMD with bash (its failure fails the run)
  screenshot F   save a PNG of the page to F
  dom F          save the page's DOM (document.documentElement.outerHTML) to F

In JS, {file:PATH} is replaced by that file's content (stripped), so a shell step can hand a value
to a later wait. Chromium runs as root with --no-sandbox (the tests run in ci/sandbox.sh), its
profile in a temporary directory, and is killed by its PID at the end, whatever happens; the whole
run is bounded by an alarm. Exit 0 when every step passed, 1 with the failing step named.
"""
import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time


class Browser:
    def __init__(self, width, height):
        self.profile = tempfile.mkdtemp(prefix="mkn-chromium-")
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()
        exe = shutil.which("chromium") or shutil.which("chromium-browser")
        if exe is None:
            raise RuntimeError("chromium is not installed (Debian: apt-get install chromium)")

        def fds():
            # Via fds above 4 first: a pipe end may itself be 3 or 4.
            os.dup2(to_chrome_r, 100)
            os.dup2(from_chrome_w, 101)
            os.dup2(100, 3)
            os.dup2(101, 4)

        self.proc = subprocess.Popen(
            [exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", "--no-default-browser-check", "--disable-extensions",
             "--disable-background-networking", "--disable-sync", "--mute-audio",
             "--remote-debugging-pipe", f"--user-data-dir={self.profile}",
             f"--window-size={width},{height}", "about:blank"],
            preexec_fn=fds, close_fds=False,
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.profile, "stderr"), "wb"))
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.buf = b""
        self.next_id = 0
        self.session = None
        targets = self.call("Target.getTargets")["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        self.session = self.call("Target.attachToTarget", targetId=page["targetId"],
                                 flatten=True)["sessionId"]
        self.call("Page.enable")
        self.call("Runtime.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                  deviceScaleFactor=1, mobile=False)

    def call(self, method, **params):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params}
        if self.session is not None and not method.startswith("Target."):
            msg["sessionId"] = self.session
        os.write(self.to_chrome, json.dumps(msg).encode() + b"\0")
        while True:
            while b"\0" not in self.buf:
                chunk = os.read(self.from_chrome, 1 << 16)
                if not chunk:
                    raise RuntimeError("chromium closed its pipe: " + self.stderr())
                self.buf += chunk
            raw, self.buf = self.buf.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def eval(self, js):
        r = self.call("Runtime.evaluate", expression=js, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            raise RuntimeError(d.get("exception", {}).get("description", d.get("text")))
        return r["result"].get("value")

    def stderr(self):
        try:
            with open(os.path.join(self.profile, "stderr"), "rb") as f:
                return f.read().decode(errors="replace")[-2000:]
        except OSError:
            return ""

    def close(self):
        try:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
        shutil.rmtree(self.profile, ignore_errors=True)


def expand(js):
    def read(m):
        with open(m.group(1)) as f:
            return f.read().strip()
    return re.sub(r"\{file:([^}]+)\}", read, js)


def main(argv):
    timeout, width, height = 20.0, 1400, 1000
    while argv and argv[0].startswith("--"):
        flag, value = argv[0], argv[1]
        argv = argv[2:]
        if flag == "--timeout":
            timeout = float(value)
        elif flag == "--width":
            width = int(value)
        elif flag == "--height":
            height = int(value)
        else:
            print(f"browser.py: unknown flag {flag}", file=sys.stderr)
            return 2
    if len(argv) < 1 or len(argv[1:]) % 2:
        print(__doc__, file=sys.stderr)
        return 2
    url, steps = argv[0], list(zip(argv[1::2], argv[2::2]))
    # The whole run is bounded: a wedged browser cannot hold the test past its ctest timeout.
    signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(TimeoutError("the run took too long")))
    signal.alarm(int(timeout * (len(steps) + 2)) + 30)
    b = Browser(width, height)
    step = ("open", url)
    try:
        b.call("Page.navigate", url=url)
        for step in steps:
            verb, arg = step
            if verb == "wait":
                js = expand(arg)
                end = time.monotonic() + timeout
                while True:
                    try:
                        if b.eval(js):
                            break
                        why = "false"
                    except RuntimeError as e:  # the page still loading: not yet
                        why = str(e)
                    if time.monotonic() > end:
                        raise RuntimeError(f"not true within {timeout:g} s (last: {why})")
                    time.sleep(0.1)
            elif verb == "js":
                b.eval(expand(arg))
            elif verb == "print":
                print(b.eval(expand(arg)))
            elif verb == "sh":
                subprocess.run(["bash", "-c", arg], check=True, timeout=timeout)
            elif verb == "screenshot":
                png = b.call("Page.captureScreenshot", format="png")["data"]
                with open(arg, "wb") as f:
                    f.write(base64.b64decode(png))
            elif verb == "dom":
                with open(arg, "w") as f:
                    f.write(b.eval("document.documentElement.outerHTML"))
            else:
                raise RuntimeError(f"unknown step {verb}")
        return 0
    except Exception as e:  # every failure names its step
        print(f"browser.py: step {step[0]} {step[1]!r}: {e}", file=sys.stderr)
        try:
            print("browser.py: page text: " + str(b.eval("document.body.innerText"))[:3000], file=sys.stderr)
        except Exception:
            pass
        return 1
    finally:
        b.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
