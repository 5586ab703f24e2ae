"""Terminal safety of the spool tool (issue 12, "C1 control characters reach
the terminal").

A spool is filled with client text made to drive a terminal: Subjects with
U+009B (CSI for xterm) as an RFC 2047 ISO-8859-1 word (Q and B), as a
UTF-8 RFC 2047 word, as raw bytes (not UTF-8) and as UTF-8 (C2 9B), with
C0 (ESC), DEL and NEL (U+0085) beside them; another header with the same;
a HELO name with UTF-8 C1 and envelope addresses with ESC and UTF-8 C1
(the server refuses C0 in commands it stores; what it takes is checked).  Then every
command that prints client text (ls, show, sessions, session, follow; with
and without --json) must print no C0 control but TAB and LF, no DEL, no raw
byte 0x80-0x9F outside a valid UTF-8 sequence and no UTF-8 encoded C1
(C2 80..C2 9F); --json output must be valid JSON whose strings still carry
those characters (escaped, so the information is not lost).

The spool is written once per module by one server (stopped before the
commands run); each command is its own test.
"""

import json
import select
import signal
import subprocess
import time

import pytest

import hostile_helpers as hh
from interop_conftest import start_server
from interop_helpers import HOST, Wire, greet
from spool_helpers import data_txn, dot_stuff

CSI_SUBJECTS = [
    b"=?iso-8859-1?q?=9B31mRED?=",
    b"=?iso-8859-1?b?mzMxbVJFRA==?=",  # the same, base64
    b"=?utf-8?q?=C2=9B31mRED_=C2=85?=",
    b"raw \x9b31mRED \x85 \x1b[0m \x7f end",
    b"utf8 \xc2\x9b31mRED \xc2\x85 \x1b[5m end",
]
EVIL_HEADER = b"X-Evil: \x9b2J \xc2\x9b2J \x1b]0;title\x07 \x7f\r\n"
EVIL_HELO = b"EHLO evil\xc2\x9b31m\xc2\x85.example"  # C0 in a HELO is refused already (501)
EVIL_SENDERS = [b"a\xc2\x9b31m@example.com", b"esc\x1b[31m@example.com"]
EVIL_RCPT = b"r\xc2\x85x@example.com"
FOLLOW_S = 8.0  # follow is stopped once it printed everything, or after this


def send_evil(port):
    """Every message, each in a session with the evil HELO; returns
    [(qid, subject bytes)] and which evil envelope values were accepted."""
    sent, accepted = [], []
    for i, subject in enumerate(CSI_SUBJECTS):
        with Wire(HOST, port, timeout=30) as w:
            w.expect(220)
            w.send(EVIL_HELO + b"\r\n")
            w.expect(250)
            sender = EVIL_SENDERS[i % len(EVIL_SENDERS)]
            w.send(b"MAIL FROM:<" + sender + b"> SMTPUTF8\r\n")
            if w.reply().code == 250:
                accepted.append(sender)
            else:
                w.cmd("MAIL FROM:<plain@example.com>", 250)
            w.send(b"RCPT TO:<" + EVIL_RCPT + b">\r\n")
            if w.reply().code == 250:
                accepted.append(EVIL_RCPT)
            else:
                w.cmd("RCPT TO:<plain@example.com>", 250)
            body = b"Subject: " + subject + b"\r\n" + EVIL_HEADER + b"\r\nbody\r\n"
            w.cmd("DATA", 354)
            w.send(dot_stuff(body) + b".\r\n")
            sent.append((hh.qid_of(w.reply()), subject))
            w.cmd("QUIT", 221)
    return sent, accepted


@pytest.fixture(scope="module")
def evil(smtpsink_bin, tmp_path_factory, tools):
    """(spool, [(qid, subject)], [session IDs], accepted envelope values)."""
    d = tmp_path_factory.mktemp("terminal")
    spool = d / "spool"
    srv = start_server(smtpsink_bin, d, extra=("--spool", spool), io="auto", discard=False)
    try:
        sent, accepted = send_evil(srv.port)
        with Wire(HOST, srv.port, timeout=30) as w:  # and one plain message, for contrast
            greet(w)
            sent.append((hh.qid_of(data_txn(w, "ok@example.com", ["ok@example.com"],
                                            b"Subject: plain\r\n\r\nx\r\n")), b"plain"))
            w.cmd("QUIT", 221)
        srv.stop()
        srv.assert_clean_exit()
    finally:
        if srv.running():
            srv.proc.kill()
            srv.proc.wait()
    listed = hh.spool_ls(tools, spool)
    sids = sorted({listed[q]["session_id"] for q, _ in sent if listed.get(q, {}).get("session_id")})
    return spool, sent, sids, accepted


