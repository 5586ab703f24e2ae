"""--trace transcripts (io/trace.c, io/conn_trace.c), on both backends.

What a transcript promises: one line per client command as sent ("C:"),
per reply line as sent ("S:") and per note ("--"), each "SECONDS.MICROS
SESSIONID DIR TEXT", times never going backwards within a session; notes
for the connect, a pipelined group (before its commands), the message
content (a summary, never the content), a dropped message, a silence over
--idle-gap, a fault rule, the session's end and how the connection closed;
AUTH secrets masked; non-printable bytes as \\xHH; --trace-client limiting
it to some clients; --trace - writing to stdout.

The transcript is written once per loop turn, so each test reads it after
the server stopped.  Each test checks the C:/S: lines against what its raw
client (Wire) really sent and received, byte for byte.
"""

import base64
import re
import subprocess
import time

from interop_helpers import (
    HOST, MESSAGE, Wire, assert_queued, greet, need_tool, parse_trace, trace_sessions, traced_session)

CLIENT_TIMEOUT = 120
QUEUED_RE = re.compile(r"^250 2\.0\.0 Ok: queued as ([\x21-\x7e]{1,20})$")


def trace_server(server, tmp_path, *extra, name="trace.log"):
    path = tmp_path / name
    srv = server("--trace", path, *extra)
    return srv, path


def stopped_trace(srv, path):
    """Stop the server (SIGTERM, clean exit) and parse its transcript."""
    srv.stop()
    srv.assert_clean_exit()
    return parse_trace(path.read_bytes())


def port_of(w):
    return w.sock.getsockname()[1]


