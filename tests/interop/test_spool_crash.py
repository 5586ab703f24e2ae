"""The durable spool (issue 4) across kill -9, checked from outside through
spoolfmt.py (see spool_helpers.py).

Tests:
  - crash: kill -9 the server again and again under load from 50
    connections, restart it on the same spool, and check that nothing
    acknowledged was lost, nothing is stored twice, torn tails are cut and
    logged, and a kill never looks like corruption;
  - kill -9 right after a segment rotation keeps what the new segment holds;
  - reading the spool while the server writes it finds every message
    acknowledged before the read;
  - a segment file that never got its header is not corruption.
"""

import asyncio
import collections
import hashlib
import os
import random
import re
import shutil
import threading
import time

import pytest

from interop_helpers import HOST
from spool_helpers import (  # noqa: F401 (spool_server and _need_spoolfmt are fixtures)
    BASE_ARGS, CORRUPT_LOG_RE, DAMAGE_LOG_RE, QID_RE, REPLY_TIMEOUT, SEGMENT_SIZE, TORN_RE, _need_spoolfmt,
    check_stored, dot_stuff, fill_segment, kill9, spool_by_qid, spool_server, spoolfmt, stop_clean, write_messages)


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


# -- a segment never given a header ------------------------------------------------
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
