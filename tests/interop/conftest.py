"""Fixtures of the interop suite: the smtpsink binary and running servers.

Owns: finding the server binary (env SMTPSINK_BIN, default
<repo>/build/io/smtpsink), starting servers on free loopback ports, waiting
until they listen, and stopping them at the end of each test with SIGTERM,
checking the exit status 0 and the summary line of the command-line contract.
Every test that uses a server runs once per backend (`uring`, `epoll`); a
test marked `@pytest.mark.backends("uring")` runs on the named ones only.

Does not: build anything, or skip when the binary is missing.  A missing
binary fails every test with a message saying how to build it: a suite that
passes because nothing ran is worse than a red one.  The one skip is the
`uring` backend when this kernel refuses io_uring (seccomp, sysctl): it is
printed in the summary (-ra), never silent.

Figures the tests measure (RSS per idle session, ...) are collected with the
`figures` fixture and printed in a section at the end of the run, so they
show in `meson test` logs without -s.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from interop_helpers import (  # noqa: E402
    HOST, SUMMARY_PREFIX, Wire, free_port, io_uring_probe, is_listening, parse_summary, rss_kib)

REPO = Path(__file__).resolve().parents[2]
BACKENDS = ("uring", "epoll")
BACKEND_WORD = {"uring": "io_uring", "epoll": "epoll"}
START_TIMEOUT = 20.0  # seconds until "listening on"; generous for a loaded box
STOP_TIMEOUT = 30.0  # seconds after SIGTERM (plus --grace) before SIGKILL

_FIGURES = []


def pytest_configure(config):
    config.addinivalue_line("markers", "load: heavy load tests (tens of thousands of sessions)")
    config.addinivalue_line("markers", "backends(*names): run only on these backends (uring, epoll)")


def pytest_generate_tests(metafunc):
    if "backend" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("backends")
        names = marker.args if marker else BACKENDS
        metafunc.parametrize("backend", names)


def smtpsink_path():
    return Path(os.environ.get("SMTPSINK_BIN") or REPO / "build" / "io" / "smtpsink")


def pytest_report_header(config):
    p = smtpsink_path()
    uring = io_uring_probe()
    return ["smtpsink: %s (%s)" % (p, "present" if os.access(p, os.X_OK) else "MISSING"),
            "io_uring in this process: %s" % ("available" if uring is None else uring)]


def pytest_terminal_summary(terminalreporter):
    if _FIGURES:
        terminalreporter.section("smtpsink interop figures")
        for line in _FIGURES:
            terminalreporter.write_line(line)


@pytest.fixture
def figures():
    """figures(text): print text now and again in the end-of-run summary."""
    def add(text):
        print(text)
        _FIGURES.append(text)
    return add


@pytest.fixture(scope="session")
def smtpsink_bin():
    p = smtpsink_path()
    if not p.exists():
        pytest.fail("smtpsink binary not found at %s: build it (meson compile -C build) or point "
                    "SMTPSINK_BIN at it. The interop suite fails rather than skips without it."
                    % p, pytrace=False)
    if not os.access(p, os.X_OK):
        pytest.fail("%s is not executable" % p, pytrace=False)
    return str(p)


_URING_PROBE = []


@pytest.fixture
def backend(request):
    """The --io value this test runs on (parametrized: uring, epoll)."""
    name = request.param
    if name == "uring":
        if not _URING_PROBE:
            _URING_PROBE.append(io_uring_probe())
        if _URING_PROBE[0] is not None:
            pytest.skip("io_uring unavailable on this machine (%s): the uring backend cannot be "
                        "tested here" % _URING_PROBE[0])
    return name


def _option_value(args, name, default=None):
    args = list(args)
    for i, a in enumerate(args):
        if a == name and i + 1 < len(args):
            return args[i + 1]
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
    return default


class Server:
    """A running smtpsink.  Unpacks as (host, port, proc)."""

    def __init__(self, argv, host, port, proc, stderr_path, io, check_exit):
        self.argv = argv
        self.host = host
        self.port = port
        self.proc = proc
        self.pid = proc.pid
        self.stderr_path = stderr_path
        self.io = io
        self.check_exit = check_exit
        self.returncode = None
        grace = _option_value(argv, "--grace")
        self.stop_timeout = STOP_TIMEOUT + (float(grace) if grace else 0.0)

    def __iter__(self):
        return iter((self.host, self.port, self.proc))

    def stderr(self):
        return Path(self.stderr_path).read_text(errors="replace")

    def stderr_tail(self, max_lines=60):
        """The end of stderr, for messages (a server may log a lot)."""
        lines = self.stderr_lines()
        head = "[... %d earlier lines]\n" % (len(lines) - max_lines) if len(lines) > max_lines else ""
        return head + "\n".join(line[:500] for line in lines[-max_lines:])

    def stderr_lines(self):
        """Complete lines only: one still being written is not there yet."""
        return self.stderr().split("\n")[:-1]

    def listening_line(self):
        for ln in self.stderr_lines():
            if "listening on" in ln:
                return ln
        return None

    def rss_kib(self):
        return rss_kib(self.pid)

    def wire(self, **kw):
        return Wire(self.host, self.port, **kw)

    def running(self):
        return self.proc.poll() is None

    def send_signal(self, sig):
        if self.running():
            self.proc.send_signal(sig)

    def wait(self, timeout=None):
        """Wait for exit; kill (and fail) if it takes longer than timeout."""
        try:
            self.returncode = self.proc.wait(timeout=self.stop_timeout if timeout is None else timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.returncode = self.proc.wait()
            raise AssertionError("smtpsink (pid %d) did not exit within %.0f s after SIGTERM; "
                                 "killed.  stderr:\n%s" % (self.pid, timeout or self.stop_timeout,
                                                           self.stderr_tail()))
        return self.returncode

    def stop(self, sig=signal.SIGTERM, timeout=None):
        """Send sig (once) and wait for exit; return the exit status."""
        if self.returncode is not None:
            return self.returncode
        self.send_signal(sig)
        return self.wait(timeout)

    def summary_line(self):
        lines = [ln for ln in self.stderr_lines() if ln.startswith(SUMMARY_PREFIX)]
        assert len(lines) == 1, "expected one summary line starting with %r, got %d. stderr:\n%s" % (
            SUMMARY_PREFIX, len(lines), self.stderr_tail())
        return lines[0]

    def summary(self):
        """The summary line's numbers (connections, messages, bytes)."""
        return parse_summary(self.summary_line())

    def assert_clean_exit(self):
        assert self.returncode == 0, "smtpsink exited %s (expected 0). stderr:\n%s" % (
            self.returncode, self.stderr_tail())
        self.summary_line()


