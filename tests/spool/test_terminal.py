"""Terminal safety (issue 12): no text from mail or clients reaches a
terminal with a control in it.  C0, DEL and C1 (U+0080..U+009F: raw bytes
0x80..0x9F outside UTF-8, UTF-8 encoded C2 80..C2 9F, and what RFC 2047
decoding makes of =9B in ISO-8859-1) are replaced in ls, show, sessions,
session, follow and stats, and escaped in JSON (\\u009b); cat and export
write the bytes as they are.

The messages come through a real server from a raw socket, so HELO names,
senders and subjects carry exactly the bytes under test.
"""

import json
import os
import signal
import socket
import time

from spool_helpers import HOST, qid_of, tool, tool_popen

CSI_ISO = b"=?iso-8859-1?q?=9B31mRED?="  # issue 12's subject: 0x9B is CSI for xterm
SUBJECTS = [CSI_ISO, b"raw \x9b31m 8-bit", b"utf8 \xc2\x9b31m c1", b"esc \x1b[31m del \x7f bell \x07",
            b"=?utf-8?q?=C2=9B31m?= and =?utf-8?b?wpsyMm0=?="]
HELO = b"h\xc2\x9b31m.example"
SENDER = b"c1\xc2\x9b@example.com"
FOLLOW_TIMEOUT = 20.0


def reply(sock, buf):
    while b"\r\n" not in buf[0] or not any(ln[3:4] == b" " for ln in buf[0].split(b"\r\n")[:-1]):
        chunk = sock.recv(4096)
        assert chunk, buf[0]
        buf[0] += chunk
    lines = buf[0].split(b"\r\n")
    for i, ln in enumerate(lines[:-1]):
        if ln[3:4] == b" ":
            out = b"\r\n".join(lines[:i + 1])
            buf[0] = b"\r\n".join(lines[i + 1:])
            return out
    raise AssertionError(buf[0])


def send_raw(port, subjects):
    """One session: EHLO with a C1 in the name, an SMTPUTF8 sender with a
    C1, one message per subject.  Returns the queue IDs."""
    qids = []
    with socket.create_connection((HOST, port), timeout=60) as s:
        buf = [b""]
        assert reply(s, buf).startswith(b"220")
        s.sendall(b"EHLO " + HELO + b"\r\n")
        assert reply(s, buf).startswith(b"250")
        for subject in subjects:
            for cmd, code in ((b"MAIL FROM:<" + SENDER + b"> SMTPUTF8 BODY=8BITMIME", b"250"),
                              (b"RCPT TO:<t@example.org>", b"250"), (b"DATA", b"354")):
                s.sendall(cmd + b"\r\n")
                r = reply(s, buf)
                assert r.startswith(code), (cmd, r)
            s.sendall(b"Subject: " + subject + b"\r\nX-Ctl: a\x9bb\r\n\r\nbody \x9b\x1b\r\n.\r\n")
            qids.append(qid_of(reply(s, buf)))
        s.sendall(b"QUIT\r\n")
        reply(s, buf)
    return qids


def controls(out):
    """The controls in a tool's output (bytes), but line ends."""
    bad = []
    for ch in out.decode("utf-8", "surrogateescape"):
        o = ord(ch)
        if (o < 0x20 and ch != "\n") or o == 0x7F or 0x80 <= o <= 0x9F or 0xDC80 <= o <= 0xDC9F:
            bad.append(hex(o if o < 0xDC00 else o - 0xDC00))
    return bad


def wait_sessions(spool, n):
    deadline = time.monotonic() + 10
    while len(tool(spool, "sessions", "--json", check=0).stdout.splitlines()) < n:
        assert time.monotonic() < deadline, "no session report"
        time.sleep(0.05)


def follow_existing(spool, lines):
    """follow --existing until it printed `lines` lines; its output."""
    p = tool_popen(spool, "follow", "--existing")
    out, deadline = b"", time.monotonic() + FOLLOW_TIMEOUT
    os.set_blocking(p.stdout.fileno(), False)
    while out.count(b"\n") < lines and time.monotonic() < deadline and p.poll() is None:
        out += p.stdout.read() or b""
        time.sleep(0.05)
    p.send_signal(signal.SIGINT)
    rest, _ = p.communicate(timeout=30)
    return out + (rest or b"")


def test_no_control_reaches_the_terminal(server, tmp_path):
    srv = server("--shards", "1")
    qids = send_raw(srv.port, SUBJECTS)
    wait_sessions(srv.spool, 1)
    sid = json.loads(tool(srv.spool, "sessions", "--json", check=0).stdout.splitlines()[0])["id"]
    outputs = {
        "ls": tool(srv.spool, "ls", check=0).stdout,
        "sessions": tool(srv.spool, "sessions", check=0).stdout,
        "session": tool(srv.spool, "session", sid, check=0).stdout,
        "stats": tool(srv.spool, "stats", check=0).stdout,
        "follow": follow_existing(srv.spool, len(qids)),
    }
    for q in qids:
        outputs["show " + q] = tool(srv.spool, "show", q, check=0).stdout
    assert {k: controls(v) for k, v in outputs.items()} == {k: [] for k in outputs}
    assert outputs["ls"].count(b"?31mRED") == 1 and b"\xc2\x9b" not in outputs["ls"]  # replaced, not dropped
    assert b"h?31m.example" in outputs["session"] and b"h?31m.example" in outputs["sessions"]
    assert outputs["follow"].count(b"\n") >= len(qids)

    # JSON: C1 escaped like C0, the output valid UTF-8 and JSON
    raw = tool(srv.spool, "ls", "--json", check=0).stdout + tool(srv.spool, "show", "--json", qids[0],
                                                                    check=0).stdout
    raw += tool(srv.spool, "sessions", "--json", check=0).stdout
    assert controls(raw) == [] and b"\\u009b" in raw
    raw.decode("utf-8")
    msgs = {m["qid"]: m for m in map(json.loads, tool(srv.spool, "ls", "--json", check=0).stdout.splitlines())}
    assert msgs[qids[0]]["subject"] == "\x9b31mRED" and msgs[qids[0]]["mail_from"] == SENDER.decode()
    assert msgs[qids[0]]["helo"] == HELO.decode()
    assert msgs[qids[4]]["subject"] == "\x9b31m and \x9b22m"  # Q and B words in UTF-8

    # cat and export are data: the bytes as they were sent
    body = tool(srv.spool, "cat", qids[1], check=0).stdout
    assert body.startswith(b"Subject: " + SUBJECTS[1] + b"\r\nX-Ctl: a\x9bb\r\n") and b"\x9b\x1b" in body
    tool(srv.spool, "export", "--eml", tmp_path / "eml", "--quiet", check=0)
    assert (tmp_path / "eml" / (qids[1] + ".eml")).read_bytes() == body
