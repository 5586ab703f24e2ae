"""Helpers of the hostile-load suite: tools, flood processes, timing, checks.

Owns: finding the tools next to the server (env SPOOL_TOOL_BIN,
SMTPSINK_BENCH_BIN, FAULTFS_BIN), driving flood.py processes (start, wait
for their READY/BLOCKED lines with a deadline, stop and read their RESULT),
the shell wrapper that puts a server into a cgroup and/or under a umask
before exec, /proc readings (VmRSS, VmHWM), an honest client that times
every step of its transactions, and the terminal-safety check of tool
output.  The SMTP wire client, the free-port picker and the server fixtures
come from tests/interop (interop_helpers.py, conftest.py); nothing of them is
copied here.

Does not: judge outcomes (the tests do).  Every wait here has a deadline.
"""

import json
import os
import re
import select
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

from interop_helpers import HOST, Wire, WireClosed, WireTimeout, greet, transaction
from spool_helpers import qid_of  # noqa: F401  (re-exported for the tests)

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
FLOOD = HERE / "flood.py"
MIB = 1 << 20
# --max-size 1 MiB and the smallest segment that allows (max-size + 16 MiB):
# 18 messages of ~1 MB fill segment 1, which is then sealed.
MAX_SIZE_1M = 1048576
SMALL_SEGMENTS = ("--shards", 1, "--max-size", MAX_SIZE_1M, "--segment-size", MAX_SIZE_1M + (16 << 20))


# -- tools -------------------------------------------------------------------------
def _build_dir():
    srv = os.environ.get("SMTPSINK_BIN") or str(REPO / "build" / "io" / "smtpsink")
    return Path(srv).resolve().parents[1]


def tool_paths():
    """{"spool", "bench", "faultfs"}: paths, faultfs None when not built.
    The spool tool and bench must exist (fail, never skip: they are built
    with the server)."""
    build = _build_dir()
    spool = os.environ.get("SPOOL_TOOL_BIN") or str(build / "tools" / "spool" / "smtpsink-spool")
    bench = os.environ.get("SMTPSINK_BENCH_BIN") or str(build / "bench" / "smtpsink-bench")
    for p in (spool, bench):
        if not os.access(p, os.X_OK):
            raise AssertionError("%s not found: build it (ninja -C build) or set its *_BIN variable" % p)
    faultfs = os.environ.get("FAULTFS_BIN")
    if faultfs is None:  # run by hand: take the build's if there is one
        faultfs = str(build / "tests" / "hostile" / "faultfs")
    return {"spool": spool, "bench": bench, "faultfs": faultfs if faultfs and os.access(faultfs, os.X_OK) else None}


