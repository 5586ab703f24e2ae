"""The durable spool (issue 4), checked from outside through spoolfmt.py.

spoolfmt.py is a second implementation of spool format v1, written from
docs/SPOOL-FORMAT.md: every check here reads what the server wrote with it,
so the C encoder, the C decoder and the document are cross-checked.

Tests:
  - capture: varied messages (8-bit, dot-stuffed lines, bare LF, many
    recipients, BDAT, AUTH, HELO, pipelining, swaks, smtplib) for every
    --sync mode and both backends; each queue ID the server answered 250
    with is in the spool once, byte-exact, with its envelope;
  - sealed indexes agree with their segments;
  - crash: kill -9 the server again and again under load from 50
    connections, restart it on the same spool, and check that nothing
    acknowledged was lost, nothing is stored twice, torn tails are cut and
    logged, and a kill never looks like corruption;
  - disk full on a small tmpfs: only 250 for stored messages, 4xx otherwise,
    452 4.3.1 at MAIL while no segment can be opened, capture resumes once
    space is freed;
  - a flipped byte: spoolfmt reports exactly the damaged record; the server
    quarantines damage before the durable point (unsealed segment), cuts a
    damaged last record as a torn tail (the documented limit), and keeps
    serving either way.

Servers, SMTP helpers and the spool checks come from spool_helpers.py.
"""

import asyncio
import base64
import collections
import hashlib
import json
import os
import random
import re
import shutil
import smtplib
import subprocess
import threading
import time

import pytest

from interop_helpers import HOST, Wire, greet, need_tool, wait_for
from spool_helpers import (  # noqa: F401 (spool_server and _need_spoolfmt are fixtures)
    BASE_ARGS, CORRUPT_LOG_RE, DAMAGE_LOG_RE, MAX_SIZE, QID_RE, REPLY_TIMEOUT, SEGMENT_SIZE, TORN_RE, _need_spoolfmt,
    check_stored, data_txn, dot_stuff, fill_segment, flip, kill9, local_port, qid_of, record_problems, spool_by_qid,
    spool_server, spoolfmt, stop_clean, write_messages)


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


@pytest.mark.parametrize("after", [1, 3])
def test_kill9_after_rotation(spool_server, backend, tmp_path, after):
    """kill -9 right after a segment rotation, with `after` acknowledged
    messages in the new segment: the restart keeps them all, logs no
    corruption and quarantines nothing.

    The first record of a new segment must carry the new segment's durable
    offset (64) as synced_before, never the old segment's: a record whose
    synced_before is beyond its own offset is not valid, so recovery would
    cut it as a torn tail (losing acknowledged mail: after=1) or quarantine
    the segment (after=3)."""
    spool = tmp_path / "spool"
    args = ("--sync", "group", "--shards", 1, *BASE_ARGS)
    srv = spool_server(spool, *args, io=backend)
    sent = fill_segment(srv.port, 19 + after)
    kill9(srv)
    segs = spoolfmt.segment_files(str(spool))
    assert len(segs) == 2, "expected a rotation after 19 messages of 900 KB: %r" % segs
    first = spoolfmt.segment_records(spoolfmt.read_file(segs[1][2]))[0]
    bad_sb = [(off, h["synced_before"]) for off, h in first if h["synced_before"] > off]
    preds = unsealed_predictions(spool)
    srv = spool_server(spool, *args, io=backend)
    stop_clean(srv)
    assert not bad_sb, ("records of the new segment %s carry synced_before beyond their own offset "
                        "(offset, synced_before): %r; spoolfmt's recovery verdict %r; after restart the "
                        "server said:\n%s" % (segs[1][2], bad_sb, {k: v["recovery"] for k, v in preds.items()},
                                               srv.stderr_tail()))
    assert "CORRUPTION" not in srv.stderr() and not spoolfmt.corrupt_files(str(spool)), srv.stderr_tail()
    check_stored(spool, sent)


# -- crash: kill -9 under load ---------------------------------------------------------
LOAD_CLIENTS = 50
KILLS = 6


