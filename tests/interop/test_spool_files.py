"""The spool under hostile conditions (issue 12): a damaged record costs
that record only, a planted symlink is never followed, files and
directories are private whatever the umask, and one server owns a spool.

Tests:
  - salvage: kill -9, flip a bit in a middle record of the unsealed
    segment; before the restart the spool tool already reads every intact
    message past it (the damage is proved durable by later records); the
    restarted server logs the damaged range, lists it in NNNNNNNN.damage,
    seals the segment with an index of its 9 intact records and keeps
    serving; every intact message comes back byte-exact through the tool,
    `verify` reports the damage (exit 1) and `verify --salvage` calls it
    salvaged (exit 0);
  - a symlink planted at the name the index is written under
    (NNNNNNNN.idx.tmp) pointing at a file outside the spool: the seal at
    rotation and at the stop leave that file untouched, the server keeps
    taking mail, the indexes verify;
  - modes: under umask 022, the spool, shard directories, segments,
    indexes and the lock are 0700/0600; --spool-mode 0640 under umask 077
    gives exactly 0750/0640 (and --spool-mode 0755: 0755/0644);
  - a second server on the same spool exits 1 naming the first one's PID,
    before it touches a segment, and the first keeps serving.

Servers come from spool_helpers.py's spool_server factory (capture mode, both
backends).  Nothing sleeps for a fixed time: conditions are polled.
"""

import json
import os
import stat
import subprocess

import conftest
import pytest
from interop_helpers import HOST, Wire, free_port, greet, spool_tool, spool_tool_path
from spool_helpers import (  # noqa: F401 (spool_server is a fixture)
    BASE_ARGS, REPLY_TIMEOUT, data_txn, flip, kill9, qid_of, spool_server, stop_clean, write_messages)

SECOND_SERVER_TIMEOUT = 20.0


