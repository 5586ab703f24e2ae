"""Fault injection (docs/FAULTS.md) proven with real clients.

Every kind of rule is shown from the client's side -- swaks's exit status
and transcript, Postfix smtp-source's exit status and its complaint,
Python's smtplib, smtpsink-bench's reply-code counts, a raw socket where
timing or the bytes on the wire matter -- and from the server's side: the
exit summary's firing counts ("fault rule '...' fired N times"), and the
spool (a refused or dropped message is never stored, every acknowledged
one is).  The core behaviours run on both backends; the statistical and
slow ones (odds over thousands of recipients, the profile, a client's
timeout) on one.

Timing: a delay is checked as a lower bound only (a loaded machine can
only make it longer); "not delayed" allows most of a second.  Rate windows
are whole seconds, so a burst may straddle a boundary: the bounds allow
limit x (seconds spanned + 2) and still catch a limit that is ignored.
Odds are checked within bounds many standard deviations wide, so a test
cannot flake but fails if p= is ignored.
"""

import json
import os
import re
import signal
import smtplib
import subprocess
import time
from pathlib import Path

import pytest

from interop_helpers import (
    HOST, MESSAGE, Wire, assert_queued, free_port, greet, need_tool, transaction, wait_for)

REPO = Path(__file__).resolve().parents[2]
PROFILE = REPO / "docs" / "profiles" / "bulk-providers.rules"
QUEUED = re.compile(r"250[ -]2\.0\.0 Ok: queued as ([\x21-\x7e]{1,20})")
CLOSE_421 = "421 4.7.0 smtpsink Service not available, closing transmission channel"
CLIENT_TIMEOUT = 120  # seconds for any one client run
SLACK_S = 0.9  # an undelayed reply arrives well within this
EARLY_S = 0.01  # a delay may end this much before the client's clock says
IDLE_S = 0.12  # a pause before a delayed command: clients are not always quick


# -- tools of the build tree ------------------------------------------------
def build_tool(env, rel):
    """A program of the server's build tree: env overrides, else next to the
    server (build/io/smtpsink -> build/REL).  Fails (never skips) if absent."""
    p = os.environ.get(env)
    if not p:
        srv = os.environ.get("SMTPSINK_BIN") or str(REPO / "build" / "io" / "smtpsink")
        p = str(Path(srv).resolve().parents[1] / rel)
    if not os.access(p, os.X_OK):
        pytest.fail("%s not found at %s: build it (ninja) or set %s" % (rel, p, env), pytrace=False)
    return p


def run(argv, **kw):
    """Run a client; return CompletedProcess with text stdout/stderr."""
    kw.setdefault("timeout", CLIENT_TIMEOUT)
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, errors="replace",
                          stdin=kw.pop("stdin", subprocess.DEVNULL), **kw)


def show(p):
    return "exit %s\n--- stdout\n%s\n--- stderr\n%s" % (p.returncode, p.stdout[-4000:], p.stderr[-4000:])


def swaks_argv(port, *extra, timeout=30):
    return [need_tool("swaks"), "--server", "%s:%d" % (HOST, port), "--timeout", str(timeout),
            "--helo", "client.example", "--from", "sender@example.com",
            "--header", "Subject: swaks faults", "--body", "Hello from swaks.\n"] + list(extra)


def swaks(port, *extra, timeout=30):
    """swaks, to rcpt@example.com unless --to is given.  Its exit status
    names the step that failed: 21 banner, 24 RCPT, 26 end of data, 28 AUTH."""
    if "--to" not in extra:
        extra = ("--to", "rcpt@example.com") + tuple(extra)
    return run(swaks_argv(port, *extra, timeout=timeout))


def smtp_source(port, *args):
    return run([need_tool("smtp-source")] + list(args) + ["%s:%d" % (HOST, port)])


def bench(port, *args, qid_log=None):
    """smtpsink-bench --json; returns its results (replies: {"250": n, ...})."""
    argv = [build_tool("SMTPSINK_BENCH_BIN", "bench/smtpsink-bench"), "--json", "--no-progress",
            "--timeout", "30"] + list(args)
    if qid_log is not None:
        argv += ["--qid-log", qid_log]
    p = run(argv + ["%s:%d" % (HOST, port)])
    assert p.returncode == 0, show(p)
    res = json.loads(p.stdout)
    res["replies"] = {int(k): v for k, v in res["replies"].items()}
    return res


def qid_log(path):
    """--qid-log lines "QID SEQ" -> {seq: qid}."""
    out = {}
    for ln in Path(path).read_text().splitlines():
        qid, seq = ln.split()
        out[int(seq)] = qid
    return out


def spool_qids(spool):
    """Queue IDs of every message in the spool (smtpsink-spool ls --json)."""
    p = run([build_tool("SPOOL_TOOL_BIN", "tools/spool/smtpsink-spool"), "--spool", spool, "ls",
             "--json"])
    assert p.returncode == 0, show(p)
    return [json.loads(ln)["qid"] for ln in p.stdout.splitlines() if ln.strip()]