def load_body(seed):
    """A unique, verifiable body for seed: a few hundred bytes to ~120 KB,
    with lines that need dot-stuffing and 8-bit bytes."""
    rng = random.Random(seed)
    size = rng.choice((300, 500, 800, 1500, 2500, 4000, 4000, 6000, 9000, 16000, 30000, 120000))
    h = hashlib.sha256(b"%d" % seed).hexdigest().encode()
    lines = [b"X-Seed: %d" % seed, b"Subject: load %d" % seed, b""]
    n = size // 80 + 1
    for i in range(n):
        k = i % 64
        ln = b"%06d " % i + h[k:] + h[:k]
        if i % 7 == 3:
            ln = b"." + ln
        elif i % 29 == 5:
            ln = b"."
        elif i % 31 == 9:
            ln = ln + b" \xc3\xa9\xff"
        lines.append(ln)
    return b"\r\n".join(lines) + b"\r\n"


class LoadClients:
    """LOAD_CLIENTS asyncio SMTP clients in a thread.  Each keeps sending
    messages (pipelined MAIL/RCPT/DATA, then the body) and records every
    (queue ID, seed) answered 250; after a kill it reconnects and goes on."""

    def __init__(self, port, count, deadline):
        self.port = port
        self.count = count
        self.deadline = deadline
        self.acked = []  # (qid, cid, seed)
        self.finals = collections.Counter()  # final reply codes (and errors)
        self.connects = 0
        self.conn_errors = 0
        self.stopping = False
        self.unexpected = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()

    def stop(self, timeout=90):
        self.stopping = True
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "load clients did not stop within %d s" % timeout

    def _run(self):
        asyncio.run(self._main())

    async def _main(self):
        await asyncio.gather(*(self._client(cid) for cid in range(self.count)))

    @staticmethod
    async def _reply(reader):
        lines = []
        while True:
            ln = await asyncio.wait_for(reader.readline(), REPLY_TIMEOUT)
            if not ln.endswith(b"\n"):
                raise ConnectionError("closed mid-reply: %r" % ln)
            lines.append(ln.rstrip(b"\r\n").decode("utf-8", "replace"))
            if len(lines[-1]) < 4 or lines[-1][3] != "-":
                return int(lines[-1][:3]), lines[-1]

    async def _client(self, cid):
        seq = 0
        while not self.stopping and time.monotonic() < self.deadline:
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, self.port), 10)
            except (OSError, asyncio.TimeoutError):
                self.conn_errors += 1
                await asyncio.sleep(0.03)
                continue
            self.connects += 1
            try:
                code, text = await self._reply(reader)
                if code != 220:
                    raise ConnectionError(text)
                writer.write(b"EHLO load%d.example\r\n" % cid)
                code, text = await self._reply(reader)
                if code != 250:
                    raise ConnectionError(text)
                while not self.stopping and time.monotonic() < self.deadline:
                    seed = cid * 1_000_000 + seq
                    seq += 1
                    writer.write(b"MAIL FROM:<c%d@load.example>\r\nRCPT TO:<s%d@sink.example>\r\nDATA\r\n"
                                 % (cid, seed))
                    for want in (250, 250, 354):
                        code, text = await self._reply(reader)
                        if code != want:
                            raise ConnectionError("%d expected, got %s" % (want, text))
                    writer.write(dot_stuff(load_body(seed)) + b".\r\n")
                    code, text = await self._reply(reader)
                    self.finals[code] += 1
                    if code == 250:
                        m = QID_RE.match(text)
                        if not m:
                            self.unexpected.append(text)
                        else:
                            self.acked.append((m.group(1), cid, seed))
                    elif code >= 500:
                        self.unexpected.append(text)
                writer.write(b"QUIT\r\n")
                await asyncio.wait_for(writer.drain(), 10)
            except (OSError, ConnectionError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError):
                pass  # killed under us: reconnect
            finally:
                writer.close()


