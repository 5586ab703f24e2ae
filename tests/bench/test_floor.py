"""The loopback floor servers and bench/compare --floor (suite 'bench').

Covered:
  - floor-epoll and floor-uring take every message smtpsink-bench sends in
    connect, reuse, reuse --no-rset and pipeline modes (a few hundred, on
    both client backends), with the reply counts each mode implies, and
    Postfix smtp-source -d and plain (when installed);
  - a session written in pieces (command lines and the end of data split
    across reads) gets the same replies as one written whole;
  - bench/floorlib.py's round-trip count per mode equals what happened:
    every reply (connect, reuse modes) or, under strace, every send of
    floor-epoll (all modes: it sends once per read that holds a command);
  - bad arguments exit 2;
  - bench/compare --floor --rounds 1 with tiny counts prints its table (one
    row per mode, a figure or n/a in every cell, the round trips per
    message the mode implies), with smtpsink-bench and with smtp-source as
    the generator.  Speed is never asserted.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import REPO, Server, binary, free_port
from test_bench import check_reply_counts, no_errors

sys.path.insert(0, str(REPO / "bench"))
from floorlib import ROUND_TRIPS, round_trips  # noqa: E402

FLOORS = ["floor-epoll", "floor-uring"]
ENV = {"floor-epoll": "FLOOR_EPOLL_BIN", "floor-uring": "FLOOR_URING_BIN"}
MODES = [("connect", []), ("reuse", []), ("reuse", ["--no-rset"]), ("pipeline", [])]
SMTP_SOURCE = "/usr/sbin/smtp-source"
SMTP_SINK = "/usr/sbin/smtp-sink"


def floor_bin(name):
    return binary(ENV[name], REPO / "build" / "bench" / "floor" / name)


@pytest.fixture
def floor(started_servers):
    """floor(name, wrap=[]) -> Server on a free port (wrap: e.g. strace)."""
    def start(name, wrap=()):
        port = free_port()
        s = Server([*wrap, str(floor_bin(name)), f"127.0.0.1:{port}"], port, "listening on")
        started_servers.append(s)
        return s

    return start


def mode_name(mode, extra):
    return mode + ("-no-rset" if "--no-rset" in extra else "")


@pytest.mark.parametrize("io", ["uring", "epoll"])
@pytest.mark.parametrize("mode,extra", MODES, ids=[mode_name(m, e) for m, e in MODES])
@pytest.mark.parametrize("name", FLOORS)
def test_every_message_accepted(floor, bench, name, mode, extra, io):
    n = 200 if mode == "connect" else 500
    srv = floor(name)
    r, _ = bench(f"127.0.0.1:{srv.port}", "--mode", mode, *extra, "--io", io, "--connections", 4,
                 "--messages", n, "--size", "300-5000", "--seed", 3)
    assert r["messages"] == n and r["transactions_started"] == n and r["transactions_failed"] == 0
    no_errors(r)
    check_reply_counts(r, mode, "--no-rset" in extra, 1)
    if mode != "pipeline":  # one reply per write: the replies are the round trips
        replies = sum(r["replies"].values())
        assert replies == round_trips(mode_name(mode, extra), n, r["sessions"]), (replies, r["sessions"])


@pytest.mark.parametrize("name", FLOORS)
def test_smtp_source(floor, name):
    if not os.access(SMTP_SOURCE, os.X_OK):
        pytest.skip(f"{SMTP_SOURCE} is not installed (Debian package postfix)")
    srv = floor(name)
    for extra in (["-d"], []):
        p = subprocess.run([SMTP_SOURCE, "-s", "4", "-m", "100", *extra, "-l", "1000", f"127.0.0.1:{srv.port}"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        assert p.returncode == 0 and p.stderr == b"", p.stderr.decode()


@pytest.mark.parametrize("name", FLOORS)
def test_session_in_pieces(floor, name):
    """Lines and the end of data split across reads: the same replies."""
    pieces = [b"EH", b"LO x\r", b"\nMAIL FROM:<a>\r\nRC", b"PT TO:<b>\r\nDA", b"TA\r\n", b"hello\r\n.",
              b".stuffed\r\n\r", b"\n.", b"\r", b"\nQU", b"IT\r\n"]
    srv = floor(name)
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        f = s.makefile("rb")
        assert f.readline().startswith(b"220 ")
        for p in pieces:
            s.sendall(p)
            time.sleep(0.02)  # each piece its own read
        lines = [f.readline() for _ in range(7)]
        assert f.readline() == b""  # closed after QUIT
    assert [ln[:4] for ln in lines] == [b"250-", b"250 ", b"250 ", b"250 ", b"354 ", b"250 ", b"221 "], lines
    assert all(len(ln) == 30 for ln in lines[2:]), lines


@pytest.mark.parametrize("mode,extra", MODES, ids=[mode_name(m, e) for m, e in MODES])
def test_round_trips_are_sends(floor, bench, tmp_path, mode, extra):
    """floor-epoll sends once per round trip: strace counts its sends."""
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed: the reply counts checked the non-pipelined modes")
    log = tmp_path / "strace.txt"
    srv = floor("floor-epoll", wrap=[strace, "-f", "-qq", "-e", "trace=sendto", "-o", str(log)])
    n = 100 if mode == "connect" else 300
    r, _ = bench(f"127.0.0.1:{srv.port}", "--mode", mode, *extra, "--connections", 3, "--messages", n)
    tracee = subprocess.run(["pgrep", "-P", str(srv.proc.pid)], stdout=subprocess.PIPE).stdout.split()
    assert len(tracee) == 1, tracee
    os.kill(int(tracee[0]), signal.SIGTERM)
    srv.proc.wait(timeout=10)
    sends = sum(1 for ln in log.read_text().splitlines() if "sendto(" in ln)
    # every send is counted: Server() waits for "listening on", it never probes the port
    assert sends == round_trips(mode_name(mode, extra), n, r["sessions"]), (sends, r["sessions"])


@pytest.mark.parametrize("args", [[], ["-h"], ["127.0.0.1"], ["127.0.0.1:0x"], ["localhost:25"], ["a", "b"]])
@pytest.mark.parametrize("name", FLOORS)
def test_bad_arguments(name, args):
    p = subprocess.run([str(floor_bin(name)), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
    assert p.returncode == 2 and (p.stderr.startswith(b"usage: ") or b"Invalid argument" in p.stderr), p.stderr


ROW_RE = re.compile(r"^\| (connect|reuse|reuse-no-rset|pipeline|bdat) \|")


def run_compare(smtpsink_bin, bench_bin, *args, rc=0):
    argv = [sys.executable, str(REPO / "bench" / "compare"), "--floor", "--rounds", "1", "--connections", "2",
            "--messages", "60", "--connect-messages", "20", "--smtpsink", str(smtpsink_bin), "--bench",
            str(bench_bin), "--floor-epoll", str(floor_bin("floor-epoll")), "--floor-uring",
            str(floor_bin("floor-uring")), *args]
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    assert p.returncode == rc, p.stderr.decode() + p.stdout.decode()
    return p.stdout.decode(), p.stderr.decode()


def table_rows(out):
    header = [ln for ln in out.splitlines() if ln.startswith("| mode | round trips/msg |")]
    assert len(header) == 1, out
    names = ["floor-epoll", "floor-uring", "smtpsink", "smtp-sink"]
    assert header[0] == ("| mode | round trips/msg | " + " | ".join(f"{n} us/rt" for n in names) + " | " +
                         " | ".join(f"{n} / floor-epoll" for n in names[1:]) + " |"), header[0]
    rows = {}
    for ln in out.splitlines():
        if ROW_RE.match(ln):
            cells = [c.strip() for c in ln.strip("|").split("|")]
            assert len(cells) == 9, ln
            for c in cells[1:]:
                assert c == "n/a" or re.fullmatch(r"\d+\.\d\d", c), ln
            rows[cells[0]] = cells
    return rows


def need_postfix(*paths):
    for p in paths:
        if not os.access(p, os.X_OK):
            pytest.skip(f"{p} is not installed (Debian package postfix)")


def test_compare_floor(smtpsink_bin, bench_bin):
    need_postfix(SMTP_SINK)
    out, _ = run_compare(smtpsink_bin, bench_bin)
    rows = table_rows(out)
    assert list(rows) == ["connect", "reuse", "reuse-no-rset", "pipeline"], out
    for mode, cells in rows.items():
        per_msg, per_session = ROUND_TRIPS[mode]
        sessions_per_msg = 1 if mode == "connect" else 2 / 60  # 2 connections, 60 messages
        assert float(cells[1]) == pytest.approx(per_msg + per_session * sessions_per_msg, abs=0.01), (mode, out)
        assert cells[2] != "n/a" and cells[3] != "n/a" and cells[4] != "n/a" and cells[5] != "n/a", out
    assert "messages/s (medians): connect floor-epoll" in out


def test_compare_floor_smtp_source(smtpsink_bin, bench_bin):
    need_postfix(SMTP_SINK, SMTP_SOURCE)
    out, _ = run_compare(smtpsink_bin, bench_bin, "--generator", "smtp-source", "--modes", "connect,reuse-no-rset")
    rows = table_rows(out)
    assert list(rows) == ["connect", "reuse-no-rset"], out
    assert float(rows["connect"][1]) == 7.0 and float(rows["reuse-no-rset"][1]) == pytest.approx(4 + 3 * 2 / 60,
                                                                                                 abs=0.01)
    assert "generator smtp-source" in out
    _, err = run_compare(smtpsink_bin, bench_bin, "--generator", "smtp-source", "--modes", "pipeline", rc=1)
    assert "modes connect, reuse-no-rset only" in err, err