def run_tool(path, *args, timeout=60, check=None):
    """Run a tool, bytes out; check: the exit status it must have (None: any)."""
    argv = [str(path)] + [str(a) for a in args]
    p = subprocess.run(argv, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if check is not None:
        assert p.returncode == check, "%s: exit %d (expected %d)\n--- stdout\n%s\n--- stderr\n%s" % (
            " ".join(argv), p.returncode, check, p.stdout[-3000:].decode("utf-8", "replace"),
            p.stderr[-3000:].decode("utf-8", "replace"))
    return p


def spool_ls(tools, spool):
    """{qid: message object} from `smtpsink-spool ls --json --no-subject`."""
    p = run_tool(tools["spool"], "--spool", spool, "ls", "--json", "--no-subject", check=0, timeout=120)
    out = {}
    for line in p.stdout.split(b"\n"):  # not splitlines(): U+0085 and U+2028 are line breaks to it
        if not line:
            continue
        m = json.loads(line)
        out[m["qid"]] = m
    return out


# -- servers -----------------------------------------------------------------------
def wrapper(cgroup_procs=None, umask=None):
    """A shell prefix for start_server(wrapper=...): joins the cgroup and/or
    sets the umask, then execs the server (same PID)."""
    steps = []
    if cgroup_procs is not None:
        steps.append("echo $$ > %s" % shlex.quote(str(cgroup_procs)))
    if umask is not None:
        steps.append("umask %03o" % umask)
    steps.append('exec "$@"')
    return ["/bin/sh", "-c", " && ".join(steps), "hostile-wrapper"]


def proc_status(pid):
    """VmRSS and VmHWM (peak RSS) of pid, in bytes."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0]) * 1024
    return out


def buffer_shortages(summary_line):
    """The receive-buffer shortage count of the server's summary line
    ("N buffer shortages", or "enobufs=N"), or None."""
    m = re.search(r"(\d+) buffer shortages", summary_line) or re.search(r"enobufs[=: ]+(\d+)", summary_line)
    return int(m.group(1)) if m else None


def big_body(i):
    """A message of ~1 MB, numbered."""
    line = b"%06d " % i + b"m" * 90 + b"\r\n"
    return b"Subject: filler %d\r\n\r\n" % i + line * (1000000 // len(line))


def fill_until_sealed(port, spool, timeout, first=0, shard=0, segno=1):
    """Send ~1 MB messages on one connection until the index of segment
    segno exists; [(qid, body)] in order."""
    idx = Path(spool) / ("shard-%02d" % shard) / ("%08d.idx" % segno)
    sent = []
    deadline = time.monotonic() + timeout
    with Wire(HOST, port, timeout=30) as w:
        greet(w)
        while not idx.exists():
            assert time.monotonic() < deadline, "segment %d not sealed after %d messages of ~1 MB" % (
                segno, len(sent))
            body = big_body(first + len(sent))
            sent.append((qid_of(transaction(w, body=body)), body))
        w.cmd("QUIT", 221)
    return sent


# -- flood processes ---------------------------------------------------------------
class Flood:
    """A running flood.py (see its docstring for the modes)."""

    def __init__(self, port, mode, count, host=HOST, **opts):
        argv = [sys.executable, str(FLOOD), host, str(port), "--mode", mode, "--count", str(count)]
        for k, v in opts.items():
            argv += ["--" + k.replace("_", "-"), str(v)]
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, start_new_session=True)
        self.buf = b""
        self.lines = []
        self.result = None

    def _read_lines(self, deadline):
        """Read what stdout has until deadline or one more line; False at EOF."""
        left = deadline - time.monotonic()
        if left <= 0:
            return True
        r, _, _ = select.select([self.proc.stdout], [], [], left)
        if not r:
            return True
        chunk = os.read(self.proc.stdout.fileno(), 65536)
        if not chunk:
            return False
        self.buf += chunk
        *done, self.buf = self.buf.split(b"\n")
        self.lines += [d.decode() for d in done]
        return True

    def wait_line(self, word, timeout):
        """The first line starting with word (its remaining words); fails
        the test past timeout or if the process ends first."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.lines:
                if line.split(" ", 1)[0] == word:
                    return line[len(word):].strip()
            if time.monotonic() >= deadline:
                raise AssertionError("flood.py printed no %s line within %.0f s; got %r; stderr: %s"
                                     % (word, timeout, self.lines, self._stderr()))
            if not self._read_lines(deadline):
                self.proc.wait(timeout=10)
                raise AssertionError("flood.py ended (exit %s) without a %s line: %r; stderr: %s"
                                     % (self.proc.returncode, word, self.lines, self._stderr()))

    def ready(self, timeout=60):
        """(sessions set up, sessions failed) once READY is printed."""
        ok, failed = self.wait_line("READY", timeout).split()
        return int(ok), int(failed)

    def stop(self, timeout=30):
        """SIGTERM (unless it is ending anyway) and its RESULT as a dict."""
        if self.result is None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
            self.result = json.loads(self.wait_line("RESULT", timeout))
            self.proc.wait(timeout=timeout)
        return self.result

    def finish(self, timeout):
        """Wait for it to end by itself (duration, all closed); RESULT."""
        if self.result is None:
            self.result = json.loads(self.wait_line("RESULT", timeout))
            self.proc.wait(timeout=10)
        return self.result

    def _stderr(self):
        if self.proc.poll() is None:
            return "(running)"
        return self.proc.stderr.read().decode("utf-8", "replace")[-2000:]

    def kill(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()


# -- an honest client --------------------------------------------------------------
HONEST_BODY = b"From: <honest@example.com>\r\nSubject: honest %d\r\n\r\nAn honest message, number %d.\r\n"


class Timed:
    """Step timings of one honest transaction, in seconds; error: what went
    wrong (a timeout, a close), or None."""

    def __init__(self):
        self.steps = []
        self.error = None

    def step(self, name, fn):
        t = time.monotonic()
        try:
            return fn()
        except (WireTimeout, WireClosed, OSError) as e:
            self.error = "%s: %s" % (name, str(e).splitlines()[0][:200])
            raise
        finally:
            self.steps.append((name, time.monotonic() - t))

    @property
    def total(self):
        return sum(s for _, s in self.steps)

    def __repr__(self):
        return "%.1f ms (%s)%s" % (self.total * 1000, ", ".join("%s %.1f" % (n, s * 1000) for n, s in self.steps),
                                   " FAILED at " + self.error if self.error else "")


def honest_transaction(w, n, timeout):
    """MAIL, RCPT, DATA, body, "." on an open, greeted Wire, one command per
    round trip; returns (Timed, final Reply, body).  A timeout or close
    raises, with the Timed in the exception's .timed."""
    body = HONEST_BODY % (n, n)
    t = Timed()
    try:
        for name, line, code in (("MAIL", "MAIL FROM:<honest@example.com>", 250),
                                 ("RCPT", "RCPT TO:<rcpt@example.com>", 250), ("DATA", "DATA", 354)):
            r = t.step(name, lambda: w.cmd(line, timeout=timeout))
            if r.code != code:
                return t, r, body
        r = t.step("dot", lambda: (w.send(body + b".\r\n"), w.reply(timeout=timeout))[1])
    except (WireTimeout, WireClosed, OSError) as e:
        e.timed = t
        raise
    return t, r, body


def honest_session(host, port, timeout, source=None):
    """A whole session, timed: connect, banner, EHLO, one transaction, QUIT.
    Returns (Timed, final reply); the reply is None when a step timed out or
    the connection failed (Timed.error says which)."""
    t = Timed()
    try:
        w = t.step("connect", lambda: Wire(host, port, timeout=timeout, source=source, nodelay=True))
        with w:
            for name, fn in (("banner", lambda: w.reply(timeout=timeout)),
                             ("EHLO", lambda: w.cmd("EHLO honest.example", timeout=timeout))):
                r = t.step(name, fn)
                if r.code not in (220, 250):
                    return t, r
            tt, r, _ = honest_transaction(w, 0, timeout)
            t.steps += tt.steps
            if r.code == 250:
                t.step("QUIT", lambda: w.cmd("QUIT", timeout=timeout))
    except (WireTimeout, WireClosed, OSError) as e:
        inner = getattr(e, "timed", None)
        if inner is not None:
            t.steps += inner.steps
            t.error = inner.error
        return t, None
    return t, r


def banner_or_close(port, timeout=10.0, source=None, host=HOST):
    """Connect and return the first reply's raw bytes, or b"" if the server
    closes (or resets) first."""
    with Wire(host, port, timeout=timeout, source=source) as w:
        try:
            return w.reply(timeout=timeout).raw
        except (WireClosed, ConnectionResetError):
            return b""
        except WireTimeout:
            return None


# -- terminal safety ---------------------------------------------------------------
def terminal_unsafe(data):
    """[(offset, description)] of everything in data a terminal could act on:
    C0 controls but TAB and LF, DEL, bytes 0x80-0x9F outside valid UTF-8,
    and C1 code points (U+0080-U+009F, UTF-8 C2 80..C2 9F)."""
    bad = []
    for i, b in enumerate(data):
        if (b < 0x20 and b not in (0x09, 0x0A)) or b == 0x7F:
            bad.append((i, "control byte 0x%02X" % b))
    text = data.decode("utf-8", "surrogateescape")
    pos = 0
    for ch in text:
        cp = ord(ch)
        width = 1 if 0xDC80 <= cp <= 0xDCFF else len(ch.encode("utf-8"))
        if 0xDC80 <= cp <= 0xDC9F:
            bad.append((pos, "raw byte 0x%02X outside UTF-8" % (cp - 0xDC00)))
        elif 0x80 <= cp <= 0x9F:
            bad.append((pos, "UTF-8 encoded C1 control U+%04X" % cp))
        pos += width
    return bad


def assert_terminal_safe(data, what):
    bad = terminal_unsafe(data)
    assert not bad, "%s printed %d terminal control(s), first: %s\n--- output (repr)\n%r" % (
        what, len(bad), ", ".join("%s at %d" % (d, o) for o, d in bad[:5]), data[:3000])