def tool(tools, spool, *args):
    p = hh.run_tool(tools["spool"], "--spool", spool, *args, timeout=60)
    assert p.returncode == 0, "smtpsink-spool %s: exit %d\n%s" % (" ".join(map(str, args)), p.returncode,
                                                                 p.stderr.decode("utf-8", "replace"))
    return p


def check(p, what, as_json):
    hh.assert_terminal_safe(p.stdout, what)
    hh.assert_terminal_safe(p.stderr, what + " (stderr)")
    if not as_json:
        return []
    objs = []
    for line in p.stdout.split(b"\n"):  # not splitlines(): U+0085 is a line break to it
        if not line:
            continue
        try:
            objs.append(json.loads(line))
        except ValueError as e:
            raise AssertionError("%s: not JSON (%s): %r" % (what, e, line[:300])) from None
    return objs


def has_csi(value):
    return isinstance(value, str) and ("\x9b" in value or "\x85" in value or "\x1b" in value)


def test_stored_as_sent(evil, tools):
    """The controls really are in the spool (else the checks below prove
    nothing): cat is byte-exact."""
    spool, sent, sids, _ = evil
    for qid, subject in sent:
        got = tool(tools, spool, "cat", qid).stdout
        assert b"Subject: " + subject + b"\r\n" in got, (qid, got[:200])
    assert sids, "no session reports kept: the HELO checks would prove nothing"


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_ls(evil, tools, as_json):
    spool, sent, _, accepted = evil
    objs = check(tool(tools, spool, "ls", *(["--json"] if as_json else [])), "ls", as_json)
    if as_json:
        subjects = {o["qid"]: o["subject"] for o in objs}
        for qid, subject in sent[:-1]:
            assert has_csi(subjects.get(qid)), "ls --json lost the control in %s's Subject: %r" % (
                qid, subjects.get(qid))
        if accepted:
            assert any(has_csi(o["mail_from"]) or any(has_csi(r["addr"]) for r in o["rcpts"]) for o in objs), objs


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_show(evil, tools, as_json):
    spool, sent, _, _ = evil
    for qid, _ in sent:
        objs = check(tool(tools, spool, "show", qid, *(["--json"] if as_json else [])), "show %s" % qid, as_json)
        if as_json and qid != sent[-1][0]:
            (o,) = objs
            assert has_csi(o["subject"]) and has_csi(o["helo"]), o
            evil_hdr = [h for h in o["headers"] if h["name"] == "X-Evil"]
            assert evil_hdr and has_csi(evil_hdr[0]["value"]), o["headers"]


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_sessions(evil, tools, as_json):
    spool, _, _, _ = evil
    objs = check(tool(tools, spool, "sessions", *(["--json"] if as_json else [])), "sessions", as_json)
    if as_json:
        assert any(has_csi(o["helo"]) for o in objs), "no session shows the HELO's controls: %r" % objs


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_session(evil, tools, as_json):
    spool, _, sids, _ = evil
    for sid in sids:
        objs = check(tool(tools, spool, "session", sid, *(["--json"] if as_json else [])), "session %s" % sid,
                     as_json)
        if as_json:
            assert objs and objs[0]["id"] == sid


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_follow(evil, tools, as_json):
    """follow --existing prints what is there, then is stopped (SIGTERM)."""
    spool, sent, _, _ = evil
    argv = [tools["spool"], "--spool", str(spool), "follow", "--existing"] + (["--json"] if as_json else [])
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + FOLLOW_S
        out = b""
        while out.count(b"\n") < len(sent) and time.monotonic() < deadline:
            r, _, _ = select.select([proc.stdout], [], [], 0.2)
            if r:
                chunk = proc.stdout.read1(65536)
                if not chunk:
                    break
                out += chunk
        proc.send_signal(signal.SIGTERM)
        rest, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    p = subprocess.CompletedProcess(argv, proc.returncode, out + rest, err)
    assert p.stdout.count(b"\n") >= len(sent), "follow --existing printed %d lines for %d messages: %r" % (
        p.stdout.count(b"\n"), len(sent), p.stdout[:500])
    check(p, "follow", as_json)
