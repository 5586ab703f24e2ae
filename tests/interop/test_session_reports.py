"""Session reports in the spool (io/session_log.c, core/session_report.*),
read back with `smtpsink-spool sessions` / `session ID` / `show QID` and
with spoolfmt.read_sessions (an independent decoder), on both backends.

The acceptance story of the issue: an anti-virus proxy's session (EHLO,
MAIL, RCPT, RSET, RSET, a 10 s pause, then a full transaction) shows up in
`smtpsink-spool sessions` as one aborted transaction with one recipient
ended by RSET, an idle gap, and one delivered message; its transcript
shows the RSETs, the silence and the transaction.  It runs for real (a
10 s sleep), on the uring backend only.

Also: a client that sent HELO with no hostname and gave up; every quirk
from a minimal raw client, and `--quirk` returning exactly the sessions
that have it; `--client` with clients on 127.0.0.1 and 127.0.0.2; the
JSON fields (counts, bytes in and out to the byte, times); a timeout; a
disconnect in the middle of a transaction; fault rules counted;
--no-session-reports and --discard writing none (--trace still works);
the reader in spoolfmt.py agreeing with the tool.

Reports are written when a session ends, so each test reads the spool
after the server stopped.
"""

import json
import re
import time

import pytest

from interop_helpers import (
    HOST, MESSAGE, Wire, assert_queued, greet, parse_trace, spool_tool, traced_session)

try:
    import spoolfmt
except ImportError as _e:  # python3-xxhash is missing: fail these tests, not collection
    spoolfmt = None
    _SPOOLFMT_ERROR = _e

QUIRKS = ["helo-no-name", "no-helo", "bare-lf-command", "pregreet", "pipelining-unadvertised",
          "ill-pipelining", "lowercase-verb", "odd-spacing", "no-brackets", "rset-for-data",
          "pipelining-no-ehlo", "bare-lf-content", "bare-cr-content", "content-before-354"]
BODY = b"Subject: session test\r\n\r\nline one\r\nline two\r\n"


def need_spoolfmt():
    if spoolfmt is None:
        pytest.fail("spoolfmt.py cannot be imported (%s): install python3-xxhash" % _SPOOLFMT_ERROR,
                    pytrace=False)


# -- servers and the tool ------------------------------------------------------
def capture(server, tmp_path, *extra, name="spool"):
    """A server that keeps a spool (and so session reports) in tmp_path/name."""
    spool = tmp_path / name
    srv = server("--spool", spool, "--sync", "none", *extra, discard=False)
    return srv, spool


def stop(srv):
    srv.stop()
    srv.assert_clean_exit()


def sessions_json(spool, *args):
    p = spool_tool(spool, "sessions", "--json", *args)
    return [json.loads(ln) for ln in p.stdout.splitlines() if ln.strip()]


def session_json(spool, sid):
    return json.loads(spool_tool(spool, "session", sid, "--json").stdout)


def by_port(sessions, port, addr=HOST):
    got = [s for s in sessions if s["client"]["port"] == port and s["client"]["addr"] == addr]
    assert len(got) == 1, "expected one session from %s port %d, got %d: %r" % (addr, port, len(got), sessions)
    return got[0]


def port_of(w):
    return w.sock.getsockname()[1]


def qid_of(reply):
    assert_queued(reply)
    return reply.lines[-1].split()[-1]


def txn(w, body=BODY):
    w.cmd("MAIL FROM:<sender@example.com>", 250)
    w.cmd("RCPT TO:<rcpt@example.com>", 250)
    w.cmd("DATA", 354)
    w.send(body + b".\r\n")
    return qid_of(w.reply())


def quit(w):
    w.cmd("QUIT", 221)
    w.read_until_closed(10)


def show(obj):
    return json.dumps(obj, indent=1)