# -- the server's reports ---------------------------------------------------
FIRED_RE = re.compile(r"^smtpsink: fault rule '(.*)' fired (\d+) times$")
TOTALS_RE = re.compile(r"^smtpsink: (\d+) fault rule firings, (\d+) recipient outcomes, "
                       r"(\d+) rate-limited$")


def firings(srv):
    """[(rule text, times fired)] from the exit report, in report order."""
    return [(m.group(1), int(m.group(2))) for m in map(FIRED_RE.match, srv.stderr_lines()) if m]


def totals(srv):
    """(firings, recipient outcomes, rate-limited) from the exit report;
    (0, 0, 0) when the line is absent (it is printed only when not all 0)."""
    found = [m for m in map(TOTALS_RE.match, srv.stderr_lines()) if m]
    assert len(found) <= 1, srv.stderr_tail()
    return tuple(int(g) for g in found[0].groups()) if found else (0, 0, 0)


def stopped(srv):
    """Stop the server (SIGTERM) and check its exit and summary line."""
    srv.stop()
    srv.assert_clean_exit()
    return srv


def timed(w, line=None, timeout=15):
    """Send line (if any), read one reply; return (reply, seconds)."""
    t0 = time.monotonic()
    if line is not None:
        w.send(line + b"\r\n" if isinstance(line, bytes) else line + "\r\n")
    r = w.reply(timeout)
    return r, time.monotonic() - t0


def closed_silently(w, timeout=10):
    """The server closes without sending another byte."""
    data = w.read_until_closed(timeout)
    assert data == b"", "expected a close without a reply, got %r" % data
    return True


# -- 1: a refused recipient, for one domain ---------------------------------
def test_rcpt_reply_domain_swaks_smtp_source(server):
    srv = server("--fault", "rcpt:reply=550 5.1.1 No such user:domain=bad.example")
    p = swaks(srv.port, "--to", "someone@bad.example")
    assert p.returncode == 24, show(p)
    assert "<** 550 5.1.1 No such user" in p.stdout, show(p)
    assert not QUEUED.search(p.stdout), show(p)
    p = swaks(srv.port, "--to", "someone@good.example")
    assert p.returncode == 0 and QUEUED.search(p.stdout), show(p)
    # domain= is exact: a subdomain is another domain
    p = swaks(srv.port, "--to", "someone@sub.bad.example")
    assert p.returncode == 0 and QUEUED.search(p.stdout), show(p)

    p = smtp_source(srv.port, "-m", "1", "-f", "sender@example.com", "-t", "someone@BAD.example")
    assert p.returncode != 0, show(p)
    assert "recipient rejected: 550 5.1.1 No such user" in p.stderr, show(p)
    p = smtp_source(srv.port, "-m", "5", "-d", "-f", "sender@example.com", "-t", "x@good.example")
    assert p.returncode == 0, show(p)

    stopped(srv)
    assert srv.summary().get("messages") == 7, srv.summary_line()
    assert firings(srv) == [("rcpt:reply=550 5.1.1 No such user:domain=bad.example", 2)], \
        srv.stderr_tail()
    assert totals(srv) == (2, 0, 0), srv.stderr_tail()


# -- 2: odds, and the seed that makes them repeatable ------------------------
ODDS_RULE = "rcpt:reply=550 5.1.1 No such user:p=0.1"
ODDS_MESSAGES = 2000


def odds_run(server, tmp_path, seed):
    """2000 messages on one connection to a one-shard server with --seed:
    (bench results, {seq of every accepted message: qid}, server)."""
    srv = server("--shards", 1, "--seed", seed, "--fault", ODDS_RULE)
    log = tmp_path / ("qids-%s-%d" % (seed, time.monotonic_ns()))
    res = bench(srv.port, "--connections", 1, "--messages", ODDS_MESSAGES, qid_log=log)
    stopped(srv)
    assert "smtpsink: 1 fault rules in force, seed %d" % seed in srv.stderr_lines(), srv.stderr_tail()
    return res, qid_log(log), srv


def test_rcpt_odds_and_seed(server, tmp_path):
    res, accepted, srv = odds_run(server, tmp_path, 42)
    refused = res["replies"].get(550, 0)
    # binomial(2000, 0.1): mean 200, sd 13.4; 100..300 is over 7 sd either way
    assert 100 <= refused <= 300, res["replies"]
    assert res["transactions_started"] == ODDS_MESSAGES, res
    assert res["messages"] == ODDS_MESSAGES - refused == len(accepted), res
    assert firings(srv) == [(ODDS_RULE, refused)], srv.stderr_tail()
    assert srv.summary().get("messages") == res["messages"], srv.summary_line()

    again, accepted_again, _ = odds_run(server, tmp_path, 42)
    assert again["replies"] == res["replies"], "same seed, different reply counts"
    assert sorted(accepted_again) == sorted(accepted), "same seed, other messages refused"

    other, accepted_other, _ = odds_run(server, tmp_path, 43)
    assert 100 <= other["replies"].get(550, 0) <= 300, other["replies"]
    assert sorted(accepted_other) != sorted(accepted), "seeds 42 and 43 refused the same messages"