def unsealed_predictions(spool):
    """spoolfmt's recovery decision for every segment without an index
    (the ones the server scans at start-up): {(shard, segno): scan}."""
    out = {}
    for shard, segno, path, idx in spoolfmt.segment_files(str(spool)):
        if idx is None:
            img = spoolfmt.read_file(path)
            scan = spoolfmt.scan_segment(img)
            if scan["recovery"] == spoolfmt.TORN_TAIL:
                # docs: the bytes from good_end to the last non-zero byte are
                # saved to NNNNNNNN.seg.cut-OFFSET before the cut
                scan["cut_bytes"] = img[scan["good_end"]:].rstrip(b"\0")
                scan["cut_file"] = "%s.cut-%d" % (path, scan["good_end"])
            scan["path"] = path
            out[(shard, segno)] = scan
    return out


def check_recovery_log(srv, predictions, kill_no):
    """What the restarted server did with each unsealed segment, against
    spoolfmt's prediction.  Returns (torn tails cut, [problem text]):
    a torn tail must be cut at the same offset and logged, a clean segment
    left alone, and nothing ever quarantined after a kill -9 (in particular
    not a segment that is all zeros: created, header never written, which
    the document says is not corruption)."""
    text = srv.stderr()
    torn = {(int(m.group(1)), int(m.group(2))): (int(m.group(3)), int(m.group(4)))
            for m in TORN_RE.finditer(text)}
    quarantined = {(int(m.group(1)), int(m.group(2))): m.group(0) for m in CORRUPT_LOG_RE.finditer(text)}
    quarantined.update({(int(m.group(1)), int(m.group(2))): m.group(0) for m in DAMAGE_LOG_RE.finditer(text)})
    problems = []
    cuts = 0
    for key, scan in sorted(predictions.items()):
        rec = scan["recovery"]
        what = "kill #%d, shard %d segment %08d" % (kill_no, key[0], key[1])
        brief = {k: v for k, v in scan.items() if k not in ("found_after", "cut_bytes")}
        brief["valid records after the damage"] = len(scan["found_after"])
        if key in quarantined:
            problems.append("%s: quarantined or salvaged after a plain kill -9 (%s); spoolfmt: %s%r" % (
                what, quarantined[key],
                "the file is all zeros (never given a header), which is not corruption; "
                if scan["all_zero"] else "", brief))
        elif rec in (spoolfmt.CORRUPT, spoolfmt.SALVAGE) and not scan["all_zero"]:
            problems.append("%s: spoolfmt finds it %s after a kill -9 but the server did not act on it: %r"
                            % (what, rec, brief))
        if scan["all_zero"] and os.path.exists(scan["path"]):
            problems.append("%s: all zeros (created, header never written): the server should have "
                            "removed it (docs), it is still there" % what)
        if rec == spoolfmt.TORN_TAIL:
            cuts += 1
            if torn.get(key) != (scan["good_end"], scan["records"]):
                problems.append("%s: torn tail at %d after %d records (spoolfmt); the server logged %r"
                                % (what, scan["good_end"], scan["records"], torn.get(key)))
            elif not os.path.exists(scan["cut_file"]) or \
                    spoolfmt.read_file(scan["cut_file"]) != scan["cut_bytes"]:
                problems.append("%s: the %d bytes cut at %d are not saved in %s (docs: the server never "
                                "destroys what it cuts)" % (what, len(scan["cut_bytes"]), scan["good_end"],
                                                           scan["cut_file"]))
        elif key in torn:
            problems.append("%s: the server cut a torn tail %r, spoolfmt says %s" % (what, torn[key], rec))
    for key in set(quarantined) - set(predictions):
        problems.append("kill #%d: quarantined a segment with an index? %s" % (kill_no, quarantined[key]))
    return cuts, problems


