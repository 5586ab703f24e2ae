"""Misbehaving clients against a running smtpsink, on both backends.

SMTP-EDGE-CASES.md cases 5, 55, 56, 58, 59, 60, 61 and the engine issue's
"Tests": slow clients (one byte at a time), a client that never reads its
replies (backpressure: bounded RSS, closed by --timeout), resets in the
middle of a command, DATA or BDAT, half-closed connections, timeouts at each
stage, the DATA minimum rate, --max-conns, and SIGTERM with a transaction in
flight.

Timing: assertions allow whole seconds of slack (a shared 2-core machine),
and every wait has a deadline, so a broken server fails a test, never hangs
the suite.
"""

import errno
import signal
import socket
import time

import pytest

from interop_helpers import (
    HOST, MESSAGE, Wire, WireClosed, WireTimeout, assert_queued, full_session, greet,
    server_side_state, wait_for)

TIMEOUT_421 = "421 4.4.2 smtpsink Error: timeout exceeded"
MIB = 1024


# -- slow clients ---------------------------------------------------------
def test_slow_client_byte_at_a_time(server):
    """Every byte in its own segment, through a whole DATA transaction."""
    srv = server()
    with srv.wire(nodelay=True) as w:
        w.expect(220)
        # Nothing may be answered before the line is complete.
        w.send_slowly(b"EHLO slow.example\r")
        assert w.nothing_received(0.3), "reply before the end of the line: %r" % w.buf
        w.send_slowly(b"\n")
        w.expect(250)
        for line, code in ((b"MAIL FROM:<slow@example.com>\r\n", 250),
                           (b"RCPT TO:<rcpt@example.com>\r\n", 250),
                           (b"DATA\r\n", 354)):
            w.send_slowly(line)
            w.expect(code)
        w.send_slowly(MESSAGE + b".\r")
        assert w.nothing_received(0.3), "end of data before CRLF.CRLF: %r" % w.buf
        w.send_slowly(b"\n")
        assert_queued(w.reply())
        w.send_slowly(b"QUIT\r\n")
        w.expect(221)
    srv.stop()
    assert srv.summary().get("messages") == 1, srv.summary_line()


def test_slow_client_bdat(server):
    srv = server()
    with srv.wire(nodelay=True) as w:
        greet(w)
        w.cmd("MAIL FROM:<slow@example.com>", 250)
        w.cmd("RCPT TO:<rcpt@example.com>", 250)
        content = b"Subject: slow bdat\r\n\r\nQUIT\r\n.\r\n"
        w.send_slowly(b"BDAT %d LAST\r\n" % len(content) + content[:-1])
        assert w.nothing_received(0.3), "BDAT answered before its last octet: %r" % w.buf
        w.send_slowly(content[-1:])
        assert_queued(w.reply())
        w.cmd("QUIT", 221)


# -- backpressure ---------------------------------------------------------
def test_never_reads_replies(server):
    """Pipelining NOOPs without ever reading: the server must stop reading
    when its replies cannot leave (bounded memory), and --timeout must end
    the stalled session (SMTP-EDGE-CASES 60)."""
    srv = server("--timeout", "2")
    base = srv.rss_kib()
    peak = base
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fill our window early
    s.connect((HOST, srv.port))
    client_port = s.getsockname()[1]
    s.setblocking(False)
    chunk = b"NOOP\r\n" * 10000
    pending = b"EHLO never-reads.example\r\n" + chunk
    sent = 0
    blocked_since = None
    closed_early = False
    deadline = time.monotonic() + 90
    next_rss = 0.0
    try:
        while sent < 256 * 1024 * 1024 and time.monotonic() < deadline:
            now = time.monotonic()
            if now >= next_rss:
                peak = max(peak, srv.rss_kib())
                next_rss = now + 0.05
            try:
                n = s.send(pending)
            except BlockingIOError:
                if blocked_since is None:
                    blocked_since = now
                elif now - blocked_since > 1.0:
                    break  # the server stopped reading: backpressure works
                time.sleep(0.01)
                continue
            except (ConnectionResetError, BrokenPipeError):
                closed_early = True
                break
            sent += n
            pending = pending[n:] or chunk
            blocked_since = None
        assert closed_early or blocked_since is not None, \
            "sent %d bytes of NOOPs without ever being blocked: the server buffers without bound" % sent
        assert sent > 600000, "only %d bytes sent before the server stopped reading" % sent

        # Still not reading: the stalled session must be closed by --timeout.
        def closed():
            nonlocal peak
            peak = max(peak, srv.rss_kib())
            return server_side_state(srv.port, client_port) != "ESTABLISHED"
        wait_for(closed, 30, interval=0.1, what="the server to close the stalled session")
    finally:
        s.close()
    growth = peak - base
    print("never-reads: %d NOOP bytes sent, RSS %d KiB -> peak %d KiB" % (sent, base, peak))
    assert growth < 64 * MIB, "RSS grew by %d KiB while the client did not read" % growth
    full_session(srv.host, srv.port)