# -- 3: the banner refused ---------------------------------------------------
def test_connect_reply(server):
    srv = server("--fault", "connect:reply=421 4.7.0 Busy")
    p = swaks(srv.port)
    assert p.returncode == 21, show(p)
    assert "<** 421 4.7.0 Busy" in p.stdout, show(p)
    with srv.wire() as w:
        r = w.reply(10)
        assert r.lines == ["421 4.7.0 Busy"], r.raw
        closed_silently(w)
    res = bench(srv.port, "--mode", "connect", "--connections", 4, "--messages", 20)
    assert res["replies"] == {421: 20} and res["messages"] == 0, res
    stopped(srv)
    assert firings(srv) == [("connect:reply=421 4.7.0 Busy", 22)], srv.stderr_tail()
    assert srv.summary().get("connections") == 22, srv.summary_line()


# -- 4: delays ---------------------------------------------------------------
# Holds are tested to the millisecond without sockets in tests/io/
# test_conn_faults.c (each reply of a pipelined group in turn, greeting
# delay with a pregreeting client, content stalls and aborts with DATA and
# BDAT, delay ranges); these tests keep one of each kind end to end.
def test_data_delay(server):
    """data:delay=1s (smtp-sink -w 1): the 354 waits, nothing else does."""
    srv = server("--fault", "data:delay=1s")
    with srv.wire() as w:
        for line, code in ((None, 220), ("EHLO client.example", 250),
                           ("MAIL FROM:<s@example.com>", 250), ("RCPT TO:<r@example.com>", 250)):
            r, dt = timed(w, line)
            assert r.code == code and dt < SLACK_S, (line, r.raw, dt)
        time.sleep(IDLE_S)
        r, dt = timed(w, "DATA")
        assert r.code == 354 and dt >= 1.0 - EARLY_S, (r.raw, dt)
        r, dt = timed(w, MESSAGE + b".")
        assert_queued(r)
        assert dt < SLACK_S, dt
        r, dt = timed(w, "NOOP")
        assert r.code == 250 and dt < SLACK_S, dt
    stopped(srv)
    assert firings(srv) == [("data:delay=1s", 1)], srv.stderr_tail()


def test_tarpit(server):
    """--tarpit 300ms delays the reply of every command (not the banner's
    and not the end of data's: those are stages of their own)."""
    srv = server("--tarpit", "300ms")
    with srv.wire() as w:
        w.expect(220)
        for line, code in (("EHLO client.example", 250), ("MAIL FROM:<s@example.com>", 250),
                           ("RCPT TO:<r@example.com>", 250), ("DATA", 354)):
            time.sleep(IDLE_S)
            r, dt = timed(w, line)
            assert r.code == code and dt >= 0.3 - EARLY_S, (line, r.raw, dt)
        assert_queued(w.cmd(MESSAGE + b"."))
        for line, code in (("NOOP", 250), ("RSET", 250), ("HELP", 214), ("QUIT", 221)):
            time.sleep(IDLE_S)
            r, dt = timed(w, line)
            assert r.code == code and dt >= 0.3 - EARLY_S, (line, r.raw, dt)
    stopped(srv)
    assert firings(srv) == [("any:delay=300ms", 8)], srv.stderr_tail()


@pytest.mark.backends("epoll")
def test_client_timeout_swaks(server):
    """A client with a 1 s timeout gives up on a banner held 3 s."""
    srv = server("--greeting-delay", "3s")
    t0 = time.monotonic()
    p = swaks(srv.port, timeout=1)
    assert p.returncode == 21, show(p)
    assert "Timeout (1 secs) waiting for server response" in p.stdout, show(p)
    assert time.monotonic() - t0 < 3.0, "swaks waited for the banner"
    stopped(srv)
    assert srv.summary().get("messages") == 0, srv.summary_line()


# -- 5: each command stage's answers, on the wire ------------------------------
EHLO = [("EHLO client.example", 250)]
TXN = EHLO + [("MAIL FROM:<s@example.com>", 250), ("RCPT TO:<r@example.com>", 250)]
DROP = object()  # the step's answer is a close without a reply