@pytest.mark.load
@pytest.mark.parametrize("sync", ["group", "always"])
def test_kill9_under_load(spool_server, backend, tmp_path, sync, figures):
    """kill -9 the server 6 times, 0.3-1.5 s apart, under load from 50
    connections, restarting it on the same spool each time.  Every queue ID
    a client got a 250 for must be in the spool exactly once, byte-exact and
    checksum-valid; no queue ID is ever issued twice; torn tails are cut and
    logged; no segment is ever quarantined.

    Why no .seg.corrupt is acceptable: kill -9 ends the process, not the
    kernel.  Every write() that returned is in the page cache and reaches
    the file whatever happens to the process, so the file can only lack a
    suffix (a write cut short by the kill: a torn tail nothing was
    acknowledged for).  Damage before the durable point would be a server
    bug (reordered or overlapping writes, a wrong synced_before), never the
    crash.  Power loss, which can drop unsynced pages in any order, is not
    simulated here.

    Problems are collected over all the kills and reported together, so one
    bug does not hide what the others do to acknowledged mail."""
    spool = tmp_path / "spool"
    rng = random.Random()
    args = ("--sync", sync, "--shards", 2, "--grace", 5, *BASE_ARGS)
    srv = spool_server(spool, *args, io=backend)
    port = srv.port
    t_start = time.monotonic()
    clients = LoadClients(port, LOAD_CLIENTS, deadline=t_start + 75)
    clients.start()
    cuts = 0
    restarts = []
    problems = []
    try:
        time.sleep(0.8)
        for k in range(1, KILLS + 1):
            time.sleep(rng.uniform(0.3, 1.5))
            before = len(clients.acked)
            kill9(srv)
            preds = unsealed_predictions(spool)
            t = time.monotonic()
            srv = spool_server(spool, *args, io=backend, port=port)
            restarts.append((before, round(time.monotonic() - t, 2)))
            n, probs = check_recovery_log(srv, preds, k)
            cuts += n
            problems += probs
        time.sleep(1.0)
    finally:
        clients.stop()
    stop_clean(srv)
    elapsed = time.monotonic() - t_start
    acked = clients.acked
    figures("kill -9 x%d (--sync %s, --io %s): %d messages acknowledged in %.1f s, %d connections, "
            "%d torn tails cut, final replies %s, (acked before each kill, restart s) %r"
            % (KILLS, sync, backend, len(acked), elapsed, clients.connects, cuts, dict(clients.finals),
               restarts))
    if clients.unexpected:
        problems.append("unexpected replies: %r" % clients.unexpected[:10])
    assert len(acked) >= 100, "too little load to mean anything: %d acknowledged" % len(acked)
    qids = [q for q, _, _ in acked]
    reused = [q for q, n in collections.Counter(qids).items() if n > 1]
    if reused:
        problems.append("queue IDs given in more than one 250 (reused across restarts?): %r" % reused[:20])
    corrupt = spoolfmt.corrupt_files(str(spool))
    if corrupt:
        problems.append("quarantined segments after plain kill -9s: %s" % [os.path.basename(c) for c in corrupt])
    expected = [{"qid": q, "body": load_body(seed), "mail_from": "c%d@load.example" % cid,
                 "rcpts": ["s%d@sink.example" % seed]} for q, cid, seed in acked]
    try:
        recs = check_stored(spool, expected, exact=False)
    except AssertionError as e:
        _, by_all = spool_by_qid(spool, include_corrupt=True)
        _, by_live = spool_by_qid(spool)
        missing = [q for q in qids if q not in by_live]
        in_corrupt = [q for q in missing if q in by_all]
        problems.append("%d of %d acknowledged messages are not in the spool: %d of them only in "
                        "quarantined .seg.corrupt files, %d gone for good (e.g. %r)\n%s"
                        % (len(missing), len(qids), len(in_corrupt), len(missing) - len(in_corrupt),
                           [q for q in missing if q not in by_all][:5], str(e)[:3000]))
        recs = []
    # records stored without a 250 (killed before the answer) are allowed,
    # but must be genuine: one of the bodies a client sent
    for r in recs:
        m = re.match(r"^s(\d+)@sink\.example$", r["rcpts"][0] if r["rcpts"] else "")
        if not (m and r["body"] == load_body(int(m.group(1)))):
            problems.append("a stored record no client sent: %s" % r["qid"])
            break
    assert not problems, "%d problems after %d kills:\n%s" % (len(problems), KILLS, "\n".join(problems))
    shutil.rmtree(spool)  # hundreds of MB; a failing run keeps it for a look