def test_long_line_bounded(server):
    """8 MiB with no line end, then a command: one 500, then 250; memory stays
    bounded (SMTP-EDGE-CASES 5)."""
    srv = server()
    base = srv.rss_kib()
    peak = base
    with srv.wire() as w:
        greet(w)
        junk = b"X" * 65536
        for i in range(128):
            w.send(junk)
            if i % 8 == 0:
                peak = max(peak, srv.rss_kib())
        w.send(b"\r\nNOOP\r\n")
        r = w.expect(500)
        assert "5.5.2" in r.lines[-1], r.raw
        w.expect(250)
        peak = max(peak, srv.rss_kib())
        w.cmd("QUIT", 221)
    assert peak - base < 16 * MIB, "RSS grew by %d KiB for one long line" % (peak - base)


# -- resets and half-closed connections ----------------------------------
RESET_POINTS = {
    "command": b"MAIL FROM:<reset@example.com> SIZE=1",  # no CRLF yet
    "data": b"DATA\r\n" + MESSAGE + b"more content without an end",
    "bdat": b"BDAT 100000 LAST\r\n" + b"x" * 5000,
}


@pytest.mark.parametrize("where", sorted(RESET_POINTS))
def test_reset_mid_transaction(server, where):
    """RST in the middle of a command, DATA or BDAT: nothing is stored, and
    the server goes on serving (SMTP-EDGE-CASES 58)."""
    srv = server()
    w = srv.wire()
    greet(w)
    if where != "command":
        w.cmd("MAIL FROM:<reset@example.com>", 250)
        w.cmd("RCPT TO:<rcpt@example.com>", 250)
    if where == "data":
        w.send(b"DATA\r\n")
        w.expect(354)
        w.send(RESET_POINTS[where][len(b"DATA\r\n"):])
    else:
        w.send(RESET_POINTS[where])
    time.sleep(0.2)
    w.reset()
    for _ in range(3):
        full_session(srv.host, srv.port)
    srv.stop()
    assert srv.summary().get("messages") == 3, srv.summary_line()


def test_half_close_mid_data(server):
    """FIN after DATA content without the final dot: the session ends (at
    EOF or by --timeout), no 250, no message counted."""
    srv = server("--timeout", "2")
    with srv.wire() as w:
        greet(w)
        w.cmd("MAIL FROM:<half@example.com>", 250)
        w.cmd("RCPT TO:<rcpt@example.com>", 250)
        w.cmd("DATA", 354)
        w.send(MESSAGE)
        w.sock.shutdown(socket.SHUT_WR)
        rest = w.read_until_closed(15)
        assert rest == b"" or rest.startswith(b"421 "), \
            "after a half-close mid-DATA the server sent %r" % rest
    full_session(srv.host, srv.port)
    srv.stop()
    assert srv.summary().get("messages") == 1, srv.summary_line()


def test_half_close_after_end_of_data(server):
    """FIN right after CRLF.CRLF without reading the reply: the message is
    committed exactly once (SMTP-EDGE-CASES 59)."""
    srv = server()
    s = socket.create_connection((HOST, srv.port), timeout=30)
    client_port = s.getsockname()[1]
    s.sendall(b"EHLO half.example\r\nMAIL FROM:<half@example.com>\r\nRCPT TO:<rcpt@example.com>\r\n"
              b"DATA\r\n" + MESSAGE + b".\r\n")
    s.shutdown(socket.SHUT_WR)
    # CLOSE_WAIT: the server has seen our FIN but not closed yet.
    wait_for(lambda: server_side_state(srv.port, client_port) not in ("ESTABLISHED", "CLOSE_WAIT"),
             30, what="the server to close the half-closed session")
    s.close()
    srv.stop()
    assert srv.summary().get("messages") == 1, srv.summary_line()


