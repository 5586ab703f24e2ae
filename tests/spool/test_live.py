"""The spool tool on a spool the server is writing: `wait` returns as soon
as the message lands and times out otherwise, `follow` prints messages sent
after it started, across segment rotation, and `verify` finds a flipped
byte in the open segment (and names its record's offset) without calling a
write in progress damage.
"""

import json
import os
import signal
import subprocess
import time

from spool_helpers import ls_json, send_smtplib, tool, tool_popen

WAIT_LATENCY_MAX_S = 2.0  # polls every 100 ms; generous for a loaded CI box


def finish(p, sig=None, timeout=30):
    if sig is not None and p.poll() is None:
        p.send_signal(sig)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        raise AssertionError("smtpsink-spool did not exit: %r" % err[-2000:])
    return p.returncode, out.decode(errors="replace"), err.decode(errors="replace")


def test_wait_returns_when_the_message_lands(server):
    srv = server("--shards", "2")
    send_smtplib(srv.port, "old@example.com", ["ci@example.org"], b"Subject: before\r\n\r\nx\r\n")
    w = tool_popen(srv.spool, "wait", "--to", "CI@example.org", "--subject", "*ready*", "--timeout", 60, "--json")
    time.sleep(0.5)
    assert w.poll() is None, "wait counted a message sent before it started: %r" % (finish(w),)
    send_smtplib(srv.port, "other@example.com", ["ci@example.org"], b"Subject: not it\r\n\r\nx\r\n")
    qid = send_smtplib(srv.port, "new@example.com", ["ci@example.org"], b"Subject: we are ready\r\n\r\nx\r\n")
    sent = time.monotonic()
    rc, out, err = finish(w, timeout=WAIT_LATENCY_MAX_S + 5)
    latency = time.monotonic() - sent
    assert rc == 0, err
    assert json.loads(out)["qid"] == qid
    assert latency < WAIT_LATENCY_MAX_S, "wait took %.2f s after the 250" % latency
    print("wait latency after the 250: %.3f s" % latency)


def test_wait_times_out_and_counts(server):
    srv = server("--shards", "1")
    start = time.monotonic()
    p = tool(srv.spool, "wait", "--to", "nobody@example.org", "--timeout", 1, check=1, text=True)
    assert 0.9 < time.monotonic() - start < 10 and "timed out" in p.stderr
    for i in range(3):
        send_smtplib(srv.port, "s@example.com", ["count@example.org"], b"Subject: %d\r\n\r\nx\r\n" % i)
    tool(srv.spool, "wait", "--to", "count@example.org", "--count", 3, "--existing", "--timeout", 5, check=0)
    tool(srv.spool, "wait", "--to", "count@example.org", "--count", 4, "--existing", "--timeout", 1, check=1)
    tool(srv.spool, "wait", "--to", "count@example.org", "--timeout", 1, check=1)  # none after the start


def test_wait_for_a_server_not_started_yet(server, tmp_path):
    spool = tmp_path / "later"
    w = tool_popen(spool, "wait", "--to", "first@example.org", "--timeout", 60, "--quiet")
    time.sleep(0.3)
    srv = server("--shards", "1", spool=spool)
    send_smtplib(srv.port, "s@example.com", ["first@example.org"], b"Subject: first\r\n\r\nx\r\n")
    rc, out, err = finish(w)
    assert rc == 0 and out == "", err


def test_follow_prints_new_messages(server):
    srv = server("--shards", "2")
    send_smtplib(srv.port, "old@example.com", ["f@example.org"], b"Subject: old\r\n\r\nx\r\n")
    f = tool_popen(srv.spool, "follow", "--json", "--from", "new*")
    time.sleep(0.5)
    want = [send_smtplib(srv.port, "new%d@example.com" % i, ["f@example.org"], b"Subject: n\r\n\r\nx\r\n")
            for i in range(5)]
    send_smtplib(srv.port, "skip@example.com", ["f@example.org"], b"Subject: filtered out\r\n\r\nx\r\n")
    time.sleep(1.0)
    rc, out, err = finish(f, signal.SIGINT)
    assert rc == 0, err
    assert sorted(json.loads(line)["qid"] for line in out.splitlines()) == sorted(want)