# id: (rule, steps after the banner, the connection ends "open" or "closed").
# A step is (line to send, expected reply: a code, the exact last line, or
# DROP).  Steps before the last get their normal replies.
STAGE_CASES = {
    "connect-close": ("connect:close", [(None, CLOSE_421)], "closed"),
    "connect-disconnect": ("connect:disconnect", [(None, DROP)], "closed"),
    "connect-554": ("connect:reply=554 5.7.1 Go away", [(None, "554 5.7.1 Go away")], "closed"),
    "helo-550": ("helo:reply=550 5.7.1 No HELO for you",
                 [(None, 220), ("EHLO client.example", "550 5.7.1 No HELO for you"),
                  ("HELO client.example", "550 5.7.1 No HELO for you")], "open"),
    "mail-disconnect": ("mail:disconnect",
                        [(None, 220)] + EHLO + [("MAIL FROM:<s@example.com>", DROP)], "closed"),
    "mail-close": ("mail:close", [(None, 220)] + EHLO + [("MAIL FROM:<s@example.com>", CLOSE_421)],
                   "closed"),
    "mail-451-domain": ("mail:reply=451 4.7.1 Sender domain deferred:domain=example.com",
                        [(None, 220)] + EHLO +
                        [("MAIL FROM:<s@example.com>", "451 4.7.1 Sender domain deferred"),
                         ("MAIL FROM:<s@example.org>", 250)], "open"),
    "rcpt-close": ("rcpt:close=421 4.7.0 Go away now",
                   [(None, 220)] + TXN[:2] + [("RCPT TO:<r@example.com>", "421 4.7.0 Go away now")],
                   "closed"),
    "data-554": ("data:reply=554 5.5.1 No DATA for you",
                 [(None, 220)] + TXN + [("DATA", "554 5.5.1 No DATA for you")], "open"),
    # the chunk is "hello" and the CRLF run_steps() appends: 7 octets
    "bdat-452": ("bdat:reply=452 4.3.1 Insufficient storage",
                 [(None, 220)] + TXN + [("BDAT 7 LAST\r\nhello", "452 4.3.1 Insufficient storage")],
                 "open"),
    "dot-close": ("dot:close=554 5.7.1 Content refused",
                  [(None, 220)] + TXN + [("DATA", 354), (MESSAGE + b".", "554 5.7.1 Content refused")],
                  "closed"),
    "dot-disconnect": ("dot:disconnect", [(None, 220)] + TXN + [("DATA", 354), (MESSAGE + b".", DROP)],
                       "closed"),
    "rset-450": ("rset:reply=450 4.3.2 Not now", [(None, 220)] + EHLO + [("RSET", "450 4.3.2 Not now")],
                 "open"),
    "noop-250-text": ("noop:reply=250 2.0.0 Still here", [(None, 220), ("NOOP", "250 2.0.0 Still here")],
                      "open"),
    "vrfy-550": ("vrfy:reply=550 5.1.1 Unknown", [(None, 220), ("VRFY alice", "550 5.1.1 Unknown")],
                 "open"),
    "auth-535": ("auth:reply=535 5.7.8 Authentication credentials invalid",
                 [(None, 220)] + EHLO + [("AUTH PLAIN AGFsaWNlAHNlY3JldA==",
                                          "535 5.7.8 Authentication credentials invalid")], "open"),
    "quit-close": ("quit:close", [(None, 220), ("QUIT", CLOSE_421)], "closed"),
    "any-451": ("any:reply=451 4.3.0 Busy", [(None, 220), ("HELP", "451 4.3.0 Busy")], "open"),
    # the default text of close names the host at every stage
    "content-close": ("content:close", [(None, 220)] + TXN + [("DATA", 354), (None, CLOSE_421)],
                      "closed"),
    "dot-close-default": ("dot:close", [(None, 220)] + TXN + [("DATA", 354), (MESSAGE + b".", CLOSE_421)],
                          "closed"),
}


def run_steps(w, steps):
    """Run the steps; True if the last one was a DROP."""
    for line, want in steps:
        if line is not None:
            w.send(line + b"\r\n" if isinstance(line, bytes) else line + "\r\n")
        if want is DROP:
            return closed_silently(w)
        r = w.reply(10)
        if isinstance(want, int):
            assert r.code == want, "%r: expected %d, got %r" % (line, want, r.raw)
        else:
            assert r.lines[-1] == want, "%r: expected %r, got %r" % (line, want, r.raw)
    return False


@pytest.mark.parametrize("case", list(STAGE_CASES))
def test_stage_answers(server, case):
    rule, steps, end = STAGE_CASES[case]
    srv = server("--fault", rule)
    fired = sum(1 for _, want in steps if isinstance(want, str) or want is DROP)
    with srv.wire() as w:
        dropped = run_steps(w, steps)
        if end == "closed":
            if not dropped:
                closed_silently(w)
        else:
            # the session goes on (a refused BDAT's octets were consumed, not
            # taken for commands); an "any" rule refuses QUIT as well
            r = w.cmd("QUIT")
            if rule.startswith("any:"):
                assert r.lines[-1] == "451 4.3.0 Busy", r.raw
                fired += 1
            else:
                assert r.code == 221, r.raw
                closed_silently(w)
    stopped(srv)
    assert srv.summary().get("messages") == 0, srv.summary_line()
    assert [n for _, n in firings(srv)] == [fired], srv.stderr_tail()
    assert totals(srv) == (fired, 0, 0), srv.stderr_tail()


