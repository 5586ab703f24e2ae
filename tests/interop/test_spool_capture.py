"""The durable spool (issue 4): what a server in capture mode stores,
checked from outside through spoolfmt.py (see spool_helpers.py).

Tests:
  - capture: varied messages (8-bit, dot-stuffed lines, bare LF, many
    recipients, BDAT, AUTH, HELO, pipelining, swaks, smtplib) for every
    --sync mode and both backends; each queue ID the server answered 250
    with is in the spool once, byte-exact, with its envelope;
  - LMTP: one record with every recipient, one queue ID in every 250;
  - sealed indexes agree with their segments.
"""

import base64
import random
import re
import smtplib
import subprocess
import time

import pytest

from interop_helpers import HOST, Wire, greet, need_tool
from spool_helpers import (  # noqa: F401 (spool_server and _need_spoolfmt are fixtures)
    BASE_ARGS, MAX_SIZE, REPLY_TIMEOUT, _need_spoolfmt, check_stored, data_txn, dot_stuff, local_port, qid_of,
    spool_by_qid, spool_server, spoolfmt, stop_clean)


# -- message sets for the capture test ---------------------------------------------
def varied_messages(port, tmp_path):
    """Send a varied set of messages; return what each 250 promised."""
    out = []
    eight_bit = ("Subject: 8-bit\r\n\r\nGrüße, Zoë — ünïcödé ✉\r\n".encode("utf-8")
                 + b"latin-1 \xe9\xe8\xff\r\n")

    # 1. EHLO, DATA with dot-stuffed lines, 8-bit, ESMTP parameters
    with Wire(HOST, port, timeout=REPLY_TIMEOUT) as w:
        greet(w, "raw.example")
        body = (b"From: <raw@example.com>\r\nSubject: dots\r\n\r\n.one leading dot\r\n..two\r\n.\r\n"
                b"...\r\nend . \r\n" + eight_bit)
        r = data_txn(w, "raw@example.com", ["a@example.com", "b@example.com", "c@example.org"], body,
                     mail_params="BODY=8BITMIME SIZE=%d" % len(body),
                     rcpt_params=["NOTIFY=SUCCESS,FAILURE", "", "ORCPT=rfc822;c@example.org"])
        out.append({"qid": qid_of(r), "body": body, "mail_from": "raw@example.com",
                    "rcpts": ["a@example.com", "b@example.com", "c@example.org"],
                    "rcpt_params": ["NOTIFY=SUCCESS,FAILURE", "", "ORCPT=rfc822;c@example.org"],
                    "mail_params": "BODY=8BITMIME SIZE=%d" % len(body), "helo": "raw.example",
                    "protocol": "ESMTP", "auth_user": "", "flags_set": [spoolfmt.FLAG_8BIT],
                    "flags_clear": [spoolfmt.FLAG_BDAT], "client_port": local_port(w)})
        # 2. same session: empty body, null reverse-path
        r = data_txn(w, "", ["postmaster@example.com"], b"")
        out.append({"qid": qid_of(r), "body": b"", "mail_from": "", "rcpts": ["postmaster@example.com"],
                    "mail_params": "", "helo": "raw.example", "client_port": local_port(w),
                    "flags_clear": [spoolfmt.FLAG_8BIT]})
        # 3. bare LF and a bare-LF dot line: stored exactly, never an end of data
        body = b"Subject: bare\r\n\r\nbare\nLF\r\nsmuggle\n.\nstill inside\r\n.x\r\n"
        r = data_txn(w, "bare@example.com", ["r@example.com"], body)
        out.append({"qid": qid_of(r), "body": body, "mail_from": "bare@example.com",
                    "flags_set": [spoolfmt.FLAG_BARE_LF], "client_port": local_port(w)})
        w.cmd("QUIT", 221)

    # 4. many recipients, pipelined in one write
    rcpts = ["user%03d@rcpt%d.example" % (i, i % 7) for i in range(150)]
    with Wire(HOST, port, timeout=REPLY_TIMEOUT) as w:
        greet(w, "many.example")
        body = b"Subject: many\r\n\r\n" + b"".join(b"line %d\r\n" % i for i in range(100))
        w.send("MAIL FROM:<many@example.com>\r\n" + "".join("RCPT TO:<%s>\r\n" % r for r in rcpts)
               + "DATA\r\n")
        for _ in range(len(rcpts) + 1):
            w.expect(250, REPLY_TIMEOUT)
        w.expect(354, REPLY_TIMEOUT)
        w.send(dot_stuff(body) + b".\r\n")
        r = w.reply(REPLY_TIMEOUT)
        out.append({"qid": qid_of(r), "body": body, "rcpts": rcpts, "helo": "many.example",
                    "client_port": local_port(w)})
        # 5. five transactions pipelined in one write
        bodies = [b"Subject: pipelined %d\r\n\r\n.dot %d\r\n" % (i, i) for i in range(5)]
        w.send(b"".join(b"MAIL FROM:<p%d@example.com>\r\nRCPT TO:<q%d@example.com>\r\nDATA\r\n" % (i, i)
                        + dot_stuff(b) + b".\r\n" for i, b in enumerate(bodies)))
        for i, b in enumerate(bodies):
            w.expect(250, REPLY_TIMEOUT)
            w.expect(250, REPLY_TIMEOUT)
            w.expect(354, REPLY_TIMEOUT)
            out.append({"qid": qid_of(w.reply(REPLY_TIMEOUT)), "body": b, "mail_from": "p%d@example.com" % i,
                        "rcpts": ["q%d@example.com" % i], "client_port": local_port(w)})
        w.cmd("QUIT", 221)

    # 6. BDAT chunks over a raw socket: stored exactly (no unstuffing, no end marker)
    with Wire(HOST, port, timeout=REPLY_TIMEOUT) as w:
        greet(w, "bdat.example")
        chunks = [b"Subject: bdat\r\n\r\n.leading dot stays\r\n..two stay\r\n",
                  b"\r\n.\r\nnot the end\r\n" + bytes(range(256)),
                  b"\x00\xff\r\ntail\r\n"]
        w.cmd("MAIL FROM:<bdat@example.com> BODY=BINARYMIME", 250)
        w.cmd("RCPT TO:<r@example.com>", 250)
        for c in chunks[:-1]:
            w.send(b"BDAT %d\r\n" % len(c) + c)
            w.expect(250, REPLY_TIMEOUT)
        w.send(b"BDAT %d LAST\r\n" % len(chunks[-1]) + chunks[-1])
        r = w.reply(REPLY_TIMEOUT)
        out.append({"qid": qid_of(r), "body": b"".join(chunks), "mail_from": "bdat@example.com",
                    "mail_params": "BODY=BINARYMIME", "rcpts": ["r@example.com"],
                    "flags_set": [spoolfmt.FLAG_BDAT], "client_port": local_port(w)})
        # 7. BDAT LAST pipelined with MAIL and RCPT
        content = b"Subject: bdat last\r\n\r\nline\r\n.\r\nQUIT\r\n"
        w.send(b"MAIL FROM:<bdat2@example.com>\r\nRCPT TO:<r2@example.com>\r\nBDAT %d LAST\r\n"
               % len(content) + content)
        w.expect(250, REPLY_TIMEOUT)
        w.expect(250, REPLY_TIMEOUT)
        out.append({"qid": qid_of(w.reply(REPLY_TIMEOUT)), "body": content, "rcpts": ["r2@example.com"],
                    "flags_set": [spoolfmt.FLAG_BDAT], "client_port": local_port(w)})
        w.cmd("QUIT", 221)

    # 8. HELO (not EHLO), AUTH-less; 9. a large body crossing many receive buffers
    with Wire(HOST, port, timeout=REPLY_TIMEOUT) as w:
        w.expect(220)
        w.cmd("HELO old.example", 250)
        body = b"Subject: helo\r\n\r\nplain SMTP\r\n"
        r = data_txn(w, "old@example.com", ["r@example.com"], body)
        out.append({"qid": qid_of(r), "body": body, "helo": "old.example", "protocol": "SMTP",
                    "client_port": local_port(w)})
        rng = random.Random(4)
        lines = []
        for i in range(9000):
            ln = bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz0123456789 .") for _ in range(70))
            lines.append(b"." + ln if i % 13 == 0 else ln)
        body = b"Subject: big\r\n\r\n" + b"\r\n".join(lines) + b"\r\n"
        assert 600_000 < len(body) < MAX_SIZE - 10_000
        r = data_txn(w, "big@example.com", ["r@example.com"], body)
        out.append({"qid": qid_of(r), "body": body, "protocol": "SMTP", "client_port": local_port(w)})
        w.cmd("QUIT", 221)

    # 10. AUTH PLAIN: the user is recorded
    with Wire(HOST, port, timeout=REPLY_TIMEOUT) as w:
        greet(w, "auth.example")
        w.cmd("AUTH PLAIN " + base64.b64encode(b"\0alice\0secret").decode(), 235)
        body = b"Subject: auth\r\n\r\nauthenticated\r\n"
        r = data_txn(w, "alice@example.com", ["r@example.com"], body)
        out.append({"qid": qid_of(r), "body": body, "auth_user": "alice", "client_port": local_port(w)})
        w.cmd("QUIT", 221)

    # 11. smtplib: 8-bit body, leading dots (smtplib stuffs them), 3 recipients
    body = b"From: <lib@example.com>\r\nSubject: smtplib\r\n\r\n.dot\r\n..two\r\n" + eight_bit
    with smtplib.SMTP(HOST, port, local_hostname="smtplib.example", timeout=REPLY_TIMEOUT) as s:
        s.ehlo()
        code, _ = s.mail("lib@example.com", ["BODY=8BITMIME"])
        assert code == 250
        for r in ("x@example.com", "y@example.com", "z@example.com"):
            assert s.rcpt(r)[0] == 250
        code, msg = s.data(body)
        assert code == 250, (code, msg)
        m = re.search(r"queued as ([\x21-\x7e]{1,20})$", msg.decode())
        assert m, msg
        out.append({"qid": m.group(1), "body": body, "mail_from": "lib@example.com",
                    "mail_params": "BODY=8BITMIME", "helo": "smtplib.example",
                    "rcpts": ["x@example.com", "y@example.com", "z@example.com"],
                    "flags_set": [spoolfmt.FLAG_8BIT]})

    # 12. swaks, pipelined, with a message from a file (LF line ends,
    # dot lines): swaks converts to CRLF and stuffs dots
    msg = tmp_path / "swaks.eml"
    msg.write_bytes(b"Subject: swaks spool\n\nline one\n.leading dot\n..two dots\n.\nend\n")
    p = subprocess.run([need_tool("swaks"), "--server", "%s:%d" % (HOST, port), "--timeout", "60",
                        "--helo", "swaks.example", "--from", "swaks@example.com",
                        "--to", "s1@example.com,s2@example.com", "--data", "@%s" % msg, "--pipeline"],
                       capture_output=True, text=True, errors="replace", timeout=120)
    m = re.search(r"<-  250 2\.0\.0 Ok: queued as ([\x21-\x7e]{1,20})", p.stdout)
    assert p.returncode == 0 and m, "swaks: exit %d\n%s\n%s" % (p.returncode, p.stdout[-3000:], p.stderr[-2000:])
    out.append({"qid": m.group(1), "swaks_prefix": b"Subject: swaks spool\r\n\r\nline one\r\n.leading dot\r\n"
                b"..two dots\r\n.\r\nend\r\n", "mail_from": "swaks@example.com",
                "rcpts": ["s1@example.com", "s2@example.com"], "helo": "swaks.example"})
    return out