def http_off_unless_asked(argv):
    """argv with --no-http added unless it names --http... or --no-http:
    the server's default HTTP address (127.0.0.1:8025) would go to whichever
    test server starts first, and the API's indexer with it (its index
    sharing the spool's disk), so tests would run differently from run to
    run."""
    if any(str(a).startswith("--http") or str(a) == "--no-http" for a in argv):
        return argv
    return argv + ["--no-http"]


def start_server(bin_path, tmp_path, extra=(), io="uring", wrapper=(), listen=None, host=HOST,
                 wait=True, check_exit=True, env=None, index=0, discard=True, stdout_path=None):
    """Start smtpsink; return a Server once it listens (unless wait=False).

    listen: list of --listen values; default one TCP address on a free port
    of host.  A port taken between picking and binding is retried.
    discard: pass --discard (the default); False for a test that gives its
    own --spool DIR.  HTTP is off unless extra asks for it
    (http_off_unless_asked).  stdout_path: a file for the server's stdout (default
    /dev/null), for --trace -.
    """
    for attempt in range(5):
        port = None
        listens = listen
        if listens is None:
            port = free_port(host)
            listens = ["[%s]:%d" % (host, port) if ":" in host else "%s:%d" % (host, port)]
        argv = list(wrapper) + [bin_path] + (["--discard"] if discard else [])
        for addr in listens:
            argv += ["--listen", addr]
        if io is not None:
            argv += ["--io", io]
        argv += [str(a) for a in extra]
        argv = http_off_unless_asked(argv)
        stderr_path = tmp_path / ("smtpsink-%d-%d.stderr" % (index, attempt))
        with open(stderr_path, "wb") as err, open(stdout_path or os.devnull, "wb") as out:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                    env=env, start_new_session=True)
        srv = Server(argv, host, port, proc, stderr_path, io, check_exit)
        if not wait:
            return srv
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                text = srv.stderr()
                if listen is None and "in use" in text.lower() and attempt < 4:
                    break  # the port was taken meanwhile: try another
                raise AssertionError("smtpsink exited %d before listening: %s\nstderr:\n%s"
                                     % (proc.returncode, " ".join(argv), srv.stderr_tail()))
            line = srv.listening_line()
            if line is not None and (port is None or is_listening(port)):
                break
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                raise AssertionError("smtpsink printed no 'listening on' line (or did not listen "
                                     "on port %s) within %.0f s: %s\nstderr:\n%s"
                                     % (port, START_TIMEOUT, " ".join(argv), srv.stderr_tail()))
            time.sleep(0.02)
        if proc.poll() is not None:
            continue
        if io in BACKEND_WORD:
            assert BACKEND_WORD[io] in line, \
                "--io %s: the 'listening on' line does not name %s: %r" % (io, BACKEND_WORD[io], line)
        return srv
    raise AssertionError("could not find a free port for smtpsink in 5 attempts")


def _server_factory(smtpsink_bin, tmp_path, default_io):
    """Generator behind the server fixtures: yields start(), then stops
    every server it started and checks how each one exited."""
    started = []

    def start(*extra, io=default_io, **kw):
        srv = start_server(smtpsink_bin, tmp_path, extra=extra, io=io, index=len(started), **kw)
        started.append(srv)
        return srv

    yield start

    problems = []
    for srv in started:
        try:
            srv.stop()
        except AssertionError as e:
            problems.append(str(e))
            continue
        finally:
            if srv.running():
                os.killpg(srv.pid, signal.SIGKILL)
                srv.proc.wait()
        print("---- smtpsink %s (exit %s) stderr (%s):\n%s" % (
            " ".join(srv.argv), srv.returncode, srv.stderr_path, srv.stderr_tail()))
        if srv.check_exit:
            try:
                srv.assert_clean_exit()
            except AssertionError as e:
                problems.append(str(e))
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def server(smtpsink_bin, backend, tmp_path):
    """Factory: server(*extra_args, io=backend, wrapper=(), listen=None,
    wait=True, check_exit=True, discard=True) -> Server (unpacks as host,
    port, proc).

    Runs with --io <backend> (parametrized: uring, epoll) unless io= says
    otherwise.  Each server is stopped at teardown with SIGTERM; unless
    check_exit is False, its exit status must be 0 and its stderr must hold
    the summary line.  Its stderr is printed at teardown (pytest shows it on
    failure).
    """
    yield from _server_factory(smtpsink_bin, tmp_path, backend)


@pytest.fixture
def any_server(smtpsink_bin, tmp_path):
    """Like server, for tests that choose --io themselves (default auto) and
    so are not parametrized by backend."""
    yield from _server_factory(smtpsink_bin, tmp_path, "auto")
