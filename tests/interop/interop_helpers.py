"""Helpers for the interop suite: a small SMTP wire client and /proc readers.

Owns: a blocking, byte-exact SMTP client over one socket (`Wire`) that reads
whole replies (multi-line included) with a deadline, the free-port picker,
and readers for what the tests check from outside the server: its RSS
(/proc/PID/status), the state of TCP sockets (/proc/net/tcp, tcp6) and the
summary line it prints on exit.  Does not start servers (conftest.py does)
and does not judge results (the tests do).

Everything here is bounded in time: every read has a deadline and raises
`WireTimeout` past it, so a test can fail but never hang.
"""

import calendar
import errno
import os
import re
import select
import shutil
import socket
import time

import pytest

HOST = "127.0.0.1"

# A small RFC 5322 message with CRLF line ends, dot-stuffing exercised by
# the ".." line (it arrives as "." in the message).
MESSAGE = (
    b"From: <sender@example.com>\r\n"
    b"To: <rcpt@example.com>\r\n"
    b"Subject: smtpsink interop\r\n"
    b"\r\n"
    b"Hello from the interop suite.\r\n"
    b"..a line that starts with a dot\r\n"
)


class WireTimeout(AssertionError):
    """No complete reply (or no close) before the deadline."""


class WireClosed(AssertionError):
    """The server closed the connection in the middle of a reply."""


class Reply:
    """One SMTP reply: its code and the text of each line (without CRLF)."""

    def __init__(self, code, lines, raw):
        self.code = code
        self.lines = lines
        self.raw = raw

    @property
    def text(self):
        return "\n".join(self.lines)

    def __repr__(self):
        return "Reply(%r)" % self.raw


def parse_reply_lines(raw_lines):
    """Build a Reply from its raw lines (bytes, without CRLF)."""
    lines = [ln.decode("utf-8", "replace") for ln in raw_lines]
    code = int(lines[-1][:3])
    return Reply(code, lines, b"\r\n".join(raw_lines) + b"\r\n")


def _complete_reply_end(buf):
    """Offset just past the first complete reply in buf, or -1."""
    pos = 0
    while True:
        nl = buf.find(b"\n", pos)
        if nl < 0:
            return -1
        line = buf[pos:nl].rstrip(b"\r")
        if len(line) < 3 or not line[:3].isdigit():
            raise AssertionError("not an SMTP reply line: %r" % buf[pos:nl + 1])
        if len(line) == 3 or line[3:4] != b"-":
            return nl + 1
        pos = nl + 1