def test_follow_and_ls_across_rotation(server):
    # a small segment (it must hold --max-size + --max-rcpts KiB + 64 KiB)
    srv = server("--shards", "1", "--segment-size", 17825792, "--max-size", 1048576)
    f = tool_popen(srv.spool, "follow", "--json", "--no-subject")
    time.sleep(0.5)
    bodies, qids = {}, []
    for i in range(40):  # 40 x ~900 KB: two rotations
        body = b"Subject: big %d\r\n\r\n" % i + (b"%07d" % i) * 128000 + b"\r\n"
        qids.append(send_smtplib(srv.port, "big@example.com", ["r@example.org"], body))
        bodies[qids[-1]] = body
    time.sleep(1.0)
    rc, out, err = finish(f, signal.SIGTERM)
    assert rc == 0, err
    assert [json.loads(line)["qid"] for line in out.splitlines()] == qids  # one shard: in order
    segs = sorted(n for n in os.listdir(os.path.join(srv.spool, "shard-00")) if n.endswith(".seg"))
    assert len(segs) >= 3, segs
    assert [m["qid"] for m in ls_json(srv.spool, "--no-subject")] == qids[::-1]
    assert {m["segment"] for m in ls_json(srv.spool, "--no-subject")} == set(range(1, len(segs) + 1))
    for qid in (qids[0], qids[len(qids) // 2], qids[-1]):
        assert tool(srv.spool, "cat", qid, check=0).stdout == bodies[qid]
    stats = json.loads(tool(srv.spool, "stats", "--json", check=0).stdout)
    assert stats["messages"] == 40 and stats["segments"] == len(segs)
    assert srv.stop() == 0  # seals the last one too
    out = tool(srv.spool, "verify", check=0, text=True).stdout
    sessions = tool(srv.spool, "sessions", "--json", check=0, text=True).stdout.splitlines()
    assert len(sessions) == 40  # one connection per message, each with its report (all in by the stop)
    assert "%d segment(s), %d index(es), 80 record(s): clean" % (len(segs), len(segs)) in out, out
    assert tool(srv.spool, "ls", check=0).stderr == b""  # every index used, none warned about


def wait_for_sessions(spool, n, timeout=10.0):
    """Session reports are written when the server has seen the close."""
    deadline = time.monotonic() + timeout
    while len(tool(spool, "sessions", "--json", check=0, text=True).stdout.splitlines()) < n:
        assert time.monotonic() < deadline, "fewer than %d session reports" % n
        time.sleep(0.05)


def test_verify_finds_a_flipped_byte_in_the_open_segment(server):
    srv = server("--shards", "1")
    qids = [send_smtplib(srv.port, "v@example.com", ["v@example.org"], b"Subject: %d\r\n\r\n" % i + b"y" * 500 + b"\r\n")
            for i in range(5)]
    wait_for_sessions(srv.spool, 5)
    p = tool(srv.spool, "verify", check=0, text=True)
    assert "10 record(s): clean" in p.stdout  # 5 messages, 5 session reports
    victim = next(m for m in ls_json(srv.spool) if m["qid"] == qids[2])
    path = os.path.join(srv.spool, victim["file"])
    flip_at = victim["offset"] + 300  # inside the body
    with open(path, "r+b") as fh:
        fh.seek(flip_at)
        b = fh.read(1)
        fh.seek(flip_at)
        fh.write(bytes([b[0] ^ 0x01]))
    p = tool(srv.spool, "verify", check=1, text=True)
    assert "%s: offset %d: record checksum or trailer is wrong" % (victim["file"], victim["offset"]) in p.stdout, \
        p.stdout
    # the records after it proved it durable: it is damage, not a write in
    # progress, and they are read past it (9 of 10 records)
    assert "the records after it were read" in p.stdout and "9 record(s): 1 problem(s)" in p.stdout, p.stdout
    tool(srv.spool, "cat", qids[2], check=1)  # a damaged record is not served
    tool(srv.spool, "cat", qids[1], check=0)
    tool(srv.spool, "cat", qids[4], check=0)
    listed = ls_json(srv.spool)
    assert sorted(m["qid"] for m in listed) == sorted(qids[:2] + qids[3:])


def test_indexes_the_server_seals_verify(server):
    """The server's own indexes: entries at the offsets of their records
    (io/spool.c once filled an entry before it knew the record's offset)."""
    srv = server("--shards", "1")
    for i in range(3):
        send_smtplib(srv.port, "s@example.com", ["r@example.org"], b"Subject: %d\r\n\r\nx\r\n" % i)
    assert srv.stop() == 0  # a clean stop seals the open segment
    p = tool(srv.spool, "verify", text=True)
    # 3 messages and 3 session reports; the reports come after messages with
    # later IDs, the index is sorted by ID: verify matches them by offset
    assert p.returncode == 0 and "1 index(es), 6 record(s): clean" in p.stdout, p.stdout + p.stderr