def test_own_stage_before_any(server):
    """A command's own stage decides first; "any" only when none of its
    rules fired.  "any" reaches MAIL and RCPT too, and commands without a
    stage (HELP)."""
    srv = server("--fault", "noop:reply=250 2.0.0 Own rule", "--fault", "any:reply=451 4.3.0 Busy")
    with srv.wire() as w:
        w.expect(220)
        assert w.cmd("NOOP").lines == ["250 2.0.0 Own rule"]
        assert w.cmd("HELP").lines == ["451 4.3.0 Busy"]
        assert w.cmd("EHLO client.example").lines == ["451 4.3.0 Busy"]
        assert w.cmd("MAIL FROM:<s@example.com>").lines == ["451 4.3.0 Busy"]
    stopped(srv)
    assert firings(srv) == [("noop:reply=250 2.0.0 Own rule", 1), ("any:reply=451 4.3.0 Busy", 3)], \
        srv.stderr_tail()


def test_auth_reply_swaks(server):
    srv = server("--fault", "auth:reply=535 5.7.8 Authentication credentials invalid")
    p = swaks(srv.port, "--auth", "PLAIN", "--auth-user", "alice", "--auth-password", "secret")
    assert p.returncode == 28, show(p)
    assert "<** 535 5.7.8 Authentication credentials invalid" in p.stdout, show(p)
    p = swaks(srv.port)  # without AUTH the rule never fires
    assert p.returncode == 0 and QUEUED.search(p.stdout), show(p)
    stopped(srv)
    assert firings(srv) == [("auth:reply=535 5.7.8 Authentication credentials invalid", 1)], \
        srv.stderr_tail()


# -- 6: the end of data refused: nothing is stored ----------------------------
def test_dot_refused_not_stored(server, tmp_path):
    """From 127.0.0.1 the end of data is refused 451, from 127.0.0.2 the
    connection is dropped instead of the reply, from 127.0.0.3 the message
    is taken: the spool holds that one message and nothing else."""
    spool = tmp_path / "spool"
    srv = server("--spool", spool, "--fault", "dot:reply=451 4.3.0 Try later:client=127.0.0.1",
                 "--fault", "dot:disconnect:client=127.0.0.2", discard=False)
    p = swaks(srv.port)
    assert p.returncode == 26, show(p)
    assert "<** 451 4.3.0 Try later" in p.stdout, show(p)
    p = smtp_source(srv.port, "-m", "1", "-f", "sender@example.com", "-t", "rcpt@example.com")
    assert p.returncode != 0 and "451 4.3.0 Try later" in p.stderr, show(p)
    with Wire(HOST, srv.port, source="127.0.0.2") as w:
        greet(w)
        w.cmd("MAIL FROM:<s@example.com>", 250)
        w.cmd("RCPT TO:<r@example.com>", 250)
        w.cmd("DATA", 354)
        w.send(MESSAGE + b".\r\n")
        closed_silently(w)
    with Wire(HOST, srv.port, source="127.0.0.3") as w:
        greet(w)
        kept = transaction(w)
        assert_queued(kept)
        w.cmd("QUIT", 221)
    stopped(srv)
    assert spool_qids(spool) == [QUEUED.search(kept.lines[-1]).group(1)]
    assert srv.summary().get("messages") == 1, srv.summary_line()
    assert firings(srv) == [("dot:reply=451 4.3.0 Try later:client=127.0.0.1", 2),
                            ("dot:disconnect:client=127.0.0.2", 1)], srv.stderr_tail()


def test_dot_odds_spool_matches_bench(server, tmp_path):
    """With 40% of ends of data refused and 10% dropped, the messages the
    bench saw acknowledged are exactly the messages in the spool."""
    spool, log = tmp_path / "spool", tmp_path / "qids"
    srv = server("--spool", spool, "--fault", "dot:reply=451 4.3.0 Try later:p=0.4",
                 "--fault", "dot:disconnect:p=0.1", discard=False)
    n = 300
    res = bench(srv.port, "--mode", "connect", "--connections", 10, "--messages", n, qid_log=log)
    stopped(srv)
    refused, dropped = res["replies"].get(451, 0), res["errors"]["closed_by_server"]
    # binomial(300, 0.4): sd 8.5; binomial(300, 0.1): sd 5.2
    assert 60 <= refused <= 180 and 5 <= dropped <= 60, res
    assert res["messages"] + refused + dropped == n, res
    acked = qid_log(log)
    assert len(acked) == res["messages"], res
    assert sorted(spool_qids(spool)) == sorted(acked.values())
    assert srv.summary().get("messages") == res["messages"], srv.summary_line()
    assert [n for _, n in firings(srv)] == [refused, dropped], srv.stderr_tail()