# -- timeouts -------------------------------------------------------------
def _timeout_setup(w, stage):
    """Bring the session to stage; return nothing.  The server then waits."""
    if stage == "greeting":
        w.expect(220)
        return
    greet(w)
    if stage == "partial-command":
        w.send(b"MAIL FROM:<idle@exa")
        return
    w.cmd("MAIL FROM:<idle@example.com>", 250)
    if stage == "mail":
        return
    w.cmd("RCPT TO:<rcpt@example.com>", 250)
    if stage == "data":
        w.cmd("DATA", 354)
        w.send(MESSAGE[:40])
    elif stage == "bdat":
        w.send(b"BDAT 1000 LAST\r\n" + b"y" * 100)


@pytest.mark.parametrize("stage", ["data"])
def test_idle_timeout(server, stage):
    """--timeout 2: a session idle at any stage gets the 421 4.4.2 and is
    closed, within a few seconds (SMTP-EDGE-CASES 55).  Every stage is
    tested without sockets in tests/io/test_conn.c; this keeps one end to
    end on each backend."""
    srv = server("--timeout", "2")
    with srv.wire() as w:
        _timeout_setup(w, stage)
        t0 = time.monotonic()
        r = w.reply(timeout=20)
        elapsed = time.monotonic() - t0
        assert r.lines[-1] == TIMEOUT_421, r.raw
        assert 1.0 <= elapsed <= 8.0, "421 after %.2f s with --timeout 2" % elapsed
        assert w.read_until_closed(10) == b""
    full_session(srv.host, srv.port)
    srv.stop()
    assert srv.summary().get("messages") == 1, srv.summary_line()


def test_idle_timeout_default_is_long(server):
    """Without --timeout (default 300 s) a session idle for 4 s is kept."""
    srv = server()
    with srv.wire() as w:
        greet(w)
        assert w.nothing_received(4.0), "unexpected %r" % w.buf
        w.cmd("NOOP", 250)
        w.cmd("QUIT", 221)


def _trickle(w, total_seconds, bytes_per_tick, tick, stop_on_reply=True):
    """Send DATA content in small pieces; return (reply or None, elapsed)."""
    t0 = time.monotonic()
    piece = b"z" * (bytes_per_tick - 2) + b"\r\n"
    while time.monotonic() - t0 < total_seconds:
        try:
            w.send(piece)
        except (BrokenPipeError, ConnectionResetError):
            break
        if stop_on_reply and not w.nothing_received(tick):
            break
        if not stop_on_reply:
            time.sleep(tick)
    elapsed = time.monotonic() - t0
    try:
        return w.reply(timeout=5), elapsed
    except (WireTimeout, WireClosed, ConnectionResetError):
        return None, elapsed


def test_data_min_rate_cuts_slowloris(server):
    """200 B/s in DATA with --timeout 3 --data-min-rate 1000: every piece
    comes well within the idle timeout, but the average rate is too low, so
    the session is cut with the timeout 421 (SMTP-EDGE-CASES 56).  A steady
    client that is spared: tests/io/test_conn.c."""
    srv = server("--timeout", "3", "--data-min-rate", "1000")
    with srv.wire() as w:
        greet(w)
        w.cmd("MAIL FROM:<slow@example.com>", 250)
        w.cmd("RCPT TO:<rcpt@example.com>", 250)
        w.cmd("DATA", 354)
        r, elapsed = _trickle(w, 30, 50, 0.25)
        assert r is not None, "no reply after %.1f s of DATA at 200 B/s" % elapsed
        assert r.lines[-1] == TIMEOUT_421, r.raw
        assert elapsed >= 2.0, "cut after %.1f s, before the first timeout interval" % elapsed
        assert elapsed <= 20.0, "cut only after %.1f s" % elapsed
        w.read_until_closed(10)
    srv.stop()
    assert srv.summary().get("messages") == 0, srv.summary_line()


# -- connection limit -----------------------------------------------------
def test_max_conns(server):
    """--max-conns 5: the sixth connection gets 421 4.7.0 and is closed, never
    left hanging; after one session ends a new one is served again."""
    srv = server("--max-conns", "5")
    held = []
    try:
        for _ in range(5):
            w = srv.wire()
            w.expect(220)
            held.append(w)
        with srv.wire() as sixth:
            r = sixth.reply(timeout=10)
            assert r.code == 421 and "4.7.0" in r.lines[-1] and \
                "Too many connections" in r.lines[-1], r.raw
            assert sixth.read_until_closed(10) == b""
        for w in held:  # the five are unaffected
            w.cmd("NOOP", 250)
        held[0].cmd("QUIT", 221)
        held[0].read_until_closed(10)

        def served_again():
            with srv.wire() as w:
                r = w.reply(timeout=10)
                if r.code == 220:
                    w.cmd("QUIT", 221)
                    return True
                return False
        wait_for(served_again, 15, interval=0.3, what="a connection to be served after one closed")
    finally:
        for w in held:
            w.close()