# -- the acceptance story ------------------------------------------------------
@pytest.mark.backends("uring")
def test_anti_virus_proxy_story(server, tmp_path):
    trace = tmp_path / "trace.log"
    srv, spool = capture(server, tmp_path, "--trace", trace)
    with Wire(srv.host, srv.port) as w:
        port = port_of(w)
        greet(w, "av-proxy.example")
        w.cmd("MAIL FROM:<sender@example.com>", 250)
        w.cmd("RCPT TO:<rcpt@example.com>", 250)
        w.cmd("RSET", 250)
        w.cmd("RSET", 250)
        time.sleep(10)
        qid = txn(w, MESSAGE)
        quit(w)
    stop(srv)

    # the list: one line, 1 completed, 0 refused, 1 aborted, rset-for-data
    listing = spool_tool(spool, "sessions").stdout.splitlines()
    assert len(listing) == 1, listing
    cols = listing[0].split()
    assert cols[3] == "%s:%d" % (HOST, port) and cols[4] == "av-proxy.example", listing
    assert cols[5] == "1/0/1" and cols[6] == "rset-for-data", listing

    [s] = sessions_json(spool)
    sid = s["id"]
    assert session_json(spool, sid) == s
    assert s["aborted"] == 1 and s["completed"] == 1 and s["refused"] == 0, show(s)
    assert len(s["aborts"]) == 1, show(s)
    ab = s["aborts"][0]
    assert (ab["rcpts"], ab["rcpts_refused"], ab["data"], ab["reason"]) == (1, 0, False, "rset"), show(s)
    assert s["quirks"] == ["rset-for-data"], show(s)
    assert s["messages"] == [qid], show(s)
    assert s["verbs"] == {"EHLO": 1, "MAIL": 2, "RCPT": 2, "RSET": 2, "DATA": 1, "QUIT": 1}, show(s)
    assert s["rcpts_accepted"] == 2 and s["end_reason"] == "quit", show(s)
    assert s["gaps_total"] == 1 and len(s["gaps"]) == 1, show(s)
    gap = s["gaps"][0]
    assert gap["after"] == "RSET" and gap["in_txn"] is False, show(s)
    assert ab["at_us"] <= gap["at_us"] <= s["duration_us"] - gap["len_us"], show(s)
    assert s["duration_us"] >= 10_000_000, show(s)

    text = spool_tool(spool, "session", sid).stdout
    assert re.search(r"^Aborted: +aborted at \+\d+\.\d{3}s: MAIL, 1 RCPT \(0 refused\), no DATA, ended by RSET$",
                     text, re.M), text
    idle = re.search(r"^Idle: +idle (\d+\.\d)s at \+\d+\.\ds after RSET$", text, re.M)
    assert idle, text
    assert re.search(r"^Messages: +%s$" % qid, text, re.M), text
    shown = spool_tool(spool, "show", qid).stdout
    assert re.search(r"^Session: +%s\b" % sid, shown, re.M), shown

    # the transcript: both RSETs, the silence, then the whole transaction
    lines = traced_session(parse_trace(trace.read_bytes()), port)
    assert lines[0].sid == sid
    seq = [(t.dir, t.text) for t in lines]
    i = seq.index(("C:", "RSET"))
    assert seq[i + 1] == ("S:", "250 2.0.0 Ok") and seq[i + 2] == ("C:", "RSET"), seq
    assert seq[i + 3] == ("S:", "250 2.0.0 Ok"), seq
    m = re.match(r"^the client was silent for (\d+\.\d{3}) s$", seq[i + 4][1])
    assert seq[i + 4][0] == "--" and m, seq
    assert seq[i + 5] == ("C:", "MAIL FROM:<sender@example.com>"), seq
    rest = [x for x in seq[i + 5:] if x[0] == "C:"]
    assert rest == [("C:", "MAIL FROM:<sender@example.com>"), ("C:", "RCPT TO:<rcpt@example.com>"),
                    ("C:", "DATA"), ("C:", "QUIT")], seq
    assert ("S:", "250 2.0.0 Ok: queued as " + qid) in seq[i + 5:], seq
    assert any(t == "--" and x.startswith("message content: ") for t, x in seq[i + 5:]), seq

    # last, the lengths: the client slept 10 s after reading the second
    # RSET's reply, so the server saw at least 10 s of silence
    assert 10_000_000 <= gap["len_us"] <= 12_000_000, "a 10 s pause, the report says %r" % gap
    assert 10.0 <= float(m.group(1)) <= 12.0, "a 10 s pause, the transcript says %r" % seq[i + 4][1]
    assert 10.0 <= float(idle.group(1)) <= 12.0, "a 10 s pause, `session` says %r" % idle.group(0)