@pytest.mark.parametrize("sync", ["none", "group", "always"])
def test_capture_exact(spool_server, backend, tmp_path, sync):
    """Every 250 is in the spool once, byte-exact (after dot-unstuffing),
    with its envelope, and every record's checksums verify."""
    spool = tmp_path / "spool"
    t0 = int(time.time() * 1e6)
    srv = spool_server(spool, "--sync", sync, "--shards", 2, *BASE_ARGS, io=backend)
    sent = varied_messages(srv.port, tmp_path)
    stop_clean(srv)
    t1 = int(time.time() * 1e6)
    assert srv.summary().get("messages") == len(sent), srv.summary_line()
    qids = [e["qid"] for e in sent]
    assert len(set(qids)) == len(qids), "a queue ID was given twice: %r" % qids
    # swaks's exact body is swaks's business: check its prefix and that only
    # line ends follow
    _, by = spool_by_qid(spool)
    for e in sent:
        if "swaks_prefix" in e:
            assert e["qid"] in by, "swaks message %s not in the spool" % e["qid"]
            b = by[e["qid"]][0]["body"]
            assert b.startswith(e["swaks_prefix"]) and b[len(e["swaks_prefix"]):].strip(b"\r\n") == b"", b
            e["body"] = b
    check_stored(spool, sent, exact=True, t0_us=t0, t1_us=t1)
    assert not spoolfmt.corrupt_files(str(spool))


