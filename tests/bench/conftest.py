"""Fixtures of the smtpsink-bench integration tests (suite 'bench').

Owns: finding the binaries (env SMTPSINK_BIN, SMTPSINK_BENCH_BIN and
SPOOL_TOOL_BIN, default <repo>/build/..., the spool tool next to the server), starting smtpsink (or Postfix smtp-sink) on a
free loopback port and knowing when it listens without connecting to it
(a probe connection would count as a served session), stopping it with
SIGTERM and parsing the summary line, running smtpsink-bench with --json,
and reading the spool through tests/interop/spoolfmt.py when that module
and python3-xxhash are there.

Does not: build anything.  A missing binary fails the tests that need it,
with the command to build it; the only skips are a missing spool reader
(the spool cross-check; the summary line and --qid-log checks still run)
and Postfix's smtp-sink when it is not installed or we are not root, each
printed (-ra), never silent.
"""

import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SUMMARY_RE = re.compile(r"smtpsink: served (\d+) connections, (\d+) messages")
START_TIMEOUT = 20.0
STOP_TIMEOUT = 60.0
SMTP_SINK = "/usr/sbin/smtp-sink"

try:
    sys.path.insert(0, str(REPO / "tests" / "interop"))
    import spoolfmt  # noqa: E402
except ImportError as e:  # the module, or python3-xxhash under it
    spoolfmt = None
    SPOOLFMT_MISSING = str(e)
else:
    SPOOLFMT_MISSING = ""


def binary(env, default):
    p = Path(os.environ.get(env) or default)
    if not p.exists():
        pytest.fail(f"{p} is missing: build it first (meson setup build && meson compile -C build), "
                    f"or set {env}")
    return p


@pytest.fixture(scope="session")
def smtpsink_bin():
    return binary("SMTPSINK_BIN", REPO / "build" / "io" / "smtpsink")


@pytest.fixture(scope="session")
def bench_bin():
    return binary("SMTPSINK_BENCH_BIN", REPO / "build" / "bench" / "smtpsink-bench")


@pytest.fixture(scope="session")
def spool_tool_bin(smtpsink_bin):
    """smtpsink-spool: SPOOL_TOOL_BIN, else in the server's build tree
    (build/io/smtpsink -> build/tools/spool/smtpsink-spool)."""
    return binary("SPOOL_TOOL_BIN", Path(smtpsink_bin).resolve().parents[1] / "tools" / "spool" / "smtpsink-spool")


@pytest.fixture
def spool_ls(spool_tool_bin):
    """spool_ls(dir) -> every record of `smtpsink-spool --spool DIR ls --json`."""
    def ls(spool):
        p = subprocess.run([str(spool_tool_bin), "--spool", str(spool), "ls", "--json"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=120)
        assert p.returncode == 0, p.stderr.decode()
        return [json.loads(line) for line in p.stdout.decode().splitlines() if line.strip()]
    return ls


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_listening(port):
    """Is anything listening on 127.0.0.1:port?  Read from /proc, so the
    server sees no connection."""
    want = ":%04X" % port
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[1].endswith(want) and fields[3] == "0A":  # TCP_LISTEN
                return True
    return False


class Server:
    """A running server; stop() returns its stderr and summary numbers."""

    def __init__(self, argv, port, ready_text=None):
        self.port = port
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.err = b""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"{argv} exited: {self.proc.stderr.read().decode()}")
            if ready_text is not None:
                r, _, _ = select.select([self.proc.stderr], [], [], 0.1)
                if r:
                    self.err += os.read(self.proc.stderr.fileno(), 65536)
                    if ready_text.encode() in self.err:
                        return
            elif port_listening(port):
                return
            else:
                time.sleep(0.05)
        self.proc.kill()
        raise AssertionError(f"{argv} did not come up in {START_TIMEOUT} s")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            _, rest = self.proc.communicate(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, rest = self.proc.communicate()
            raise AssertionError(f"{self.argv} did not stop after SIGTERM")
        self.err += rest
        text = self.err.decode(errors="replace")
        m = SUMMARY_RE.search(text)
        summary = {"connections": int(m.group(1)), "messages": int(m.group(2))} if m else None
        return text, summary


@pytest.fixture
def smtpsink(smtpsink_bin):
    """smtpsink(*args) -> Server on a free port; stopped at the end."""
    started = []

    def start(*args):
        port = free_port()
        s = Server([str(smtpsink_bin), "--listen", f"127.0.0.1:{port}", *args], port, "listening on")
        started.append(s)
        return s

    yield start
    for s in started:
        if s.proc.poll() is None:
            s.stop()


@pytest.fixture
def started_servers():
    """A list of Servers a test started; those still running are
    terminated at its end (servers without smtpsink's summary line)."""
    started = []
    yield started
    for s in started:
        if s.proc.poll() is None:
            s.proc.terminate()
            s.proc.wait(timeout=10)


@pytest.fixture
def postfix_sink(started_servers):
    """postfix_sink(*args) -> Postfix smtp-sink on a free port (root only:
    it drops privileges to nobody)."""
    if not os.path.exists(SMTP_SINK):
        pytest.skip(f"{SMTP_SINK} is not installed (Debian package postfix)")
    if os.geteuid() != 0:
        pytest.skip("Postfix smtp-sink -u nobody needs root")

    def start(*args):
        port = free_port()
        s = Server([SMTP_SINK, "-u", "nobody", *args, f"127.0.0.1:{port}", "1000"], port)
        started_servers.append(s)
        return s

    return start


def run_bench(bench_bin, target, *args, timeout=300, rc=0):
    """Run smtpsink-bench --json; (parsed JSON, stderr).  rc: the exit
    status it must end with (1 when transactions fail or nothing connects;
    None: any)."""
    argv = [str(bench_bin), "--json", *map(str, args), target]
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    if rc is not None:
        assert p.returncode == rc, f"{argv}: exit {p.returncode}, not {rc}: {p.stderr.decode()}"
    try:
        out = json.loads(p.stdout)
    except ValueError:
        raise AssertionError(f"{argv}: not JSON: {p.stdout[:2000]!r} {p.stderr.decode()}")
    return out, p.stderr.decode()


@pytest.fixture
def bench(bench_bin):
    return lambda target, *args, **kw: run_bench(bench_bin, target, *args, **kw)


def read_qid_log(path):
    """{qid: seq} from a --qid-log file; every line must parse."""
    out = {}
    for line in Path(path).read_text().splitlines():
        qid, seq = line.split(" ")
        assert qid not in out, f"queue ID {qid} twice in {path}"
        out[qid] = int(seq)
    return out


def read_spool(spool_dir):
    if spoolfmt is None:
        pytest.skip(f"no spool reader (tests/interop/spoolfmt.py: {SPOOLFMT_MISSING}); "
                    "the summary line and --qid-log were checked")
    return spoolfmt.read_spool(str(spool_dir))