# -- HELO without a name -------------------------------------------------------
@pytest.mark.parametrize("strict", [True, False], ids=["strict-helo-name", "lenient"])
def test_helo_no_name_gave_up(server, tmp_path, strict):
    srv, spool = capture(server, tmp_path, *(["--strict-helo-name"] if strict else []))
    with Wire(srv.host, srv.port) as w:
        port = port_of(w)
        w.expect(220)
        w.cmd("HELO", 501 if strict else 250)
    time.sleep(0.2)
    stop(srv)
    s = by_port(sessions_json(spool), port)
    assert s["quirks"] == ["helo-no-name"], show(s)
    assert s["verbs"] == {"HELO": 1}, show(s)
    assert s["end_reason"] == "disconnect" and s["closed_by"] == "client", show(s)
    assert (s["completed"], s["refused"], s["aborted"]) == (0, 0, 0), show(s)
    assert s["aborts"] == [] and s["messages"] == [] and s["helo"] == "", show(s)
    if not strict:
        assert s["helo_verb"] == "HELO", show(s)
    assert [x["id"] for x in sessions_json(spool, "--quirk", "helo-no-name")] == [s["id"]]


# -- quirks ---------------------------------------------------------------------
def q_clean(srv):
    with Wire(srv.host, srv.port) as w:
        greet(w)
        txn(w)
        quit(w)
        return port_of(w)


def command_client(name, greeting, *lines):
    """A client (called name) that sends each (line, expected code) in turn
    after the banner (and EHLO unless greeting is False), then QUIT."""
    def client(srv):
        with Wire(srv.host, srv.port) as w:
            if greeting:
                greet(w)
            else:
                w.expect(220)
            for line, code in lines:
                w.cmd(line, code)
            quit(w)
            return port_of(w)
    client.__name__ = name
    return client


MAIL_A = "MAIL FROM:<a@example.com>"
q_helo_no_name = command_client("q_helo_no_name", False, ("HELO", 250))
q_no_helo = command_client("q_no_helo", False, (MAIL_A, 250))
q_lowercase = command_client("q_lowercase", True, ("mail FROM:<a@example.com>", 250), ("RSET", 250))
q_odd_spacing = command_client("q_odd_spacing", True, ("MAIL FROM: <a@example.com>", 250), ("RSET", 250))
q_no_brackets = command_client("q_no_brackets", True, ("MAIL FROM:a@example.com", 250), ("RSET", 250))
q_rset_for_data = command_client("q_rset_for_data", True, (MAIL_A, 250), ("RCPT TO:<b@example.com>", 250),
                                 ("RSET", 250))


def q_bare_lf_command(srv):
    with Wire(srv.host, srv.port) as w:
        greet(w)
        w.send(b"NOOP\n")
        w.expect(250)
        quit(w)
        return port_of(w)