class Wire:
    """A blocking SMTP client socket that reads whole replies.

    Nothing is sent implicitly: the caller sends exact bytes, so tests can
    pipeline, split and misbehave as they like.
    """

    def __init__(self, host=HOST, port=None, timeout=30.0, source=None, sock=None, nodelay=False,
                 rcvbuf=None):
        self.timeout = timeout
        self.buf = b""
        if sock is not None:
            self.sock = sock
            return
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if nodelay:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if source is not None:
            self.sock.bind((source, 0))
        self.sock.settimeout(timeout)
        try:
            self.sock.connect((host, port))
        except BaseException:
            self.sock.close()
            raise

    # -- sending ---------------------------------------------------------
    def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        self.sock.settimeout(self.timeout)
        self.sock.sendall(data)

    def send_slowly(self, data, delay=0.002):
        """Send data one byte per write, sleeping delay between bytes."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        for i in range(len(data)):
            self.sock.sendall(data[i:i + 1])
            if delay:
                time.sleep(delay)

    # -- receiving -------------------------------------------------------
    def _fill(self, deadline):
        """Read more bytes into buf; False at EOF.  Raises WireTimeout."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise WireTimeout("no reply within the deadline; have %r" % self.buf[-300:])
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise WireTimeout("no reply within the deadline; have %r" % self.buf[-300:]) from None
        if not chunk:
            return False
        self.buf += chunk
        return True

    def reply(self, timeout=None):
        """Read one complete reply.  Raises WireClosed on EOF before it."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            end = _complete_reply_end(self.buf)
            if end >= 0:
                raw, self.buf = self.buf[:end], self.buf[end:]
                return parse_reply_lines([ln.rstrip(b"\r") for ln in raw.split(b"\n")[:-1]])
            if not self._fill(deadline):
                raise WireClosed("connection closed before a complete reply; have %r" % self.buf)

    def replies(self, n, timeout=None):
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        return [self.reply(timeout=max(0.001, deadline - time.monotonic())) for _ in range(n)]

    def expect(self, code, timeout=None):
        r = self.reply(timeout)
        assert r.code == code, "expected %d, got %r" % (code, r.raw)
        return r

    def cmd(self, line, code=None, timeout=None):
        """Send one command line (CRLF added) and read its reply."""
        self.send(line + "\r\n" if isinstance(line, str) else line + b"\r\n")
        r = self.reply(timeout)
        if code is not None:
            assert r.code == code, "%r: expected %d, got %r" % (line, code, r.raw)
        return r

    def read_until_closed(self, timeout=None):
        """Read until the server closes; return every byte not yet consumed.

        A reset counts as closed.  Raises WireTimeout if the connection is
        still open at the deadline.
        """
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        try:
            while self._fill(deadline):
                pass
        except (ConnectionResetError, BrokenPipeError):
            pass
        data, self.buf = self.buf, b""
        return data

    def nothing_received(self, wait):
        """True if no byte arrives (and no close) within wait seconds."""
        if self.buf:
            return False
        r, _, _ = select.select([self.sock], [], [], wait)
        return not r

    def close(self):
        self.sock.close()

    def reset(self):
        """Close with an RST instead of a FIN (SO_LINGER with timeout 0)."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def greet(wire, name="client.example"):
    """Read the greeting and do EHLO; return the EHLO reply."""
    g = wire.expect(220)
    e = wire.cmd("EHLO " + name, 250)
    return g, e


def transaction(wire, sender="sender@example.com", rcpts=("rcpt@example.com",), body=MESSAGE):
    """MAIL, RCPT..., DATA, body, "." without pipelining; return the final reply."""
    wire.cmd("MAIL FROM:<%s>" % sender, 250)
    for r in rcpts:
        wire.cmd("RCPT TO:<%s>" % r, 250)
    wire.cmd("DATA", 354)
    wire.send(body + b".\r\n")
    return wire.reply()


QUEUED_RE = re.compile(r"^250[ ]2\.0\.0 Ok: queued as [\x21-\x7e]{1,20}$")


def assert_queued(reply):
    """The end-of-data reply of the contract: 250 2.0.0 Ok: queued as <ID>."""
    assert reply.code == 250 and QUEUED_RE.match(reply.lines[-1]), \
        "expected '250 2.0.0 Ok: queued as <ID>', got %r" % reply.raw


def full_session(host, port, **kw):
    """Greeting, EHLO, one transaction, QUIT; return the end-of-data reply."""
    with Wire(host, port) as w:
        greet(w)
        r = transaction(w, **kw)
        assert_queued(r)
        w.cmd("QUIT", 221)
        w.read_until_closed(10)
        return r


# -- ports, processes, /proc ----------------------------------------------
def free_port(host=HOST):
    """A TCP port that was free on host a moment ago (bound to port 0)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def rss_kib(pid):
    """VmRSS of pid in KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS in /proc/%d/status" % pid)


TCP_STATES = {
    "01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1",
    "05": "FIN_WAIT2", "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT",
    "09": "LAST_ACK", "0A": "LISTEN", "0B": "CLOSING", "0C": "NEW_SYN_RECV",
}


def _proc_net_addr(hexaddr):
    """'0100007F:0019' -> ('127.0.0.1', 25); IPv6 addresses stay hex."""
    ip, port = hexaddr.rsplit(":", 1)
    if len(ip) == 8:
        ip = socket.inet_ntoa(bytes.fromhex(ip)[::-1])
    return ip, int(port, 16)


