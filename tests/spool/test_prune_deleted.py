"""prune --deleted (issue 13: "a deleted message is never served again, and
prune reclaims its space"): messages deleted through the HTTP API's
DELETE /api/v1/messages are removed from sealed segments, which are
deleted whole or rewritten without them.

Owns: spools captured by the real server (one shard, 1 MiB segments, the
API on a free port), deletions made through the API, and what prune,
ls, cat, verify and a restarted server's API show afterwards.
"""

import hashlib
import json
import os
import time
import urllib.request

from spool_helpers import HOST, free_port, ls_json, send_smtplib, tool

BODY_BYTES = 90 * 1024  # about 11 messages per 1 MiB segment
INDEX_TIMEOUT = 30.0


def api(port, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request("http://%s:%d%s" % (HOST, port, path), data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=15) as r:
        return r.status, r.read()


def api_ids(port):
    status, body = api(port, "GET", "/api/v1/messages?limit=1000")
    assert status == 200
    return {m["ID"] for m in json.loads(body)["messages"]}


def wait_ids(port, want):
    deadline = time.monotonic() + INDEX_TIMEOUT
    while True:
        got = api_ids(port)
        if got == want or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


def start(server, spool):
    port = free_port()
    srv = server("--shards", "1", "--segment-size", 1 << 20, "--max-size", 512 * 1024, "--max-rcpts", 100, "--http", "%s:%d" % (HOST, port), spool=spool)
    srv.http = port
    return srv


def capture(srv, n, tag):
    """n messages of BODY_BYTES with distinct bodies; their queue IDs."""
    qids = []
    for i in range(n):
        line = ("%s-%d " % (tag, i)) * 8 + "\r\n"
        body = ("Subject: %s %d\r\n\r\n" % (tag, i) + line * (BODY_BYTES // len(line))).encode()
        qids.append(send_smtplib(srv.port, "a@example.com", ["b@example.org"], body))
    return qids


def snapshot(spool):
    """Every file under the spool with the hash of its bytes."""
    out = {}
    for root, _, files in os.walk(spool):
        for f in files:
            p = os.path.join(root, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, spool)] = hashlib.sha256(fh.read()).hexdigest()
    return out


def seg_bytes(spool):
    d = os.path.join(spool, "shard-00")
    return sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d) if f.endswith(".seg"))


def cat(spool, qid):
    return tool(spool, "cat", qid, check=0).stdout


def by_segment(spool):
    segs = {}
    for m in ls_json(spool):
        segs.setdefault(m["segment"], []).append(m["qid"])
    return segs


def test_prune_deleted_rewrites_and_deletes_segments(server, tmp_path):
    spool = tmp_path / "spool"
    srv = start(server, spool)
    qids = capture(srv, 40, "m")
    segs = by_segment(spool)
    first, second, newest = min(segs), sorted(segs)[1], max(segs)
    assert len(segs) >= 3 and set(qids) == {q for s in segs.values() for q in s}
    gone = set(segs[first]) | set(segs[second][1::2]) | {segs[newest][0]}
    assert wait_ids(srv.http, set(qids)) == set(qids)
    status, _ = api(srv.http, "DELETE", "/api/v1/messages", {"IDs": sorted(gone)})
    assert status == 200
    assert tool(spool, "prune", "--deleted", check=1, text=True).stderr.count("owned by a running server")
    srv.stop()

    kept = [q for q in qids if q not in gone]
    before_cat = {q: cat(spool, q) for q in kept}
    before_bytes = seg_bytes(spool)
    files = snapshot(spool)
    out = tool(spool, "prune", "--deleted", "--dry-run", check=0, text=True).stdout
    assert "would delete shard-00/%08d.seg" % first in out and "would rewrite shard-00/%08d.seg" % second in out
    assert snapshot(spool) == files, "a dry run changed the spool"

    out = tool(spool, "prune", "--deleted", check=0, text=True).stdout
    assert "deleted shard-00/%08d.seg and .idx: all %d messages deleted" % (first, len(segs[first])) in out
    assert "rewrote shard-00/%08d.seg: %d deleted messages" % (second, len(segs[second][1::2])) in out
    names = os.listdir(os.path.join(spool, "shard-00"))
    assert "%08d.seg" % first not in names and "%08d.idx" % first not in names
    assert "%08d.idx" % second in names and not [n for n in names if n.endswith(".tmp")]
    assert not os.path.exists(os.path.join(spool, "index")), "the stale HTTP index was kept"
    assert seg_bytes(spool) < before_bytes
    listed = {m["qid"] for m in ls_json(spool)}
    # the newest segment of a shard is never touched: its deleted message stays on disk
    assert listed == set(kept) | {segs[newest][0]}
    for q in gone - {segs[newest][0]}:
        assert tool(spool, "cat", q).returncode != 0
    assert all(cat(spool, q) == before_cat[q] for q in kept), "a kept message changed"
    tool(spool, "verify", check=0)
    out = tool(spool, "prune", "--deleted", check=0, text=True).stdout
    assert "deleted 0 segment(s), rewrote 0, 0 deleted messages" in out  # nothing left to reclaim

    srv = start(server, spool)  # the index is rebuilt from the pruned spool and the marks log
    assert wait_ids(srv.http, set(kept)) == set(kept)
    moved = segs[second][2]  # after a deleted record: moved to a new offset
    status, raw = api(srv.http, "GET", "/api/v1/message/%s/raw" % moved)
    assert status == 200 and ("m-%d " % qids.index(moved)).encode() in raw