# -- 7: a message aborted while it comes in (smtp-sink -A) -------------------
def test_content_abort(server, tmp_path):
    """content:delay=2s:close=550 ...: the 354 comes at once, about 2 s
    later the 550, and the connection closes; nothing is stored."""
    spool = tmp_path / "spool"
    srv = server("--spool", spool, "--fault", "content:delay=2s:close=550 5.0.0 Error: aborted",
                 discard=False)
    sw = subprocess.Popen(swaks_argv(srv.port, "--to", "rcpt@example.com"), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        with srv.wire() as w:
            greet(w)
            w.cmd("MAIL FROM:<s@example.com>", 250)
            w.cmd("RCPT TO:<r@example.com>", 250)
            r, dt = timed(w, "DATA")
            assert r.code == 354 and dt < SLACK_S, (r.raw, dt)
            t0 = time.monotonic()
            w.send(MESSAGE)  # not the end: the 550 must come anyway
            r = w.reply(15)
            assert r.lines == ["550 5.0.0 Error: aborted"], r.raw
            assert time.monotonic() - t0 >= 2.0 - SLACK_S / 2, time.monotonic() - t0
            closed_silently(w)
        out, err = sw.communicate(timeout=CLIENT_TIMEOUT)
    finally:
        if sw.poll() is None:
            sw.kill()
            sw.wait()
    p = subprocess.CompletedProcess(sw.args, sw.returncode, out, err)
    assert p.returncode != 0, show(p)
    assert "550 5.0.0 Error: aborted" in p.stdout, show(p)
    stopped(srv)
    assert spool_qids(spool) == []
    assert srv.summary().get("messages") == 0, srv.summary_line()
    assert [n for _, n in firings(srv)] == [2], srv.stderr_tail()


def test_rules_skip_lines_the_session_refuses(server):
    """A line the session refuses itself (a NUL in it) gets its own 500:
    no rule fires for it, no rate window counts it."""
    srv = server("--fault", "any:reply=451 4.3.0 Busy", "--msg-rate", "1")
    with srv.wire() as w:
        w.expect(220)
        # one write, so one rate window: had the bad MAIL been counted, the
        # good one would get 421 (--msg-rate 1) instead of the rule's 451
        w.send(b"NO\x00OP\r\nMAIL FROM:<a@\x00b>\r\nMAIL FROM:<a@b>\r\n")
        assert [r.lines[-1] for r in w.replies(3)] == ["500 5.5.2 Error: NUL character in command"] * 2 + [
            "451 4.3.0 Busy"]
    stopped(srv)
    assert firings(srv) == [("any:reply=451 4.3.0 Busy", 1)], srv.stderr_tail()
    assert totals(srv)[2] == 0, srv.stderr_tail()


def test_auth_rule_on_the_challenge_answer(server):
    """auth rules reach the lines answering a 334 too: a refusal there ends
    the exchange, failed, with the rule's reply (AUTH LOGIN with the user
    name on its own line)."""
    srv = server("--fault", "auth:reply=535 5.7.8 Not today")
    with srv.wire() as w:
        greet(w)
        # the AUTH command itself is refused at once
        w.cmd("AUTH LOGIN", 535)
    stopped(srv)
    srv = server("--fault", "auth:reply=535 5.7.8 Not today:p=0.5", "--seed", "3", "--shards", "1")
    answers = []  # (how many lines the exchange took, the last reply)
    for _ in range(12):
        with srv.wire() as w:
            greet(w)
            r, lines = w.cmd("AUTH LOGIN"), 1
            for answer in ("dXNlcg==", "c2VjcmV0"):
                if r.code != 334:
                    break
                r, lines = w.cmd(answer), lines + 1
            answers.append((lines, r.lines[-1]))
            assert w.cmd("NOOP").code == 250  # back to commands either way
    stopped(srv)
    refused = [n for n, a in answers if a == "535 5.7.8 Not today"]
    assert len(refused) + [a for _, a in answers].count("235 2.7.0 Authentication successful") == 12, answers
    assert sum(n for _, n in firings(srv)) == len(refused), (answers, firings(srv))
    assert any(n > 1 for n in refused), answers  # refused on a line answering a 334


# -- 8: recipient outcomes ------------------------------------------------------
OUTCOMES = {
    "tempfail@x.example": (450, "4.2.0 <tempfail@x.example>: Recipient address rejected: "
                                "Temporary failure (test)"),
    "permfail.bob@x.example": (550, "5.1.1 <permfail.bob@x.example>: Recipient address rejected: "
                                    "User unknown (test)"),
    "452-full@x.example": (452, "4.0.0 <452-full@x.example>: Recipient address rejected: "
                                "452 requested (test)"),
}


def test_recipient_outcomes(server):
    srv = server()
    with smtplib.SMTP(HOST, srv.port, local_hostname="client.example", timeout=60) as s:
        refused = s.sendmail("sender@example.com", list(OUTCOMES) + ["ok@x.example"], MESSAGE)
        assert {k: (c, t.decode()) for k, (c, t) in refused.items()} == OUTCOMES
    p = swaks(srv.port, "--to", "TempFail+42@x.example")
    assert p.returncode == 24 and "<** 450 4.2.0 <TempFail+42@x.example>" in p.stdout, show(p)
    # other local parts and numbers ask for nothing
    p = swaks(srv.port, "--to", "tempfailure@x.example,250-x@x.example,999-x@x.example")
    assert p.returncode == 0 and QUEUED.search(p.stdout), show(p)
    res = bench(srv.port, "--connections", 2, "--messages", 20, "--to", "permfail+%n@x.example")
    assert res["replies"].get(550) == 20 and res["messages"] == 0, res
    stopped(srv)
    assert srv.summary().get("messages") == 2, srv.summary_line()
    assert totals(srv) == (0, 24, 0), srv.stderr_tail()


def test_no_recipient_outcomes(server):
    srv = server("--no-recipient-outcomes")
    with smtplib.SMTP(HOST, srv.port, local_hostname="client.example", timeout=60) as s:
        assert s.sendmail("sender@example.com", list(OUTCOMES), MESSAGE) == {}
    res = bench(srv.port, "--connections", 2, "--messages", 20, "--to", "permfail+%n@x.example")
    assert res["messages"] == 20 and 550 not in res["replies"], res
    stopped(srv)
    assert srv.summary().get("messages") == 21, srv.summary_line()
    assert totals(srv) == (0, 0, 0), srv.stderr_tail()


# -- 9: --fault-file and SIGHUP ------------------------------------------------
def hup_and_wait(srv, line, count):
    """SIGHUP; wait until stderr holds line count times."""
    srv.send_signal(signal.SIGHUP)
    wait_for(lambda: srv.stderr_lines().count(line) >= count, 10, what="%r in stderr" % line)


def test_fault_file_sighup(server, tmp_path):
    rules = tmp_path / "faults.rules"
    rules.write_text("# refuse everyone\r\n\r\n  rcpt:reply=550 5.7.1 Not today  \r\n")
    srv = server("--fault-file", rules)
    assert any(ln.startswith("smtpsink: 1 fault rules in force, seed ") for ln in srv.stderr_lines())
    p = swaks(srv.port)
    assert p.returncode == 24 and "<** 550 5.7.1 Not today" in p.stdout, show(p)

    rules.write_text("mail:reply=451 4.7.1 Sender deferred:domain=deferred.example\n"
                     "# a comment\nnoop:reply=250 2.0.0 Reloaded\n")
    hup_and_wait(srv, "smtpsink: SIGHUP: 2 fault rules in force", 1)
    p = swaks(srv.port)
    assert p.returncode == 0 and QUEUED.search(p.stdout), show(p)
    p = swaks(srv.port, "--from", "someone@deferred.example")
    assert p.returncode == 23 and "<** 451 4.7.1 Sender deferred" in p.stdout, show(p)

    rules.write_text("rcpt:reply=550 5.1.1 ok\nrcpt:reply=650 x\n")
    srv.send_signal(signal.SIGHUP)
    wait_for(lambda: any("fault rules not reloaded" in ln for ln in srv.stderr_lines()), 10,
             what="'fault rules not reloaded' in stderr")
    bad = [ln for ln in srv.stderr_lines() if "fault rules not reloaded" in ln]
    assert "%s:2: rcpt:reply=650 x" % rules in bad[0], bad
    # the old rules stay
    p = swaks(srv.port)
    assert p.returncode == 0 and QUEUED.search(p.stdout), show(p)
    p = swaks(srv.port, "--from", "someone@deferred.example")
    assert p.returncode == 23, show(p)
    with srv.wire() as w:
        w.expect(220)
        assert w.cmd("NOOP").lines == ["250 2.0.0 Reloaded"]
    # the same rules again (a HUP from log rotation): no new rule set
    rules.write_text("mail:reply=451 4.7.1 Sender deferred:domain=deferred.example\n"
                     "noop:reply=250 2.0.0 Reloaded\n")
    hup_and_wait(srv, "smtpsink: SIGHUP: fault rules unchanged (2 in force)", 1)
    stopped(srv)
    assert firings(srv) == [("rcpt:reply=550 5.7.1 Not today", 1),
                            ("mail:reply=451 4.7.1 Sender deferred:domain=deferred.example", 2),
                            ("noop:reply=250 2.0.0 Reloaded", 1)], srv.stderr_tail()


# -- 10: rate limits -------------------------------------------------------------
def windows(elapsed):
    """How many one-second rate windows a burst of elapsed seconds can touch."""
    return int(elapsed) + 2


def test_msg_rate_bench(server):
    """--msg-rate 5: a fast bench gets 421 at MAIL beyond 5 messages a second."""
    srv = server("--msg-rate", 5)
    t0 = time.monotonic()
    res = bench(srv.port, "--mode", "connect", "--connections", 10, "--messages", 100)
    elapsed = time.monotonic() - t0
    assert 0 < res["messages"] <= 5 * windows(elapsed), (elapsed, res)
    assert res["replies"].get(421, 0) == 100 - res["messages"], res
    stopped(srv)
    assert totals(srv) == (0, 0, 100 - res["messages"]), srv.stderr_tail()


def test_client_msg_rate_closes(server):
    """--client-msg-rate 3: the MAIL beyond 3 a second from one address gets
    421 and the session is closed; another address is not held back."""
    srv = server("--client-msg-rate", 3)
    t0 = time.monotonic()
    with Wire(HOST, srv.port, source="127.0.0.1") as w:
        greet(w)
        accepted = 0
        for _ in range(20):
            r = w.cmd("MAIL FROM:<s@example.com>")
            if r.code != 250:
                break
            accepted += 1
            w.cmd("RSET", 250)
        assert r.lines == ["421 4.7.0 smtpsink Error: too many messages per second, try again later"], \
            r.raw
        closed_silently(w)
    assert 3 <= accepted <= 3 * windows(time.monotonic() - t0), accepted
    with Wire(HOST, srv.port, source="127.0.0.2") as w:
        greet(w)
        assert_queued(transaction(w))
    stopped(srv)
    assert totals(srv) == (0, 0, 1), srv.stderr_tail()


def test_client_conn_rate(server):
    """--client-conn-rate 3: of 20 quick connections from 127.0.0.1 at most
    3 a second get the banner, the rest 421 and a close; then 127.0.0.2 is
    served, whatever 127.0.0.1 did."""
    srv = server("--client-conn-rate", 3)
    t0 = time.monotonic()
    codes = []
    for _ in range(20):
        with Wire(HOST, srv.port, source="127.0.0.1") as w:
            r = w.reply(10)
            codes.append(r.code)
            if r.code == 421:
                assert r.lines == ["421 4.7.0 smtpsink Error: too many connections per second, "
                                   "try again later"], r.raw
                closed_silently(w)
    served = codes.count(220)
    assert set(codes) == {220, 421}, codes
    assert 3 <= served <= 3 * windows(time.monotonic() - t0), codes
    for _ in range(3):
        with Wire(HOST, srv.port, source="127.0.0.2") as w:
            greet(w)
            w.cmd("QUIT", 221)
    p = swaks(srv.port, "--local-interface", "127.0.0.3")
    assert p.returncode == 0, show(p)
    stopped(srv)
    assert totals(srv) == (0, 0, codes.count(421)), srv.stderr_tail()


def test_conn_rate_bench(server):
    """--conn-rate 4 counts every client together."""
    srv = server("--conn-rate", 4)
    t0 = time.monotonic()
    res = bench(srv.port, "--mode", "connect", "--connections", 5, "--messages", 50,
                "--source-addrs", "127.0.0.2-127.0.0.5")
    elapsed = time.monotonic() - t0
    assert 0 < res["replies"].get(220, 0) <= 4 * windows(elapsed), (elapsed, res)
    assert res["replies"].get(421, 0) == 50 - res["replies"][220], res
    stopped(srv)
    assert totals(srv) == (0, 0, res["replies"][421]), srv.stderr_tail()


# -- 12: a whole profile ----------------------------------------------------------
def profile_rule_count():
    return sum(1 for ln in PROFILE.read_text().splitlines()
               if ln.strip() and not ln.strip().startswith("#"))


@pytest.mark.backends("epoll")
def test_bulk_providers_profile(server):
    srv = server("--fault-file", PROFILE, "--seed", 1)
    assert "smtpsink: %d fault rules in force, seed 1" % profile_rule_count() in srv.stderr_lines(), \
        srv.stderr_tail()
    n = 600
    gmail = bench(srv.port, "--mode", "connect", "--connections", 100, "--messages", n,
                  "--to", "rcpt%r@gmail.com")
    # refused: ~8.5% of recipients, ~0.7% of messages, ~0.5% of banners
    assert 0.80 * n <= gmail["messages"] <= 0.99 * n, gmail
    assert gmail["replies"].get(421, 0) > 0 and gmail["replies"].get(550, 0) > 0, gmail["replies"]
    outlook = bench(srv.port, "--connections", 20, "--messages", 2000, "--to", "rcpt%r@outlook.com")
    assert outlook["replies"].get(451, 0) > 0 and outlook["replies"].get(550, 0) > 0, outlook["replies"]
    stopped(srv)
    fired = dict(firings(srv))
    gmail_421 = ("rcpt:reply=421 4.7.28 Our systems see an unusual rate of mail from your IP; this "
                 "mail is rate limited, retry later (sim):p=0.03:domain=gmail.com")
    assert fired.get(gmail_421, 0) > 0, srv.stderr_tail()
    assert sum(fired.values()) == totals(srv)[0], srv.stderr_tail()


# -- a bad rule stops the start ---------------------------------------------------
@pytest.mark.parametrize("how", ["option", "file"])
def test_bad_rule_exits_2(smtpsink_bin, tmp_path, how):
    if how == "option":
        args = ["--fault", "rcpt:reply=550 5.1.1 ok", "--fault", "rcpt:reply=650 x"]
        want = "rcpt:reply=650 x: reply code must be 200..599"
    else:
        rules = tmp_path / "bad.rules"
        rules.write_text("# ok so far\nrcpt:reply=550 ok\n\nmail:reply=250 4.1.1 x\n")
        args = ["--fault-file", str(rules)]
        want = "%s:4: mail:reply=250 4.1.1 x" % rules
    p = run([smtpsink_bin, "--discard", "--listen", "%s:%d" % (HOST, free_port())] + args, timeout=30)
    assert p.returncode == 2, show(p)
    assert want in p.stderr, show(p)
    assert "listening on" not in p.stderr, show(p)