def tcp_sockets(local_port=None, remote_port=None, local_ip=None):
    """(local (ip, port), remote (ip, port), state) of every TCP socket in
    this network namespace, filtered by local port, remote port, local ip."""
    out = []
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            f = open(path)
        except FileNotFoundError:
            continue
        with f:
            next(f)
            for line in f:
                fields = line.split()
                local = _proc_net_addr(fields[1])
                remote = _proc_net_addr(fields[2])
                if local_port is not None and local[1] != local_port:
                    continue
                if remote_port is not None and remote[1] != remote_port:
                    continue
                if local_ip is not None and local[0] != local_ip:
                    continue
                out.append((local, remote, TCP_STATES.get(fields[3], fields[3])))
    return out


def is_listening(port):
    return any(s[2] == "LISTEN" for s in tcp_sockets(local_port=port))


def count_established(port, host=HOST, peers=None):
    """Established TCP connections whose server end is host:port (and, if
    given, whose client address is one of peers: a client socket elsewhere
    on the machine can have host:port as its own ephemeral end)."""
    return sum(1 for s in tcp_sockets(local_port=port, local_ip=host)
               if s[2] == "ESTABLISHED" and (peers is None or s[1][0] in peers))


def server_side_state(server_port, client_port, host=HOST):
    """State of the server's end of the connection from client_port, or None."""
    states = [s[2] for s in tcp_sockets(local_port=server_port, remote_port=client_port,
                                        local_ip=host)]
    return states[0] if states else None


def wait_for(predicate, timeout, interval=0.05, what="condition"):
    """Poll predicate until true; fail the test if it is not within timeout."""
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(interval)


SUMMARY_PREFIX = "smtpsink: served"


def parse_summary(line):
    """Numbers from the summary line, as a dict with keys connections,
    messages, bytes (those present).

    The contract fixes only the prefix "smtpsink: served" and that the line
    reports connections, messages and bytes; both "12 connections" and
    "connections=12" (or "connections: 12") are understood, and "N message
    bytes" is preferred by coming first (the server also reports "(M bytes
    received)").
    """
    out = {}
    words = {
        "connections": r"connections?|conns?|sessions?",
        "messages": r"messages?|msgs?|mails?",
        "bytes": r"(?:message\s+)?(?:bytes?|octets?)",
    }
    for key, alt in words.items():
        m = re.search(r"\b(?:%s)\s*[=:]\s*(\d+)" % alt, line) or \
            re.search(r"(\d+)\s+(?:%s)\b" % alt, line)
        if m:
            out[key] = int(m.group(1))
    return out


def need_tool(name):
    """Path of an installed program; fail (never skip) when it is missing:
    tools/lib/setup.sh installs every tool the suite uses."""
    for d in ("/usr/bin", "/usr/sbin", "/bin", "/sbin"):
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    p = shutil.which(name)
    if p is None:
        pytest.fail("%s is not installed: run tools/lib/setup.sh's packages install "
                    "(tools/test does it as root)" % name, pytrace=False)
    return p


class HAProxy:
    """haproxy -f CFG -db, running until stop(); its output in log_path.
    Started once every port in ports listens (fails if it exits first)."""

    def __init__(self, cfg, log_path, ports, env=None):
        import subprocess
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen([need_tool("haproxy"), "-f", str(cfg), "-db"], env=env,
                                     stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)

        def ready():
            assert self.proc.poll() is None, "haproxy exited %s:\n%s" % (self.proc.returncode, self.output())
            return all(is_listening(p) for p in ports)
        wait_for(ready, 20, what="haproxy to listen")

    def output(self):
        return open(self.log_path, errors="replace").read()

    def stop(self):
        import subprocess
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def io_uring_probe():
    """None if this process may create an io_uring, else the reason."""
    import ctypes

    nr = {"x86_64": 425, "aarch64": 425, "riscv64": 425}.get(os.uname().machine, 425)
    libc = ctypes.CDLL(None, use_errno=True)
    params = ctypes.create_string_buffer(120)  # struct io_uring_params
    fd = libc.syscall(nr, 1, params)
    if fd >= 0:
        os.close(fd)
        return None
    err = ctypes.get_errno()
    return "io_uring_setup: %s (%s)" % (os.strerror(err), errno.errorcode.get(err, err))