def test_prune_deleted_honours_delete_all(server, tmp_path):
    spool = tmp_path / "spool"
    srv = start(server, spool)
    old = capture(srv, 30, "old")
    assert wait_ids(srv.http, set(old)) == set(old)
    status, _ = api(srv.http, "DELETE", "/api/v1/messages")  # no body: everything received so far
    assert status == 200
    new = capture(srv, 15, "new")
    srv.stop()
    segs = by_segment(spool)
    out = tool(spool, "prune", "--deleted", check=0, text=True).stdout
    listed = {m["qid"] for m in ls_json(spool)}
    assert set(new) <= listed
    # every old message is gone but those in the newest segment, which prune never touches
    assert listed & set(old) == set(old) & set(segs[max(segs)]), out
    assert "deleted shard-00/%08d.seg and .idx: all" % min(segs) in out
    tool(spool, "verify", check=0)


def test_rewritten_segment_without_its_index_reads_and_reseals(server, tmp_path):
    """The state a crash between the rename of the new .seg and the write of
    its .idx leaves: readers scan it, the next server start seals it."""
    spool = tmp_path / "spool"
    srv = start(server, spool)
    qids = capture(srv, 25, "c")
    segs = by_segment(spool)
    first = min(segs)
    gone = set(segs[first][::2])
    assert wait_ids(srv.http, set(qids)) == set(qids)
    api(srv.http, "DELETE", "/api/v1/messages", {"IDs": sorted(gone)})
    srv.stop()
    stale = os.path.join(spool, "shard-00", "%08d.seg.tmp" % first)
    with open(stale, "wb") as f:  # a crashed prune's leftover: replaced, never reused
        f.write(b"junk")
    kept = [q for q in qids if q not in gone]
    before_cat = {q: cat(spool, q) for q in kept}
    tool(spool, "prune", "--deleted", check=0)
    assert not os.path.exists(stale)
    os.unlink(os.path.join(spool, "shard-00", "%08d.idx" % first))
    assert {m["qid"] for m in ls_json(spool)} == set(kept)
    assert all(cat(spool, q) == before_cat[q] for q in kept)
    with open(stale, "wb") as f:  # the server removes one too (a prune killed before its rename)
        f.write(b"junk")
    srv = start(server, spool)
    srv.stop()
    assert not os.path.exists(stale)
    assert os.path.exists(os.path.join(spool, "shard-00", "%08d.idx" % first))
    tool(spool, "verify", check=0)
    assert {m["qid"] for m in ls_json(spool)} == set(kept)


def test_before_runs_first_and_deleted_looks_at_what_is_left(server, tmp_path):
    spool = tmp_path / "spool"
    srv = start(server, spool)
    qids = capture(srv, 25, "b")
    segs = by_segment(spool)
    assert wait_ids(srv.http, set(qids)) == set(qids)
    api(srv.http, "DELETE", "/api/v1/messages", {"IDs": [segs[min(segs)][0]]})
    srv.stop()
    out = tool(spool, "prune", "--before", "now", "--deleted", check=0, text=True).stdout
    sealed = len(segs) - 1
    assert "prune: deleted %d segment(s)" % sealed in out, out
    assert "prune --deleted: deleted 0 segment(s), rewrote 0, 0 deleted messages" in out, out
    assert os.path.exists(os.path.join(spool, "index")), "nothing --deleted changed: the index stays"
    assert {m["qid"] for m in ls_json(spool)} == set(segs[max(segs)])
