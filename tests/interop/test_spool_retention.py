"""The durable spool (issue 4) when the disk fills up and when old segments
are retired, checked from outside through spoolfmt.py (see
spool_helpers.py).

Tests:
  - disk full on a small tmpfs: only 250 for stored messages, 4xx otherwise,
    452 4.3.1 at MAIL while no segment can be opened, capture resumes once
    space is freed;
  - retention: --spool-max-bytes and --spool-max-age delete the oldest
    sealed segments (segment and index), never the open one.
"""

import os
import re
import subprocess
import time

import pytest

from interop_helpers import HOST, Wire, greet, wait_for
from spool_helpers import (  # noqa: F401 (spool_server and _need_spoolfmt are fixtures)
    BASE_ARGS, REPLY_TIMEOUT, SEGMENT_SIZE, _need_spoolfmt, check_stored, data_txn, dot_stuff, fill_segment, qid_of,
    record_problems, spool_by_qid, spool_server, spoolfmt, stop_clean)


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