# -- sealed indexes -------------------------------------------------------------------
def test_sealed_index_matches_records(spool_server, backend, tmp_path):
    """Every .idx (sealed while running, at rotation, and at a clean stop)
    verifies and points at the records of its segment: offset, length,
    queue ID, time, meta length and flags."""
    spool = tmp_path / "spool"
    srv = spool_server(spool, "--sync", "group", "--shards", 1, *BASE_ARGS, io=backend)
    body = b"Subject: fill\r\n\r\n" + b"x" * 76 + b"\r\n"
    body = body * (900_000 // len(body))
    expected = []
    with Wire(HOST, srv.port, timeout=REPLY_TIMEOUT) as w:
        greet(w)
        for i in range(24):  # > 17 MiB: at least one rotation
            b = b"X-N: %d\r\n" % i + body
            expected.append({"qid": qid_of(data_txn(w, "f@example.com", ["r@example.com"], b)), "body": b})
        w.cmd("QUIT", 221)
    stop_clean(srv)
    _, by = spool_by_qid(spool)
    assert all(e["qid"] in by for e in expected), "acknowledged messages missing from the spool"
    segs = spoolfmt.segment_files(str(spool))
    assert len(segs) >= 2 and all(idx for _, _, _, idx in segs), \
        "after a rotation and a clean stop every segment should have an index: %r" % segs
    problems = [p for p in spoolfmt.verify(str(spool)) if p["kind"].startswith("index")]
    assert not problems, "index problems:\n" + "\n".join(
        "%s @%d: %s: %s" % (p["file"], p["offset"], p["kind"], p["detail"]) for p in problems[:20])


def test_capture_lmtp(spool_server, backend, tmp_path):
    """--lmtp: one record with every recipient, protocol LMTP, and the same
    queue ID in each per-recipient 250."""
    spool = tmp_path / "spool"
    srv = spool_server(spool, "--lmtp", "--sync", "group", "--shards", 1, *BASE_ARGS, io=backend)
    rcpts = ["l1@example.com", "l2@example.com", "l3@example.com"]
    body = b"Subject: lmtp\r\n\r\n.dot\r\n"
    with Wire(HOST, srv.port, timeout=REPLY_TIMEOUT) as w:
        w.expect(220)
        w.cmd("LHLO lmtp.example", 250)
        w.cmd("MAIL FROM:<lmtp@example.com>", 250)
        for r in rcpts:
            w.cmd("RCPT TO:<%s>" % r, 250)
        w.cmd("DATA", 354)
        w.send(dot_stuff(body) + b".\r\n")
        qids = {qid_of(w.reply(REPLY_TIMEOUT)) for _ in rcpts}
        w.cmd("QUIT", 221)
    stop_clean(srv)
    assert len(qids) == 1, qids
    check_stored(spool, [{"qid": qids.pop(), "body": body, "rcpts": rcpts, "protocol": "LMTP",
                          "helo": "lmtp.example", "mail_from": "lmtp@example.com"}])