@pytest.mark.load
def test_read_while_writing(spool_server, backend, tmp_path):
    """Readers can read the spool while the server writes it (issue 4):
    walking the segments under load, following the document's rule for
    open segments (stop at the first record that does not verify), finds
    every message acknowledged before the read began, byte-exact, and
    nothing that is not a genuine record."""
    spool = tmp_path / "spool"
    srv = spool_server(spool, "--sync", "group", "--shards", 2, *BASE_ARGS, io=backend)
    clients = LoadClients(srv.port, 20, deadline=time.monotonic() + 60)
    clients.start()
    problems, reads = [], []
    try:
        for _ in range(5):
            time.sleep(0.6)
            acked = list(clients.acked)  # acknowledged before this read begins
            recs = spoolfmt.read_spool(str(spool), live=True)
            by = {r["qid"]: r for r in recs}
            missing = [q for q, _, _ in acked if q not in by]
            if missing:
                problems.append("a live read missed %d of %d acknowledged messages, e.g. %r"
                                % (len(missing), len(acked), missing[:5]))
            for r in recs:
                m = re.match(r"^s(\d+)@sink\.example$", r["rcpts"][0] if r["rcpts"] else "")
                if not (m and r["body"] == load_body(int(m.group(1)))):
                    problems.append("a live read returned a record no client sent: %s @%d"
                                    % (r["file"], r["offset"]))
                    break
            reads.append((len(acked), len(recs)))
    finally:
        clients.stop()
    stop_clean(srv)
    assert not problems, "reads (acked, records) %r:\n%s" % (reads, "\n".join(problems))
    assert reads[-1][0] >= 100, "too little load: %r" % reads
    shutil.rmtree(spool)


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