class Recorder(Wire):
    """A Wire that keeps every reply line it read, in order, to compare
    with the transcript's "S:" lines."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.reply_lines = []

    def reply(self, timeout=None):
        r = super().reply(timeout)
        self.reply_lines += r.lines
        return r


def c_lines(lines):
    return [t.text for t in lines if t.dir == "C:"]


def s_lines(lines):
    return [t.text for t in lines if t.dir == "S:"]


def notes(lines):
    return [t.text for t in lines if t.dir == "--"]


def show(lines):
    return "\n".join(t.raw for t in lines)


def assert_monotonic(lines):
    for a, b in zip(lines, lines[1:]):
        assert b.us >= a.us, "transcript time goes backwards:\n%s\n%s\n--- session:\n%s" % (
            a.raw, b.raw, show(lines))


def index_of(lines, pred, start=0, what="line"):
    for i in range(start, len(lines)):
        if pred(lines[i]):
            return i
    raise AssertionError("no %s after line %d in:\n%s" % (what, start, show(lines)))


# -- a plain session, line by line ------------------------------------------
def test_plain_session_transcript(server, tmp_path):
    srv, path = trace_server(server, tmp_path)
    with Recorder(srv.host, srv.port) as w:
        port = port_of(w)
        greet(w)
        w.cmd("MAIL FROM:<sender@example.com>", 250)
        w.cmd("RCPT TO:<rcpt@example.com>", 250)
        w.cmd("DATA", 354)
        w.send(MESSAGE + b".\r\n")
        r = w.reply()
        assert_queued(r)
        w.cmd("QUIT", 221)
        w.read_until_closed(10)
        replies = w.reply_lines
    lines = traced_session(stopped_trace(srv, path), port)
    assert_monotonic(lines)
    sid = lines[0].sid
    assert re.match(r"^[\x21-\x7e]{1,20}$", sid), sid
    assert re.match(r"^connect from 127\.0\.0\.1 port %d to shard \d+$" % port, lines[0].text), show(lines)
    assert c_lines(lines) == ["EHLO client.example", "MAIL FROM:<sender@example.com>",
                              "RCPT TO:<rcpt@example.com>", "DATA", "QUIT"], show(lines)
    assert s_lines(lines) == replies, show(lines)
    # the content is summarised, never dumped: MESSAGE is stored with its
    # ".." line unstuffed (one byte less), and has 6 lines
    stored = len(MESSAGE) - 1
    want = "message content: %d bytes, %d lines" % (stored, MESSAGE.count(b"\n"))
    assert want in notes(lines), show(lines)
    text = path.read_text()
    for secret in ("Hello from the interop suite", "smtpsink interop", "a line that starts"):
        assert secret not in text, "message content in the transcript: %r" % secret
    # the order: content note after DATA's 354, before the queued reply
    i354 = index_of(lines, lambda t: t.dir == "S:" and t.text.startswith("354"), what="354")
    icontent = index_of(lines, lambda t: t.text.startswith("message content:"), i354, "content note")
    iqueued = index_of(lines, lambda t: t.dir == "S:" and QUEUED_RE.match(t.text), icontent, "queued reply")
    assert QUEUED_RE.match(lines[iqueued].text).group(1) == r.lines[-1].split()[-1]
    iquit = index_of(lines, lambda t: t.raw.endswith("C: QUIT"), iqueued, "QUIT")
    assert notes(lines[iquit:]) == ["session over: QUIT", "closed by the client: quit"], show(lines)
    assert lines[-1].text == "closed by the client: quit", show(lines)


def test_multiline_reply_lines(server, tmp_path):
    """Each line of the EHLO reply is its own "S:" line, as sent."""
    srv, path = trace_server(server, tmp_path)
    with Recorder(srv.host, srv.port) as w:
        port = port_of(w)
        _, e = greet(w, "multi.example")
        w.cmd("QUIT", 221)
    lines = traced_session(stopped_trace(srv, path), port)
    got = s_lines(lines)
    assert got[1:1 + len(e.lines)] == e.lines, show(lines)
    assert len(e.lines) > 3


# -- pipelining ---------------------------------------------------------------
def test_pipelined_group_note_precedes_group(server, tmp_path):
    srv, path = trace_server(server, tmp_path)
    with Wire(srv.host, srv.port) as w:
        port = port_of(w)
        greet(w)
        w.send(b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nRCPT TO:<c@example.com>\r\nDATA\r\n")
        assert [r.code for r in w.replies(4)] == [250, 250, 250, 354]
        w.send(b"Subject: p\r\n\r\nbody\r\n.\r\n")
        assert_queued(w.reply())
        w.cmd("QUIT", 221)
    lines = traced_session(stopped_trace(srv, path), port)
    i = index_of(lines, lambda t: t.dir == "--" and t.text.startswith("pipelined:"), what="pipelined note")
    assert lines[i].text == "pipelined: the next 4 commands came in one read", show(lines)
    assert [t.raw.split(" ", 2)[2] for t in lines[i + 1:i + 5]] == [
        "C: MAIL FROM:<a@example.com>", "C: RCPT TO:<b@example.com>", "C: RCPT TO:<c@example.com>",
        "C: DATA"], show(lines)
    # EHLO and QUIT came alone: one group note in all
    assert sum(1 for n in notes(lines) if n.startswith("pipelined:")) == 1, show(lines)


def test_pipelined_timestamps_monotonic(server, tmp_path):
    """The group note is moved in front of its commands: its time must not
    be later than theirs (times never go backwards within a session)."""
    srv, path = trace_server(server, tmp_path)
    with Wire(srv.host, srv.port) as w:
        port = port_of(w)
        greet(w)
        w.send(b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nRSET\r\nNOOP\r\n")
        assert [r.code for r in w.replies(4)] == [250, 250, 250, 250]
        w.cmd("QUIT", 221)
    lines = traced_session(stopped_trace(srv, path), port)
    assert "pipelined: the next 4 commands came in one read" in notes(lines), show(lines)
    assert_monotonic(lines)


def test_swaks_pipelining(server, tmp_path):
    srv, path = trace_server(server, tmp_path)
    p = subprocess.run([need_tool("swaks"), "--server", "%s:%d" % (HOST, srv.port), "--timeout", "60",
                        "--helo", "swaks.example", "--from", "s@example.com", "--to", "r@example.com",
                        "--body", "one\ntwo\nthree\n", "--pipeline"],
                       capture_output=True, text=True, timeout=CLIENT_TIMEOUT, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stdout + p.stderr
    sessions = list(trace_sessions(stopped_trace(srv, path)).values())
    assert len(sessions) == 1
    lines = sessions[0]
    i = index_of(lines, lambda t: t.dir == "--" and t.text.startswith("pipelined:"), what="pipelined note")
    assert lines[i].text == "pipelined: the next 3 commands came in one read", show(lines)
    assert [t.dir + " " + t.text.split(":")[0] for t in lines[i + 1:i + 4]] == [
        "C: MAIL FROM", "C: RCPT TO", "C: DATA"], show(lines)


# -- times ---------------------------------------------------------------------
WALL_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z [\x21-\x7e]+ (C:|S:|--) ")


def test_wall_clock_times(server, tmp_path):
    """By default every line carries the wall clock, RFC 3339 UTC with
    microseconds, inside the time the session really took."""
    srv, path = trace_server(server, tmp_path)
    before_us = int(time.time() * 1e6)
    with Wire(srv.host, srv.port) as w:
        port = port_of(w)
        greet(w)
        w.cmd("NOOP one", 250)
        time.sleep(0.3)
        w.cmd("NOOP two", 250)
        w.cmd("QUIT", 221)
        w.read_until_closed(10)
    after_us = int(time.time() * 1e6)
    lines = traced_session(stopped_trace(srv, path), port)
    for t in lines:
        assert WALL_RE.match(t.raw), t.raw
        assert before_us - 1000 <= t.us <= after_us + 1000, "%s not within the session (%d..%d us)" % (
            t.raw, before_us, after_us)
    assert_monotonic(lines)
    one = next(t for t in lines if t.raw.endswith("C: NOOP one"))
    two = next(t for t in lines if t.raw.endswith("C: NOOP two"))
    assert two.us - one.us >= 300_000, show(lines)


def test_session_relative_times(server, tmp_path):
    """--trace-time session: SECONDS.MICROS since the session's connect,
    for each session on its own."""
    srv, path = trace_server(server, tmp_path, "--trace-time", "session")
    ports = []
    for pause in (0.0, 0.4):
        with Wire(srv.host, srv.port) as w:
            ports.append(port_of(w))
            time.sleep(pause)
            greet(w)
            w.cmd("QUIT", 221)
            w.read_until_closed(10)
    all_lines = stopped_trace(srv, path)
    for port, pause in zip(ports, (0.0, 0.4)):
        lines = traced_session(all_lines, port)
        assert all(re.match(r"^\d+\.\d{6} ", t.raw) for t in lines), show(lines)
        assert lines[0].us < 50_000, show(lines)  # the connect line starts the session's clock
        assert_monotonic(lines)
        ehlo = next(t for t in lines if t.dir == "C:")
        # the server stamps the connect when it accepts, a little after the
        # client's connect returned and its pause began
        assert pause * 1e6 - 50_000 <= ehlo.us < pause * 1e6 + 2_000_000, show(lines)


# -- AUTH ---------------------------------------------------------------------
def test_auth_plain_masked_swaks(server, tmp_path):
    srv, path = trace_server(server, tmp_path)
    p = subprocess.run([need_tool("swaks"), "--server", "%s:%d" % (HOST, srv.port), "--timeout", "60",
                        "--helo", "swaks.example", "--from", "s@example.com", "--to", "r@example.com",
                        "--auth", "PLAIN", "--auth-user", "u", "--auth-password", "secret"],
                       capture_output=True, text=True, timeout=CLIENT_TIMEOUT, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stdout + p.stderr
    text = path.read_text()
    lines = parse_trace(text)
    assert "AUTH PLAIN ****" in c_lines(lines), text
    b64 = base64.b64encode(b"\0u\0secret").decode()
    for s in ("secret", b64, b64.rstrip("="), base64.b64encode(b"u\0u\0secret").decode()):
        assert s not in text, "AUTH secret %r in the transcript:\n%s" % (s, text)
    assert "235 2.7.0 Authentication successful" in s_lines(lines), text


def test_auth_continuation_lines_masked(server, tmp_path):
    """AUTH LOGIN and AUTH PLAIN without an initial response: every line
    answering a 334 is "C: ****"; the mechanism stays visible."""
    srv, path = trace_server(server, tmp_path)
    user = base64.b64encode(b"alice-login").decode()
    pw = base64.b64encode(b"hunter2-login").decode()
    plain = base64.b64encode(b"\0bob\0hunter3-plain").decode()
    with Wire(srv.host, srv.port) as w:
        port = port_of(w)
        greet(w)
        w.cmd("AUTH LOGIN", 334)
        w.cmd(user, 334)
        w.cmd(pw, 235)
        w.cmd("RSET", 250)
        w.cmd("QUIT", 221)
    with Wire(srv.host, srv.port) as w2:
        port2 = port_of(w2)
        greet(w2)
        w2.cmd("AUTH PLAIN", 334)
        w2.cmd(plain, 235)
        w2.cmd("QUIT", 221)
    all_lines = stopped_trace(srv, path)
    text = path.read_text()
    for s in (user, pw, plain, "alice", "hunter2", "hunter3", "bob"):
        assert s not in text, "AUTH secret %r in the transcript:\n%s" % (s, text)
    one = c_lines(traced_session(all_lines, port))
    assert one == ["EHLO client.example", "AUTH LOGIN", "****", "****", "RSET", "QUIT"], one
    two = c_lines(traced_session(all_lines, port2))
    assert two == ["EHLO client.example", "AUTH PLAIN", "****", "QUIT"], two


# -- content, non-printable bytes, drops --------------------------------------
def test_content_summary_counts(server, tmp_path):
    """Bytes as stored (dot-unstuffed), lines counted by LF; BDAT noted."""
    srv, path = trace_server(server, tmp_path)
    body = b"Subject: count\r\n\r\n" + b"".join(b"line %d\r\n" % i for i in range(40)) + b"...dots\r\n"
    stored = len(body) - 1
    bdat = b"Subject: bdat\r\n\r\nx\r\ny\r\n"
    with Wire(srv.host, srv.port) as w:
        port = port_of(w)
        greet(w)
        w.cmd("MAIL FROM:<a@example.com>", 250)
        w.cmd("RCPT TO:<b@example.com>", 250)
        w.cmd("DATA", 354)
        w.send(body + b".\r\n")
        assert_queued(w.reply())
        w.cmd("MAIL FROM:<a@example.com>", 250)
        w.cmd("RCPT TO:<b@example.com>", 250)
        w.send(b"BDAT %d LAST\r\n" % len(bdat) + bdat)
        assert_queued(w.reply())
        w.cmd("QUIT", 221)
    lines = traced_session(stopped_trace(srv, path), port)
    got = [n for n in notes(lines) if n.startswith("message content:")]
    assert got == ["message content: %d bytes, %d lines" % (stored, body.count(b"\n")),
                   "message content: %d bytes, %d lines (BDAT)" % (len(bdat), 4)], show(lines)
    assert "line 17" not in path.read_text()


def test_non_printable_bytes_escaped(server, tmp_path):
    srv, path = trace_server(server, tmp_path)
    with Wire(srv.host, srv.port) as w:
        port = port_of(w)
        greet(w)
        w.send(b"NOOP a\x01b\\c\xff\x7f\r\n")
        w.reply()
        w.cmd("QUIT", 221)
    raw = path  # read after the stop
    lines = traced_session(stopped_trace(srv, raw), port)
    assert "NOOP a\\x01b\\x5Cc\\xFF\\x7F" in c_lines(lines), show(lines)
    data = raw.read_bytes()
    assert all(0x20 <= b < 0x7f or b == 0x0a for b in data), "unescaped bytes in the transcript"


def test_message_dropped_and_client_close(server, tmp_path):
    srv, path = trace_server(server, tmp_path)
    partial = b"Subject: cut\r\n\r\nfirst line\r\nsecond line\r\n"
    with Wire(srv.host, srv.port) as w:
        port = port_of(w)
        greet(w)
        w.cmd("MAIL FROM:<a@example.com>", 250)
        w.cmd("RCPT TO:<b@example.com>", 250)
        w.cmd("DATA", 354)
        w.send(partial)
        time.sleep(0.3)
    lines = traced_session(stopped_trace(srv, path), port)
    n = notes(lines)
    drop = [x for x in n if x.startswith("message dropped")]
    assert len(drop) == 1, show(lines)
    m = re.match(r"^message dropped after (\d+) bytes, ended by the client's disconnect$", drop[0])
    assert m, show(lines)
    # the decoder may hold back a final CRLF until it knows it is not ".\r\n"
    assert int(m.group(1)) in (len(partial), len(partial) - 2), show(lines)
    assert not any(x.startswith("message content:") for x in n), show(lines)
    assert n[-2:] == ["session over: the client's disconnect", "closed by the client: disconnect"], show(lines)


def test_reset_connection_noted(server, tmp_path):
    srv, path = trace_server(server, tmp_path)
    w = Wire(srv.host, srv.port)
    port = port_of(w)
    greet(w)
    w.reset()
    time.sleep(0.3)
    lines = traced_session(stopped_trace(srv, path), port)
    assert lines[-1].text == "closed by the client: disconnect (the connection failed)", show(lines)


# -- silence, faults, client filter, stdout -----------------------------------
def check_silence(note, pause, lines):
    """The client slept pause seconds after reading the reply, so the
    silence the server saw is at least that (less the note's rounding down
    to milliseconds), and not much more on an idle machine."""
    m = re.match(r"^the client was silent for (\d+)\.(\d{3}) s$", note)
    assert m, note
    secs = int(m.group(1)) + int(m.group(2)) / 1000
    assert pause - 0.001 <= secs <= pause + 1.0, \
        "the client paused %.3f s after the reply; the note says %r\n%s" % (pause, note, show(lines))


def test_silence_note(server, tmp_path):
    """A pause over --idle-gap (default 1000 ms) is noted before the command
    that ends it; a shorter one is not."""
    srv, path = trace_server(server, tmp_path)
    with Wire(srv.host, srv.port) as w:
        port = port_of(w)
        greet(w)
        time.sleep(0.3)
        w.cmd("NOOP", 250)
        time.sleep(1.3)
        w.cmd("NOOP silent", 250)
        w.cmd("QUIT", 221)
    lines = traced_session(stopped_trace(srv, path), port)
    silent = [i for i, t in enumerate(lines) if t.dir == "--" and t.text.startswith("the client was silent")]
    assert len(silent) == 1, show(lines)
    i = silent[0]
    check_silence(lines[i].text, 1.3, lines)
    assert lines[i + 1].raw.endswith("C: NOOP silent"), show(lines)


def test_silence_note_idle_gap_option(server, tmp_path):
    srv, path = trace_server(server, tmp_path, "--idle-gap", "200")
    with Wire(srv.host, srv.port) as w:
        port = port_of(w)
        greet(w)
        time.sleep(0.4)
        w.cmd("NOOP", 250)
        w.cmd("QUIT", 221)
    lines = traced_session(stopped_trace(srv, path), port)
    silent = [n for n in notes(lines) if n.startswith("the client was silent")]
    assert len(silent) == 1, show(lines)
    check_silence(silent[0], 0.4, lines)


def test_fault_note(server, tmp_path):
    rule = "rcpt:reply=550 5.1.1 x"
    srv, path = trace_server(server, tmp_path, "--fault", rule)
    with Wire(srv.host, srv.port) as w:
        port = port_of(w)
        greet(w)
        w.cmd("MAIL FROM:<a@example.com>", 250)
        r = w.cmd("RCPT TO:<b@example.com>", 550)
        assert r.lines == ["550 5.1.1 x"], r.raw
        w.cmd("QUIT", 221)
    lines = traced_session(stopped_trace(srv, path), port)
    i = index_of(lines, lambda t: t.dir == "--" and t.text.startswith("fault at "), what="fault note")
    assert re.match(r"^fault at rcpt: rule '[^']*550 5\.1\.1 x[^']*'$", lines[i].text), show(lines)
    # after the RCPT it fired on, before the reply it made
    assert lines[i - 1].raw.endswith("C: RCPT TO:<b@example.com>"), show(lines)
    assert lines[i + 1].raw.endswith("S: 550 5.1.1 x"), show(lines)


def test_trace_client_filter(server, tmp_path):
    srv, path = trace_server(server, tmp_path, "--trace-client", "127.0.0.2",
                             "--trace-client", "127.0.0.3/32")
    ports = {}
    for src in ("127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.1"):
        with Wire(srv.host, srv.port, source=src) as w:
            ports.setdefault(src, []).append(port_of(w))
            greet(w)
            w.cmd("NOOP " + src, 250)
            w.cmd("QUIT", 221)
            w.read_until_closed(10)
    lines = stopped_trace(srv, path)
    connects = [t.text for t in lines if t.text.startswith("connect from")]
    assert len(connects) == 2, show(lines)
    for src in ("127.0.0.2", "127.0.0.3"):
        one = traced_session(lines, ports[src][0], client_addr=src)
        assert "NOOP " + src in c_lines(one)
    assert "127.0.0.1" not in "".join(t.text for t in lines if t.dir == "C:"), show(lines)


def test_trace_to_stdout(server, tmp_path):
    out = tmp_path / "stdout.txt"
    srv = server("--trace", "-", stdout_path=out)
    with Wire(srv.host, srv.port) as w:
        port = port_of(w)
        greet(w)
        w.cmd("NOOP stdout", 250)
        w.cmd("QUIT", 221)
        w.read_until_closed(10)
    srv.stop()
    srv.assert_clean_exit()
    data = out.read_bytes()
    lines = parse_trace(data)  # every stdout line is a transcript line
    one = traced_session(lines, port)
    assert "NOOP stdout" in c_lines(one)
    assert one[-1].text == "closed by the client: quit"
    assert "listening on" not in data.decode()


def test_many_sessions_interleaved(server, tmp_path):
    """Sessions open at once keep their own lines, in order, each complete."""
    srv, path = trace_server(server, tmp_path, "--shards", "2")
    wires = [Wire(srv.host, srv.port) for _ in range(8)]
    try:
        for w in wires:
            greet(w)
        for step in range(3):
            for i, w in enumerate(wires):
                w.cmd("NOOP %d.%d" % (i, step), 250)
        for w in wires:
            w.cmd("QUIT", 221)
        ports = [port_of(w) for w in wires]
    finally:
        for w in wires:
            w.close()
    lines = stopped_trace(srv, path)
    for i, p in enumerate(ports):
        one = traced_session(lines, p)
        assert c_lines(one) == ["EHLO client.example"] + ["NOOP %d.%d" % (i, s) for s in range(3)] + ["QUIT"]
        assert_monotonic(one)
        assert one[-1].text == "closed by the client: quit"