# -- shutdown -------------------------------------------------------------
def _assert_not_served(srv, timeout=10.0):
    """Within timeout of SIGTERM, a new connection is refused (listener
    closed), or answered with a non-220 (421) and closed; never greeted and
    never left unanswered in the listen backlog."""
    deadline = time.monotonic() + timeout
    last = "nothing tried"
    while time.monotonic() < deadline:
        try:
            w = Wire(srv.host, srv.port, timeout=3)
        except (ConnectionRefusedError, ConnectionResetError):
            return  # refused, or reset in the handshake as the listener closed
        with w:
            try:
                r = w.reply(timeout=3)
            except (WireClosed, ConnectionResetError):
                return
            except WireTimeout:
                last = "a new connection was established but got no reply in 3 s " \
                       "(left in the backlog of a listener still open?)"
                continue
            if r.code != 220:
                w.read_until_closed(10)
                return
            last = "a new connection got %r" % r.raw
        time.sleep(0.3)  # the signal may not be handled yet
    raise AssertionError("%.0f s after SIGTERM new connections are still not refused: %s"
                         % (timeout, last))


def test_sigterm_lets_data_finish(server):
    """SIGTERM with a session mid-DATA: new connections are refused, the
    message in flight completes with 250, idle sessions are closed, exit 0
    (SMTP-EDGE-CASES 61)."""
    srv = server("--grace", "15")
    busy = srv.wire()
    idle = srv.wire()
    try:
        greet(busy)
        greet(idle)
        busy.cmd("MAIL FROM:<busy@example.com>", 250)
        busy.cmd("RCPT TO:<rcpt@example.com>", 250)
        busy.cmd("DATA", 354)
        busy.send(MESSAGE)
        time.sleep(0.2)
        srv.send_signal(signal.SIGTERM)
        _assert_not_served(srv)
        busy.send(b"The rest of the message, after SIGTERM.\r\n.\r\n")
        assert_queued(busy.reply(timeout=10))
        # After the transaction: QUIT is answered, or the server says it is
        # shutting down (421 4.3.2), or it has closed.
        try:
            r = busy.cmd("QUIT", timeout=10)
            assert r.code in (221, 421), r.raw
        except (WireClosed, BrokenPipeError, ConnectionResetError):
            pass
        busy.read_until_closed(15)
        rest = idle.read_until_closed(20)
        assert rest == b"" or rest.startswith(b"421 4.3.2 "), rest
    finally:
        busy.close()
        idle.close()
    assert srv.wait(30) == 0, srv.stderr_tail()
    assert srv.summary().get("messages") == 1, srv.summary_line()


def test_sigterm_grace_expires(server):
    """A transaction that never finishes does not hold the shutdown past
    --grace: exit 0, the client gets 421 or a close, never 250."""
    srv = server("--grace", "2")
    with srv.wire() as w:
        greet(w)
        w.cmd("MAIL FROM:<stuck@example.com>", 250)
        w.cmd("RCPT TO:<rcpt@example.com>", 250)
        w.cmd("DATA", 354)
        w.send(MESSAGE)
        time.sleep(0.2)
        t0 = time.monotonic()
        srv.send_signal(signal.SIGTERM)
        rest = w.read_until_closed(30)
        assert b"250" not in rest, rest
        assert rest == b"" or rest.startswith(b"421 "), rest
    assert srv.wait(30) == 0, srv.stderr_tail()
    elapsed = time.monotonic() - t0
    assert elapsed < 15, "exit %.1f s after SIGTERM with --grace 2" % elapsed
    assert srv.summary().get("messages") == 0, srv.summary_line()


def test_sigint_is_like_sigterm(server):
    srv = server()
    full_session(srv.host, srv.port)
    assert srv.stop(signal.SIGINT) == 0, srv.stderr_tail()
    assert srv.summary().get("messages") == 1, srv.summary_line()


def test_connect_refused_after_exit(server):
    srv = server()
    port = srv.port
    srv.stop()
    with pytest.raises(OSError) as e:
        socket.create_connection((HOST, port), timeout=5).close()
    assert e.value.errno == errno.ECONNREFUSED