# -- disk full --------------------------------------------------------------------------
@pytest.fixture
def small_tmpfs(tmp_path):
    """A 64 MiB tmpfs, unmounted at teardown; skips if mount is refused."""
    mnt = tmp_path / "tmpfs"
    mnt.mkdir()
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (%s; needs root and mount permission): the disk-full test "
                    "did not run" % (p.stderr.strip() or "exit %d" % p.returncode))
    try:
        yield mnt
    finally:
        for _ in range(20):
            if subprocess.run(["umount", str(mnt)], capture_output=True).returncode == 0:
                break
            time.sleep(0.25)
        else:
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def test_disk_full(small_tmpfs, spool_server, backend, tmp_path):
    """ENOSPC: every reply is a 250 for a stored message or a 4xx (451 4.3.0 /
    452 4.3.1); MAIL gets 452 4.3.1 while no segment can be opened; capture
    resumes within seconds once space is freed."""
    spool = small_tmpfs / "spool"
    srv = spool_server(spool, "--sync", "group", "--shards", 1, *BASE_ARGS, io=backend)
    try:
        # leave room for the open segment only: the next one cannot be created
        filler = small_tmpfs / "filler"
        fd = os.open(filler, os.O_CREAT | os.O_WRONLY, 0o600)
        try:
            os.posix_fallocate(fd, 0, free_bytes(small_tmpfs) - (6 << 20))
        finally:
            os.close(fd)
        assert free_bytes(small_tmpfs) < SEGMENT_SIZE // 2
        part = b"y" * 78 + b"\r\n"
        acked, refused, mail_refusal = [], [], None
        with Wire(HOST, srv.port, timeout=REPLY_TIMEOUT) as w:
            greet(w)
            for i in range(60):  # 17 MiB / ~800 KB: the segment is full after ~21
                r = w.cmd("MAIL FROM:<full%d@example.com>" % i)
                if r.code != 250:
                    mail_refusal = r
                    break
                w.cmd("RCPT TO:<r@example.com>", 250)
                w.cmd("DATA", 354)
                body = b"X-N: %d\r\n\r\n" % i + part * 10000
                w.send(dot_stuff(body) + b".\r\n")
                r = w.reply(REPLY_TIMEOUT)
                if r.code == 250:
                    acked.append({"qid": qid_of(r), "body": body})
                else:
                    assert r.code in (451, 452) and re.match(r"^45[12] 4\.3\.[01] ", r.lines[-1]), \
                        "a refusal for storage trouble must be 451 4.3.0 or 452 4.3.1: %r" % r.raw
                    refused.append((i, r.lines[-1]))
            assert mail_refusal is not None, (
                "60 messages of 800 KB on a full disk and MAIL was never refused (acked %d, refused %r)"
                % (len(acked), refused))
            assert mail_refusal.code == 452 and mail_refusal.lines[-1].startswith("452 4.3.1"), mail_refusal.raw
            assert len(acked) >= 15, "expected the open segment to take ~20 messages: %d" % len(acked)
            # still down while the disk stays full: MAIL keeps getting 452 4.3.1
            for _ in range(4):
                time.sleep(0.5)
                r = w.cmd("MAIL FROM:<still@example.com>")
                assert r.code == 452 and r.lines[-1].startswith("452 4.3.1"), r.raw
            w.cmd("QUIT", 221)
        # free the space: capture resumes within a few seconds
        filler.unlink()
        t = time.monotonic()
        resumed = None
        while time.monotonic() - t < 8:
            with Wire(HOST, srv.port, timeout=REPLY_TIMEOUT) as w:
                greet(w)
                r = w.cmd("MAIL FROM:<again@example.com>")
                if r.code == 250:
                    w.cmd("RCPT TO:<r@example.com>", 250)
                    w.cmd("DATA", 354)
                    body = b"Subject: after\r\n\r\nspace is back\r\n"
                    w.send(dot_stuff(body) + b".\r\n")
                    acked.append({"qid": qid_of(w.reply(REPLY_TIMEOUT)), "body": body})
                    resumed = time.monotonic() - t
                    for i in range(3):
                        body = b"Subject: after %d\r\n\r\nmore\r\n" % i
                        acked.append({"qid": qid_of(data_txn(w, "more@example.com", ["r@example.com"], body)),
                                      "body": body})
                    w.cmd("QUIT", 221)
                    break
                assert r.code == 452, r.raw
            time.sleep(0.3)
        assert resumed is not None and resumed < 5, (
            "capture did not resume within 5 s of freeing space (resumed after %r s). stderr:\n%s"
            % (resumed, srv.stderr_tail()))
        stop_clean(srv)
    finally:
        srv.stop()
    recs = check_stored(spool, acked, exact=False)
    stored_n = {int(m.group(1)) for r in recs for m in [re.match(rb"X-N: (\d+)\r\n", r["body"])] if m}
    kept_refused = [i for i, _ in refused if i in stored_n]
    assert not kept_refused, "refused messages were stored anyway (a retry would duplicate them): %r" % kept_refused
    assert "writable again" in srv.stderr(), srv.stderr_tail()