def q_pipelining_no_ehlo(srv):
    with Wire(srv.host, srv.port) as w:
        w.expect(220)
        w.cmd("HELO client.example", 250)
        w.send(b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n")
        assert [r.code for r in w.replies(2)] == [250, 250]
        quit(w)  # not RSET: that would add rset-for-data
        return port_of(w)


def q_bare_lf_content(srv):
    with Wire(srv.host, srv.port) as w:
        greet(w)
        txn(w, b"Subject: lf\r\n\r\none\ntwo\r\n")
        quit(w)
        return port_of(w)


def q_bare_cr_content(srv):
    with Wire(srv.host, srv.port) as w:
        greet(w)
        txn(w, b"Subject: cr\r\n\r\none\rtwo\r\n")
        quit(w)
        return port_of(w)


def q_content_before_354(srv):
    """DATA and the content in one write: also ill-pipelining (DATA must
    end a group)."""
    with Wire(srv.host, srv.port) as w:
        greet(w)
        w.cmd("MAIL FROM:<a@example.com>", 250)
        w.cmd("RCPT TO:<b@example.com>", 250)
        w.send(b"DATA\r\n" + BODY + b".\r\n")
        w.expect(354)
        assert_queued(w.reply())
        quit(w)
        return port_of(w)


def q_ill_pipelining(srv):
    """QUIT in the same write as the end of data (a synchronisation point)."""
    with Wire(srv.host, srv.port) as w:
        greet(w)
        w.cmd("MAIL FROM:<a@example.com>", 250)
        w.cmd("RCPT TO:<b@example.com>", 250)
        w.cmd("DATA", 354)
        w.send(BODY + b".\r\nQUIT\r\n")
        assert_queued(w.reply())
        w.expect(221)
        w.read_until_closed(10)
        return port_of(w)


# on the server with --greeting-delay 1s --no-pipelining
def q_pregreet(srv):
    with Wire(srv.host, srv.port) as w:
        w.send(b"EHLO early.example\r\n")  # before the banner
        w.expect(220, timeout=10)
        w.expect(250)
        quit(w)
        return port_of(w)


def q_pipelining_unadvertised(srv):
    with Wire(srv.host, srv.port) as w:
        _, e = greet(w)
        assert "PIPELINING" not in e.text
        w.send(b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n")
        assert [r.code for r in w.replies(2)] == [250, 250]
        quit(w)  # not RSET: that would add rset-for-data
        return port_of(w)


# client, the quirks its session must show (exactly), on the plain server
PLAIN_CLIENTS = [
    (q_clean, []),
    (q_helo_no_name, ["helo-no-name"]),
    (q_no_helo, ["no-helo"]),
    (q_bare_lf_command, ["bare-lf-command"]),
    (q_lowercase, ["lowercase-verb"]),
    (q_odd_spacing, ["odd-spacing"]),
    (q_no_brackets, ["no-brackets"]),
    (q_rset_for_data, ["rset-for-data"]),
    (q_pipelining_no_ehlo, ["pipelining-no-ehlo"]),
    (q_bare_lf_content, ["bare-lf-content"]),
    (q_bare_cr_content, ["bare-cr-content"]),
    (q_content_before_354, ["ill-pipelining", "content-before-354"]),
    (q_ill_pipelining, ["ill-pipelining"]),
]
SLOW_CLIENTS = [
    (q_pregreet, ["pregreet"]),
    (q_pipelining_unadvertised, ["pipelining-unadvertised"]),
]


def test_quirks_and_quirk_filter(server, tmp_path):
    """Each minimal client's session shows exactly its quirks (in the
    documented order); `sessions --quirk NAME` lists exactly the sessions
    that have NAME, for every name."""
    srv, spool = capture(server, tmp_path)
    slow, spool2 = capture(server, tmp_path, "--greeting-delay", "1s", "--no-pipelining", name="spool2")
    want = {}
    for client, quirks in PLAIN_CLIENTS:
        want[(1, client(srv))] = (client.__name__, quirks)
    for client, quirks in SLOW_CLIENTS:
        want[(2, client(slow))] = (client.__name__, quirks)
    stop(srv)
    stop(slow)
    problems = []
    every = {1: sessions_json(spool), 2: sessions_json(spool2)}
    assert sorted(len(v) for v in every.values()) == [len(SLOW_CLIENTS), len(PLAIN_CLIENTS)]
    for (which, port), (name, quirks) in want.items():
        s = by_port(every[which], port)
        if s["quirks"] != quirks:
            problems.append("%s: quirks %r, expected %r" % (name, s["quirks"], quirks))
    assert not problems, "\n".join(problems)
    covered = set(q for _, qs in PLAIN_CLIENTS + SLOW_CLIENTS for q in qs)
    assert covered == set(QUIRKS)
    for which, sp in ((1, spool), (2, spool2)):
        for q in QUIRKS:
            got = sorted(x["id"] for x in sessions_json(sp, "--quirk", q))
            expect = sorted(x["id"] for x in every[which] if q in x["quirks"])
            assert got == expect, "--quirk %s: %r, expected %r" % (q, got, expect)
            text = spool_tool(sp, "sessions", "--quirk", q).stdout.splitlines()
            assert sorted(ln.split()[0] for ln in text) == expect
    p = spool_tool(spool, "sessions", "--quirk", "no-such-quirk", check=2)
    assert "rset-for-data" in p.stderr


# -- the report's fields ---------------------------------------------------------
def test_json_fields_and_bytes(server, tmp_path):
    srv, spool = capture(server, tmp_path)
    t0 = time.time()
    with Wire(srv.host, srv.port) as w:
        port = port_of(w)
        sent = [b"EHLO fields.example\r\n", b"MAIL FROM:<sender@example.com>\r\n", b"RCPT TO:<r1@example.com>\r\n",
                b"RCPT TO:<r2@example.com>\r\n", b"DATA\r\n", BODY + b".\r\n", b"NOOP\r\n", b"QUIT\r\n"]
        received = []
        received.append(w.expect(220).raw)
        qid = None
        for chunk in sent:
            w.send(chunk)
            r = w.reply()
            received.append(r.raw)
            if chunk.startswith(b"Subject"):
                qid = qid_of(r)
        w.read_until_closed(10)
    t1 = time.time()
    stop(srv)
    s = by_port(sessions_json(spool), port)
    assert s["helo"] == "fields.example" and s["helo_verb"] == "EHLO", show(s)
    assert s["client"] == {"family": "ipv4", "addr": HOST, "port": port}, show(s)
    assert s["verbs"] == {"EHLO": 1, "MAIL": 1, "RCPT": 2, "DATA": 1, "NOOP": 1, "QUIT": 1}, show(s)
    assert (s["completed"], s["refused"], s["aborted"]) == (1, 0, 0), show(s)
    assert (s["rcpts_accepted"], s["rcpts_refused"], s["faults"], s["errors"]) == (2, 0, 0, 0), show(s)
    assert (s["pipelined"], s["gaps_total"], s["aborts"], s["gaps"]) == (0, 0, [], []), show(s)
    assert s["quirks"] == [] and s["messages"] == [qid] and s["end_reason"] == "quit", show(s)
    assert s["bytes_in"] == sum(len(c) for c in sent), show(s)
    assert s["bytes_out"] == sum(len(r) for r in received), show(s)
    assert t0 * 1e6 - 1e6 <= s["connect_us"] <= s["end_us"] <= t1 * 1e6 + 1e6, show(s)
    assert s["duration_us"] == s["end_us"] - s["connect_us"], show(s)
    for k in ("connect", "end"):
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$", s[k]), show(s)
    assert re.match(r"^shard-\d\d/\d{8}\.seg$", s["file"]) and s["offset"] >= 64, show(s)
    shown = spool_tool(spool, "show", qid).stdout
    assert re.search(r"^Session: +%s\b" % s["id"], shown, re.M), shown
    msg = json.loads(spool_tool(spool, "show", qid, "--json").stdout)
    assert msg["session_id"] == s["id"]
    # a session ID is not a message, a queue ID is not a session
    spool_tool(spool, "show", s["id"], check=1)
    spool_tool(spool, "session", qid, check=1)


def test_pipelined_count_and_refused(server, tmp_path):
    srv, spool = capture(server, tmp_path, "--fault", "rcpt:reply=550 5.1.1 x")
    with Wire(srv.host, srv.port) as w:
        port = port_of(w)
        greet(w)
        w.send(b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nRCPT TO:<c@example.com>\r\nDATA\r\n")
        codes = [r.code for r in w.replies(4)]
        assert codes[:3] == [250, 550, 550] and codes[3] in (503, 554), codes
        w.cmd("QUIT", 221)
    stop(srv)
    s = by_port(sessions_json(spool), port)
    assert s["pipelined"] == 3, show(s)
    assert s["faults"] == 2 and s["rcpts_refused"] == 2 and s["rcpts_accepted"] == 0, show(s)
    assert s["completed"] == 0 and s["messages"] == [], show(s)
    assert s["verbs"] == {"EHLO": 1, "MAIL": 1, "RCPT": 2, "DATA": 1, "QUIT": 1}, show(s)


def test_client_filter(server, tmp_path):
    srv, spool = capture(server, tmp_path)
    ports = {"127.0.0.1": [], "127.0.0.2": []}
    for src in ("127.0.0.1", "127.0.0.2", "127.0.0.2", "127.0.0.1", "127.0.0.2"):
        with Wire(srv.host, srv.port, source=src) as w:
            ports[src].append(port_of(w))
            greet(w)
            quit(w)
    stop(srv)
    every = sessions_json(spool)
    assert len(every) == 5
    for arg, srcs in (("127.0.0.2", ["127.0.0.2"]), ("127.0.0.1", ["127.0.0.1"]),
                      ("127.0.0.2/32", ["127.0.0.2"]), ("127.0.0.0/8", ["127.0.0.1", "127.0.0.2"]),
                      ("10.0.0.0/8", [])):
        got = sorted((x["client"]["addr"], x["client"]["port"]) for x in sessions_json(spool, "--client", arg))
        expect = sorted((a, p) for a in srcs for p in ports[a])
        assert got == expect, "--client %s: %r, expected %r" % (arg, got, expect)
        text = spool_tool(spool, "sessions", "--client", arg).stdout.splitlines()
        assert sorted(ln.split()[3] for ln in text) == sorted("%s:%d" % x for x in expect)
    spool_tool(spool, "sessions", "--client", "127.0.0.1/8", check=2)  # host bits set


def test_timeout_ends_session(server, tmp_path):
    trace = tmp_path / "trace.log"
    srv, spool = capture(server, tmp_path, "--timeout", "2", "--trace", trace)
    with Wire(srv.host, srv.port) as w:
        port = port_of(w)
        greet(w)
        w.cmd("MAIL FROM:<a@example.com>", 250)
        w.cmd("RCPT TO:<b@example.com>", 250)
        t = time.monotonic()
        r = w.reply(timeout=15)
        waited = time.monotonic() - t
        assert r.code == 421, r.raw
        w.read_until_closed(10)
    stop(srv)
    s = by_port(sessions_json(spool), port)
    assert s["end_reason"] == "timeout" and s["closed_by"] == "server", show(s)
    assert s["aborted"] == 1 and len(s["aborts"]) == 1, show(s)
    ab = s["aborts"][0]
    assert (ab["rcpts"], ab["data"], ab["reason"]) == (1, False, "timeout"), show(s)
    assert s["gaps_total"] == 1 and len(s["gaps"]) == 1, show(s)
    gap = s["gaps"][0]
    assert gap["after"] == "RCPT" and gap["in_txn"] is True, show(s)
    # silent from the RCPT reply until the server gave up (about --timeout)
    assert 1_900_000 <= gap["len_us"] <= waited * 1e6 + 500_000, (waited, show(s))
    lines = traced_session(parse_trace(trace.read_bytes()), port)
    texts = [t.text for t in lines if t.dir == "--"]
    assert "session over: a timeout" in texts, texts
    assert lines[-1].text == "closed by the server: timeout", texts


def test_disconnect_mid_transaction(server, tmp_path):
    srv, spool = capture(server, tmp_path)
    with Wire(srv.host, srv.port) as w:
        p1 = port_of(w)
        greet(w)
        w.cmd("MAIL FROM:<a@example.com>", 250)
        w.cmd("RCPT TO:<b@example.com>", 250)
        w.cmd("RCPT TO:<c@example.com>", 250)
        w.cmd("DATA", 354)
        w.send(b"Subject: half\r\n\r\nhalf a message\r\n")
        time.sleep(0.2)
    with Wire(srv.host, srv.port) as w:
        p2 = port_of(w)
        greet(w)
        w.cmd("MAIL FROM:<a@example.com>", 250)
    time.sleep(0.3)
    stop(srv)
    every = sessions_json(spool)
    s = by_port(every, p1)
    assert s["end_reason"] == "disconnect" and s["closed_by"] == "client", show(s)
    assert s["aborts"] and len(s["aborts"]) == 1 and s["aborted"] == 1, show(s)
    ab = s["aborts"][0]
    assert (ab["rcpts"], ab["rcpts_refused"], ab["data"], ab["reason"]) == (2, 0, True, "disconnect"), show(s)
    assert s["messages"] == [] and s["completed"] == 0, show(s)
    s2 = by_port(every, p2)
    assert [(a["rcpts"], a["data"], a["reason"]) for a in s2["aborts"]] == [(0, False, "disconnect")], show(s2)
    assert spool_tool(spool, "ls").stdout.strip() == ""  # no message kept


def test_idle_gap_option(server, tmp_path):
    """--idle-gap 300: a 0.6 s pause is a gap, a 0.1 s one is not; with the
    default (1000 ms) neither is."""
    srv, spool = capture(server, tmp_path, "--idle-gap", "300")
    dflt, spool2 = capture(server, tmp_path, name="spool2")
    ports = []
    for s_ in (srv, dflt):
        with Wire(s_.host, s_.port) as w:
            ports.append(port_of(w))
            greet(w)
            time.sleep(0.1)
            w.cmd("NOOP", 250)
            w.cmd("MAIL FROM:<a@example.com>", 250)
            time.sleep(0.6)
            w.cmd("RSET", 250)
            quit(w)
    stop(srv)
    stop(dflt)
    s = by_port(sessions_json(spool), ports[0])
    assert s["gaps_total"] == 1 and len(s["gaps"]) == 1, show(s)
    g = s["gaps"][0]
    assert g["after"] == "MAIL" and g["in_txn"] is True, show(s)
    assert 600_000 <= g["len_us"] <= 1_600_000, "a 0.6 s pause, the report says %r" % g
    s2 = by_port(sessions_json(spool2), ports[1])
    assert s2["gaps_total"] == 0 and s2["gaps"] == [], show(s2)


def test_no_session_reports(server, tmp_path):
    srv, spool = capture(server, tmp_path, "--no-session-reports")
    with Wire(srv.host, srv.port) as w:
        greet(w)
        qid = txn(w)
        quit(w)
    stop(srv)
    assert spool_tool(spool, "sessions").stdout == ""
    assert sessions_json(spool) == []
    need_spoolfmt()
    assert spoolfmt.read_sessions(str(spool)) == []
    assert [r["qid"] for r in spoolfmt.read_spool(str(spool))] == [qid]
    assert spoolfmt.verify(str(spool)) == []


def test_discard_keeps_no_reports_but_traces(server, tmp_path):
    trace = tmp_path / "trace.log"
    srv = server("--trace", trace)  # the fixture's default: --discard
    with Wire(srv.host, srv.port) as w:
        port = port_of(w)
        greet(w)
        txn(w)
        quit(w)
    stop(srv)
    assert not (tmp_path / "spool").exists()
    assert not any(p.suffix == ".seg" for p in tmp_path.rglob("*")), list(tmp_path.rglob("*"))
    lines = traced_session(parse_trace(trace.read_bytes()), port)
    assert [t.text for t in lines if t.dir == "C:"] == [
        "EHLO client.example", "MAIL FROM:<sender@example.com>", "RCPT TO:<rcpt@example.com>", "DATA", "QUIT"]


def test_spoolfmt_agrees_with_tool(server, tmp_path):
    """Several kinds of session, then every field of every report as the
    tool prints it equals what spoolfmt.read_sessions decodes."""
    need_spoolfmt()
    srv, spool = capture(server, tmp_path, "--shards", "2", "--idle-gap", "200")
    for client, _ in PLAIN_CLIENTS:
        client(srv)
    with Wire(srv.host, srv.port, source="127.0.0.2") as w:
        greet(w)
        w.cmd("MAIL FROM:<a@example.com>", 250)
        w.cmd("RCPT TO:<b@example.com>", 250)
        time.sleep(0.3)
        w.cmd("RSET", 250)
        txn(w)
    time.sleep(0.2)
    stop(srv)
    tool = {s["id"]: s for s in sessions_json(spool)}
    mine = {s["id"]: s for s in spoolfmt.read_sessions(str(spool))}
    assert set(tool) == set(mine) and len(tool) == len(PLAIN_CLIENTS) + 1
    assert spoolfmt.verify(str(spool)) == []
    fields = ["connect_us", "end_us", "shard", "node", "helo", "helo_verb", "end_reason", "closed_by", "quirks",
              "verbs", "bytes_in", "bytes_out", "aborts", "gaps", "messages", "offset", "fault_rules",
              "faults_unnamed"] + spoolfmt.COUNT_NAMES
    for sid, t in tool.items():
        m = mine[sid]
        for f in fields:
            assert t[f] == m[f], "%s: field %s: tool %r, spoolfmt %r" % (sid, f, t[f], m[f])
        assert t["client"]["addr"] == m["client"]["addr"] and t["client"]["port"] == m["client"]["port"]
        assert m["file"].endswith(t["file"])
    # every message's session exists and lists it
    msgs = spoolfmt.read_spool(str(spool))
    assert msgs
    for r in msgs:
        assert r["qid"] in mine[r["session_id"]]["messages"], r["qid"]