# -- the spool tool and --trace transcripts (test_session_reports.py, test_trace.py)
def spool_tool_path():
    """smtpsink-spool: env SPOOL_TOOL_BIN, else next to the server in the
    same build tree (build/io/smtpsink -> build/tools/spool/smtpsink-spool).
    Fails (never skips) when it is missing."""
    p = os.environ.get("SPOOL_TOOL_BIN")
    if not p:
        from pathlib import Path
        srv = os.environ.get("SMTPSINK_BIN") or str(Path(__file__).resolve().parents[2] / "build" / "io" /
                                                     "smtpsink")
        p = str(Path(srv).resolve().parents[1] / "tools" / "spool" / "smtpsink-spool")
    if not os.access(p, os.X_OK):
        pytest.fail("smtpsink-spool not found at %s: build it (ninja) or set SPOOL_TOOL_BIN" % p,
                    pytrace=False)
    return p


def spool_tool(spool, *args, check=0, timeout=60):
    """Run smtpsink-spool --spool SPOOL ARGS; the exit status must be check
    (None: any).  Returns the CompletedProcess (text)."""
    import subprocess
    argv = [spool_tool_path(), "--spool", str(spool)] + [str(a) for a in args]
    p = subprocess.run(argv, capture_output=True, text=True, errors="replace", timeout=timeout,
                       stdin=subprocess.DEVNULL)
    if check is not None:
        assert p.returncode == check, "%s: exit %d (expected %d)\n--- stdout\n%s\n--- stderr\n%s" % (
            " ".join(argv), p.returncode, check, p.stdout[-4000:], p.stderr[-4000:])
    return p


# TIME SESSIONID DIR TEXT; TIME is RFC 3339 UTC with microseconds (the
# default, --trace-time utc) or SECONDS.MICROS since the session's connect
# (--trace-time session).
TRACE_LINE_RE = re.compile(r"^(?:(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)|(\d+))\.(\d{6})(Z?) (\S+) (C:|S:|--) (.*)$")


def trace_time_us(m):
    """A matched line's time in us: since the epoch (utc) or since the
    session's connect (session)."""
    if m.group(1) is not None:
        assert m.group(4) == "Z", "an RFC 3339 time without its Z: %r" % m.group(0)
        whole = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S"))
    else:
        assert m.group(4) == "", "seconds since the session with a Z: %r" % m.group(0)
        whole = int(m.group(2))
    return whole * 1000000 + int(m.group(3))


class TraceLine:
    """One transcript line: us (since the epoch, or since the session's
    connect with --trace-time session), sid, dir ("C:", "S:", "--"), text."""

    def __init__(self, us, sid, dir, text, raw):
        self.us, self.sid, self.dir, self.text, self.raw = us, sid, dir, text, raw

    def __repr__(self):
        return "TraceLine(%r)" % self.raw


def parse_trace(data):
    """--trace output (str or bytes) as a list of TraceLine; every line
    must have the documented shape "TIME SESSIONID DIR TEXT"."""
    if isinstance(data, bytes):
        data = data.decode("ascii")  # non-printable bytes are written as \xHH
    out = []
    for ln in data.splitlines():
        m = TRACE_LINE_RE.match(ln)
        assert m, "not a transcript line: %r" % ln
        out.append(TraceLine(trace_time_us(m), m.group(5), m.group(6), m.group(7), ln))
    return out


def trace_sessions(lines):
    """{session ID: [TraceLine, ...]} in file order."""
    out = {}
    for t in lines:
        out.setdefault(t.sid, []).append(t)
    return out


def traced_session(lines, client_port, client_addr=HOST):
    """The lines of the session whose connect note names client_addr and
    client_port; fails if there is not exactly one."""
    note = "connect from %s port %d " % (client_addr, client_port)
    sids = [t.sid for t in lines if t.dir == "--" and t.text.startswith(note)]
    assert len(sids) == 1, "expected one traced session from %s port %d, found %d:\n%s" % (
        client_addr, client_port, len(sids), "\n".join(t.raw for t in lines[-80:]))
    return [t for t in lines if t.sid == sids[0]]