# -- a flipped byte ----------------------------------------------------------------------
@pytest.mark.parametrize("where", ["sealed-body", "unsealed-body", "unsealed-header", "unsealed-last"])
def test_flipped_byte(spool_server, backend, tmp_path, where):
    """One flipped byte: spoolfmt's verify reports exactly that record, and
    a restarted server does not crash and keeps taking mail.  In an
    unsealed segment (no index: scanned at start-up) damage before the
    durable point is salvaged: every other record stays (logged, listed in
    NNNNNNNN.damage, the segment sealed with an index of the intact ones);
    damage in the last record is the documented limit: it looks like a
    torn tail and is cut (logged, saved).  A sealed segment is not
    rescanned at start-up."""
    spool = tmp_path / "spool"
    # message records only, so that record k is the k-th message (session
    # reports share the framing; test_session_reports.py covers them)
    args = ("--sync", "group", "--shards", 1, "--no-session-reports", *BASE_ARGS)
    srv = spool_server(spool, *args, io=backend)
    sent = write_messages(srv.port, 12)
    if where.startswith("sealed"):
        stop_clean(srv)
    else:
        kill9(srv)  # leaves the segment unsealed (the page cache keeps every record)
    (shard, segno, path, idx), = spoolfmt.segment_files(str(spool))
    assert (idx is None) == where.startswith("unsealed"), (where, idx)
    img = spoolfmt.read_file(path)
    recs, end, stop, _ = spoolfmt.segment_records(img)
    assert len(recs) == 12, "expected 12 records, found %d (walk stopped at %d: %s)" % (len(recs), end, stop)
    k = 11 if where.endswith("last") else 5
    off, h = recs[k]
    target = off + 20 if where.endswith("header") else off + 48 + h["meta_len"] + h["body_len"] // 2
    flip(path, target)

    probs = [p for p in spoolfmt.verify(str(spool)) if p["file"] == path]
    assert [(p["offset"]) for p in probs] == [off], (
        "flipped byte %d in record %d (offset %d): spoolfmt should report exactly that record, got %r"
        % (target, k, off, probs))
    assert probs[0]["kind"] == ("record BAD_HEADER" if where.endswith("header") else "record BAD_CHECKSUM"), probs
    damaged = spoolfmt.read_file(path)
    scan = spoolfmt.scan_segment(damaged)

    srv = spool_server(spool, *args, io=backend)  # must start, not crash
    text = srv.stderr()
    if where == "sealed-body":
        assert "CORRUPTION" not in text and "torn tail" not in text, text
        lost = []
    elif where == "unsealed-last":
        assert scan["recovery"] == spoolfmt.TORN_TAIL and scan["good_end"] == off, scan
        m = TORN_RE.search(text)
        assert m and (int(m.group(2)), int(m.group(3)), int(m.group(4))) == (segno, off, 11), (
            "damage in the last record looks like a torn tail (docs: known limit) and must be cut and "
            "logged at offset %d. stderr:\n%s" % (off, text))
        # docs: what is cut is never destroyed: saved as NNNNNNNN.seg.cut-OFFSET
        cut = "%s.cut-%d" % (path, off)
        assert os.path.exists(cut), "the cut bytes were not saved as %s: %r\n%s" % (
            cut, os.listdir(os.path.dirname(path)), text)
        assert spoolfmt.read_file(cut) == damaged[off:].rstrip(b"\0"), "%s does not hold the bytes cut" % cut
        lost = [sent[11]["qid"]]
    else:
        assert scan["recovery"] == spoolfmt.SALVAGE and scan["good_end"] == off, scan
        check_salvaged(text, path, segno, off, recs[k + 1][0], where.endswith("header"))
        lost = []
    # it keeps serving, into a new segment when the old one was salvaged
    after = write_messages(srv.port, 2)
    stop_clean(srv)
    _, by = spool_by_qid(spool)
    for e in sent + after:
        if e["qid"] in lost or e is sent[k]:
            continue
        assert e["qid"] in by and by[e["qid"]][0]["body"] == e["body"], "%s lost or altered" % e["qid"]
    if where.startswith("unsealed") and where != "unsealed-last":
        new = {r["qid"]: r for r in spoolfmt.read_spool(str(spool))}
        assert all(e["qid"] in new and new[e["qid"]]["segno"] > segno for e in after), (
            "new mail should go to a new segment after the salvage")
        # the salvaged segment holds every record but the damaged one, and
        # its index lists exactly those (spoolfmt: only the damaged record)
        sprobs = spoolfmt.verify_segment(path, path[:-4] + ".idx")
        assert [p["offset"] for p in sprobs] == [off], sprobs


def check_salvaged(text, path, segno, off, next_off, header):
    """The server salvaged the segment: logged, the range in .damage, sealed
    with an index (docs/SPOOL-FORMAT.md "Salvage")."""
    m = DAMAGE_LOG_RE.search(text)
    assert m and (int(m.group(2)), int(m.group(3)), int(m.group(4))) == (segno, 1, 11), (
        "damage before the durable point must be salvaged and logged (11 of 12 records kept). stderr:\n%s" % text)
    damage = [json.loads(line) for line in open(path[:-4] + ".damage")]
    assert damage == [{"shard": 0, "segment": segno, "offset": off, "length": next_off - off,
                       "reason": "bad-header" if header else "bad-checksum", "durable": True,
                       "action": "skipped"}], damage
    assert os.path.exists(path) and os.path.exists(path[:-4] + ".idx"), os.listdir(os.path.dirname(path))


