"""Helpers of the spool suite: binaries, a running server, SMTP senders and
the spool tool.

Owns: finding the three binaries (env SMTPSINK_BIN, SPOOL_TOOL_BIN,
SPOOL_GEN_BIN, else the build/ tree), starting smtpsink in capture mode on a
free loopback port and stopping it with SIGTERM, sending messages through
real clients (smtplib, swaks, a raw socket for BDAT) and returning the queue
ID each one got, running smtpsink-spool and parsing its JSON, and undoing
mboxrd quoting.  Does not judge results: the tests do.

Everything is bounded in time: each client and tool run has a timeout, so a
test can fail but never hang.
"""

import json
import os
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import time
from pathlib import Path

import pytest

HOST = "127.0.0.1"
REPO = Path(__file__).resolve().parents[2]
QUEUED = re.compile(rb"queued as ([0-9A-Za-z]{14})")
START_TIMEOUT = 20.0
RUN_TIMEOUT = 120.0


def binary(env, *default):
    p = Path(os.environ.get(env) or REPO.joinpath(*default))
    if not os.access(p, os.X_OK):
        pytest.fail("%s not found at %s: build it (meson compile -C build) or set %s" % (default[-1], p, env),
                    pytrace=False)
    return str(p)


def server_bin():
    return binary("SMTPSINK_BIN", "build", "io", "smtpsink")


def tool_bin():
    return binary("SPOOL_TOOL_BIN", "build", "tools", "spool", "smtpsink-spool")


def gen_bin():
    return binary("SPOOL_GEN_BIN", "build", "tests", "spool", "spool_gen")


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Server:
    """smtpsink --spool DIR on a free port; stop() sends SIGTERM."""

    def __init__(self, tmp_path, spool, *extra):
        self.spool = str(spool)
        self.port = free_port()
        self.log = tmp_path / ("server-%d.log" % self.port)
        argv = [server_bin(), "--spool", self.spool, "--listen", "%s:%d" % (HOST, self.port)] + [str(a) for a in extra]
        with open(self.log, "wb") as err:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                         start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while "listening on" not in self.stderr():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                pytest.fail("smtpsink did not start: %s\n%s" % (" ".join(argv), self.stderr()), pytrace=False)
            time.sleep(0.02)

    def stderr(self):
        return self.log.read_text(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def qid_of(reply):
    m = QUEUED.search(reply if isinstance(reply, bytes) else reply.encode())
    assert m, "no queue ID in %r" % reply
    return m.group(1).decode()


def send_smtplib(port, sender, rcpts, body, mail_options=(), rcpt_options=()):
    """One transaction through smtplib; body must use CRLF line ends (data()
    dot-stuffs after any LF).  Returns the queue ID."""
    with smtplib.SMTP(HOST, port, timeout=60) as s:
        s.ehlo("client.example")
        code, resp = s.mail(sender, list(mail_options))
        assert code == 250, resp
        for r in rcpts:
            code, resp = s.rcpt(r, list(rcpt_options))
            assert code == 250, resp
        code, resp = s.data(body)
        assert code == 250, resp
        return qid_of(resp)


def _reply(sock, buf):
    """Read one whole SMTP reply from sock (buf: leftover bytes list)."""
    data = buf[0]
    while True:
        lines = data.split(b"\r\n")
        for i, ln in enumerate(lines[:-1]):
            if len(ln) >= 4 and ln[3:4] == b" ":
                end = sum(len(x) + 2 for x in lines[:i + 1])
                buf[0] = data[end:]
                return data[:end]
        chunk = sock.recv(65536)
        assert chunk, "connection closed in a reply: %r" % data
        data += chunk


def send_bdat(port, sender, rcpt, body, chunks=2):
    """BDAT (RFC 3030) over a raw socket, BODY=BINARYMIME, the body in
    `chunks` pieces, the last one with LAST.  Returns the queue ID."""
    with socket.create_connection((HOST, port), timeout=60) as sock:
        buf = [b""]
        assert _reply(sock, buf).startswith(b"220")
        for cmd in (b"EHLO bdat.example", b"MAIL FROM:<%s> BODY=BINARYMIME" % sender.encode(),
                    b"RCPT TO:<%s>" % rcpt.encode()):
            sock.sendall(cmd + b"\r\n")
            r = _reply(sock, buf)
            assert r.startswith(b"250"), (cmd, r)
        step = max(1, len(body) // chunks)
        pieces = [body[i:i + step] for i in range(0, len(body), step)] or [b""]
        for i, piece in enumerate(pieces):
            last = b" LAST" if i == len(pieces) - 1 else b""
            sock.sendall(b"BDAT %d%s\r\n" % (len(piece), last) + piece)
            r = _reply(sock, buf)
            assert r.startswith(b"250"), r
        sock.sendall(b"QUIT\r\n")
        return qid_of(r)


def send_swaks(port, sender, rcpt, data_file):
    """swaks --data FILE (swaks ends the data with CRLF itself)."""
    swaks = shutil.which("swaks")
    if swaks is None:
        pytest.fail("swaks is not installed (tools/lib/setup.sh installs it)", pytrace=False)
    p = subprocess.run([swaks, "--server", "%s:%d" % (HOST, port), "--from", sender, "--to", rcpt,
                        "--data", str(data_file), "--timeout", "60"], capture_output=True, timeout=RUN_TIMEOUT)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    return qid_of(p.stdout)


def tool(spool, *args, check=None, timeout=RUN_TIMEOUT, text=False):
    """Run smtpsink-spool --spool SPOOL ARGS; check: the expected exit code."""
    p = subprocess.run([tool_bin(), "--spool", str(spool)] + [str(a) for a in args], capture_output=True,
                       timeout=timeout, text=text)
    if check is not None:
        assert p.returncode == check, "exit %s (want %s): %s\nstdout:\n%s\nstderr:\n%s" % (
            p.returncode, check, " ".join(map(str, args)), p.stdout[-3000:], p.stderr[-3000:])
    return p


def tool_popen(spool, *args):
    return subprocess.Popen([tool_bin(), "--spool", str(spool)] + [str(a) for a in args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)


def ls_json(spool, *args):
    p = tool(spool, "ls", "--json", *args, check=0)
    return [json.loads(line) for line in p.stdout.splitlines()]


def unquote_mboxrd(b):
    """Undo mboxrd quoting: one '>' less before /^>+From /."""
    return re.sub(rb"(?m)^>(>*From )", rb"\1", b)


def generate(path, *args):
    subprocess.run([gen_bin(), str(path)] + [str(a) for a in args], check=True, timeout=RUN_TIMEOUT)
    return path