def mode_of(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def segment_path(spool, segno=1, ext="seg"):
    return os.path.join(str(spool), "shard-00", "%08d.%s" % (segno, ext))


def cat_bytes(spool, qid):
    """smtpsink-spool cat ID, as bytes (spool_tool reads text)."""
    p = subprocess.run([spool_tool_path(), "--spool", str(spool), "cat", qid], capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout


def tool_qids(spool):
    p = spool_tool(spool, "ls", "--json", "--no-subject")
    return [json.loads(line)["qid"] for line in p.stdout.splitlines()]


def test_salvage_keeps_every_intact_message(spool_server, backend, tmp_path):
    spool = tmp_path / "spool"
    args = ("--sync", "group", "--shards", 1, *BASE_ARGS)
    srv = spool_server(spool, *args, io=backend)
    sent = write_messages(srv.port, 10)
    kill9(srv)
    path = segment_path(spool)
    listed = {json.loads(line)["qid"]: json.loads(line)
              for line in spool_tool(spool, "ls", "--json", "--no-subject").stdout.splitlines()}
    victim = listed[sent[4]["qid"]]
    flip(path, victim["offset"] + 300)  # inside its body
    intact = [e for e in sent if e is not sent[4]]

    # before the restart: the tool reads past the damage (later records prove it durable)
    assert sorted(tool_qids(spool)) == sorted(e["qid"] for e in intact)
    p = spool_tool(spool, "verify", check=1)
    assert "offset %d: record checksum or trailer is wrong" % victim["offset"] in p.stdout, p.stdout

    srv = spool_server(spool, *args, io=backend)
    text = srv.stderr()
    assert "SPOOL DAMAGE in 00000001.seg: 1 damaged range(s) skipped, " in text, srv.stderr_tail()
    assert "damaged range at offset %d" % victim["offset"] in text, srv.stderr_tail()
    damage = [json.loads(line) for line in open(segment_path(spool, ext="damage"))]
    assert len(damage) == 1 and damage[0]["offset"] == victim["offset"], damage
    assert damage[0]["reason"] == "bad-checksum" and damage[0]["durable"] and damage[0]["action"] == "skipped"
    assert os.path.exists(segment_path(spool, ext="idx")), os.listdir(os.path.dirname(path))
    assert mode_of(segment_path(spool, ext="damage")) == 0o600
    after = write_messages(srv.port, 1)  # it keeps serving, in a new segment
    stop_clean(srv)

    assert sorted(tool_qids(spool)) == sorted(e["qid"] for e in intact + after)
    for e in intact + after:
        assert cat_bytes(spool, e["qid"]) == e["body"], e["qid"]
    spool_tool(spool, "cat", sent[4]["qid"], check=1)  # the damaged one is not served
    p = spool_tool(spool, "verify", check=1)  # the damage is still there: reported
    assert "shard-00/00000001.seg: offset %d: record checksum" % victim["offset"] in p.stdout, p.stdout
    p = spool_tool(spool, "verify", "--salvage", check=0)  # ...and salvaged
    assert "not indexed (salvaged)" in p.stdout and "clean, 0 problem(s)" in p.stdout, p.stdout
    stats = json.loads(spool_tool(spool, "stats", "--json").stdout)
    assert stats["messages"] == len(intact) + 1 and stats["damage_files"] == 1, stats


def test_planted_index_symlink_is_not_followed(spool_server, backend, tmp_path):
    spool = tmp_path / "spool"
    target = tmp_path / "precious"
    target.write_bytes(b"not the server's\n")
    srv = spool_server(spool, "--shards", 1, *BASE_ARGS, io=backend)
    for segno in (1, 2):  # the seal at rotation (segment 1) and at the stop (segment 2)
        os.symlink(str(target), segment_path(spool, segno, "idx.tmp"))
    body = b"Subject: big\r\n\r\n" + b"0123456789" * 90000 + b"\r\n"  # ~900 KB: rotation after ~19
    qids = []
    for _ in range(24):
        qids += [e["qid"] for e in write_messages_with(srv.port, body)]
    assert os.path.exists(segment_path(spool, 1, "idx")), "segment 1 was not sealed: no rotation?"
    qids += [e["qid"] for e in write_messages(srv.port, 1)]  # still taking mail after the seal
    stop_clean(srv)
    assert target.read_bytes() == b"not the server's\n"
    for segno in (1, 2):
        assert not os.path.lexists(segment_path(spool, segno, "idx.tmp"))
        assert os.path.exists(segment_path(spool, segno, "idx"))
    p = spool_tool(spool, "verify")
    assert "2 segment(s), 2 index(es)" in p.stdout and "clean" in p.stdout, p.stdout
    assert sorted(tool_qids(spool)) == sorted(qids)


def write_messages_with(port, body):
    """One message with this body (write_messages' shape: qid and body)."""
    with Wire(HOST, port, timeout=REPLY_TIMEOUT) as w:
        greet(w)
        qid = qid_of(data_txn(w, "big@example.com", ["r@example.com"], body))
        w.cmd("QUIT", 221)
    return [{"qid": qid, "body": body}]


def with_umask(mask, start):
    old = os.umask(mask)
    try:
        return start()
    finally:
        os.umask(old)


@pytest.mark.backends("epoll")
def test_modes_whatever_the_umask(spool_server, backend, tmp_path):
    for mask, extra, dmode, fmode in ((0o022, (), 0o700, 0o600), (0o077, ("--spool-mode", "0640"), 0o750, 0o640),
                                      (0o077, ("--spool-mode", "0755"), 0o755, 0o644)):
        spool = tmp_path / ("spool-%o-%o" % (mask, fmode))
        srv = with_umask(mask, lambda: spool_server(spool, "--shards", 2, *extra, *BASE_ARGS, io=backend))
        write_messages(srv.port, 3)
        stop_clean(srv)  # seals: indexes too
        dirs = [str(spool)] + [os.path.join(str(spool), d) for d in os.listdir(str(spool)) if d.startswith("shard-")]
        files = [os.path.join(d, f) for d in dirs[1:] for f in os.listdir(d)] + [os.path.join(str(spool), "lock")]
        assert len(dirs) == 3 and any(f.endswith(".idx") for f in files), files
        assert {d: mode_of(d) for d in dirs} == {d: dmode for d in dirs}
        assert {f: mode_of(f) for f in files} == {f: fmode for f in files}
    # a directory's mode names the same spool as its files' (0755 is 0644,
    # tested above); execute without read, and special bits, are refused
    for bad in ("0711", "1750", "0400"):
        p = subprocess.run([conftest.smtpsink_path(), "--spool", str(tmp_path / "x"), "--spool-mode", bad],
                           capture_output=True, text=True, timeout=30)
        assert p.returncode == 2 and "--spool-mode" in p.stderr, (bad, p.stderr)


def test_second_server_is_refused(spool_server, backend, tmp_path):
    spool = tmp_path / "spool"
    first = spool_server(spool, "--shards", 1, *BASE_ARGS, io=backend)
    before = write_messages(first.port, 2)
    files = sorted(os.listdir(os.path.join(str(spool), "shard-00")))
    # lock, shard-00, and what the HTTP API's index keeps beside them
    top = sorted(os.listdir(str(spool)))
    assert "lock" in top and "shard-00" in top and not any(d.startswith("shard-0") and d != "shard-00" for d in top)
    port = free_port()
    p = subprocess.run([conftest.smtpsink_path(), "--spool", str(spool), "--listen", "%s:%d" % (HOST, port),
                        "--io", backend, "--shards", "2"],
                       capture_output=True, text=True, timeout=SECOND_SERVER_TIMEOUT)
    assert p.returncode == 1, p.stderr
    assert "in use by another process (PID %d)" % first.pid in p.stderr, p.stderr
    assert "listening" not in p.stderr
    # it touched nothing: no shard-01, no new segment, no recovery
    assert sorted(os.listdir(str(spool))) == top
    assert sorted(os.listdir(os.path.join(str(spool), "shard-00"))) == files
    after = write_messages(first.port, 1)  # the owner keeps serving
    stop_clean(first)
    assert sorted(tool_qids(spool)) == sorted(e["qid"] for e in before + after)
    again = spool_server(spool, "--shards", 1, *BASE_ARGS, io=backend)  # the lock died with its owner
    stop_clean(again)