def test_segment_never_given_a_header(spool_server, backend, tmp_path):
    """A kill -9 between creating a segment file and writing its header
    leaves a file of zeros (or an empty one).  Nothing in it was ever
    acknowledged: the restart must not call it corruption (docs: such a
    segment is removed), and the segments before it stay as they are."""
    spool = tmp_path / "spool"
    args = ("--sync", "group", "--shards", 2, *BASE_ARGS)
    srv = spool_server(spool, *args, io=backend)
    sent = write_messages(srv.port, 3)
    kill9(srv)
    # what a kill right after open(O_CREAT) / fallocate() leaves behind
    zeros = spool / "shard-00" / "00000002.seg"
    empty = spool / "shard-01" / "00000002.seg"
    with open(zeros, "wb") as f:
        f.truncate(SEGMENT_SIZE)
    empty.write_bytes(b"")
    for p in (zeros, empty):
        scan = spoolfmt.scan_segment(spoolfmt.read_file(p))
        assert scan["all_zero"], scan
    srv = spool_server(spool, *args, io=backend)
    text = srv.stderr()
    after = write_messages(srv.port, 2)
    stop_clean(srv)
    assert "CORRUPTION" not in text and not spoolfmt.corrupt_files(str(spool)), (
        "a segment that never got its header was treated as corruption:\n%s\n%r" % (
            text, spoolfmt.corrupt_files(str(spool))))
    check_stored(spool, sent + after)


# -- retention ------------------------------------------------------------------------
def segments(spool):
    """(segno, .seg path, .idx path or None) of shard 0, oldest first."""
    return [(n, seg, idx) for _, n, seg, idx in spoolfmt.segment_files(str(spool))]


def test_retention_max_bytes(spool_server, backend, tmp_path):
    """--spool-max-bytes: once the spool holds more, the oldest sealed
    segments go (segment and index), the open segment never; what remains
    is still intact and the newest messages are all there."""
    spool = tmp_path / "spool"
    limit = 3 * SEGMENT_SIZE
    srv = spool_server(spool, "--sync", "group", "--shards", 1, *BASE_ARGS, "--spool-max-bytes", limit, io=backend)
    sent = []
    for _ in range(5):  # ~5 x 19 MB: at least four rotations
        sent += fill_segment(srv.port, 20)

    def trimmed():
        segs = segments(spool)
        return segs[0][0] > 1 and sum(os.path.getsize(seg) for _, seg, _ in segs) <= limit + SEGMENT_SIZE
    wait_for(trimmed, 15, interval=0.3, what="the oldest segments to be deleted")
    stop_clean(srv)
    assert not [p for p in os.listdir(spool / "shard-00") if p.startswith("00000001.")], \
        "segment 1's files should all be gone"
    _, stored = spool_by_qid(spool)
    assert sent[-1]["qid"] in stored and sent[-20]["qid"] in stored, "the newest messages must stay"
    assert sent[0]["qid"] not in stored, "the oldest message should have been retired with its segment"
    assert not record_problems(spool), record_problems(spool)


def test_retention_max_age(spool_server, backend, tmp_path):
    """--spool-max-age: sealed segments older than the age are deleted; the
    open segment is kept whatever its age."""
    spool = tmp_path / "spool"
    srv = spool_server(spool, "--sync", "group", "--shards", 1, *BASE_ARGS, "--spool-max-age", 2, io=backend)
    first = fill_segment(srv.port, 20)  # rotates once: segment 1 is sealed
    assert any(idx for _, _, idx in segments(spool)), segments(spool)
    wait_for(lambda: not any(idx for _, _, idx in segments(spool)), 10, interval=0.3,
                      what="the sealed segment to age out after 2 s")
    later = fill_segment(srv.port, 1)
    stop_clean(srv)
    _, stored = spool_by_qid(spool)
    assert first[0]["qid"] not in stored
    assert later[0]["qid"] in stored
