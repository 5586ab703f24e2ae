"""The spool tool on damaged segments (docs/SPOOL-FORMAT.md "Salvage",
docs/SPOOL-TOOL.md "verify"), on synthetic spools from spool_gen (each
record's synced_before is its own offset, so any later record proves a
damaged one was durable):

  - an open segment with a damaged record in the middle: every command
    reads the records after it, and says so;
  - a sealed segment damaged after it was sealed: `verify --salvage`
    reports the range and an index that does not match; `--rewrite-index`
    writes one of the intact records and a .damage list without changing a
    byte of the segment; plain `verify` still reports the damage;
  - a quarantined NNNNNNNN.seg.corrupt as older servers left them: listed,
    shown, exported and counted; `--rewrite-index` returns it to .seg;
  - commands that change the spool (prune, verify --rewrite-index) refuse
    while a server owns it, naming its PID; reading commands do not care.
"""

import hashlib
import json
import os
import re

from spool_helpers import generate, ls_json, send_smtplib, tool

N = 1500


def flip(path, off, mask=0x40):
    with open(path, "r+b") as fh:
        fh.seek(off)
        b = fh.read(1)
        fh.seek(off)
        fh.write(bytes([b[0] ^ mask]))


def sha(path):
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def spool_of(tmp_path, *extra):
    """1 shard, 1 MiB segments of ~2 KB messages: several segments."""
    return generate(tmp_path / "g", "--messages", N, "--shards", 1, "--segment-bytes", 1 << 20,
                    "--body-bytes", 2000, *extra)


def middle_of(spool, segment):
    """A message in the middle of a segment, by offset order."""
    msgs = sorted((m for m in ls_json(spool, "--no-subject") if m["segment"] == segment), key=lambda m: m["offset"])
    return msgs[len(msgs) // 2]


def test_open_segment_read_past_damage(tmp_path):
    spool = spool_of(tmp_path, "--open-last")
    before = ls_json(spool, "--no-subject")
    last = max(m["segment"] for m in before)
    victim = middle_of(spool, last)
    flip(os.path.join(spool, victim["file"]), victim["offset"] + 20)  # its header
    p = tool(spool, "ls", "--json", "--no-subject", check=0, text=True)
    assert sorted(json.loads(line)["qid"] for line in p.stdout.splitlines()) == \
        sorted(m["qid"] for m in before if m["qid"] != victim["qid"])
    assert "1 damaged range(s) skipped; the records after them are read" in p.stderr, p.stderr
    after = [m for m in before if m["segment"] == last and m["offset"] > victim["offset"]]
    assert after and tool(spool, "show", after[-1]["qid"], check=0)
    stats = json.loads(tool(spool, "stats", "--json", check=0).stdout)
    assert stats["messages"] == N - 1 and stats["damaged_ranges"] == 1, stats
    out = tool(spool, "verify", check=1, text=True).stdout
    assert "offset %d: record header does not verify" % victim["offset"] in out and "1 problem(s)" in out, out


def test_sealed_segment_salvaged_by_rewrite(tmp_path):
    spool = spool_of(tmp_path)
    before = ls_json(spool, "--no-subject")
    victim = middle_of(spool, 2)
    seg = os.path.join(spool, victim["file"])
    flip(seg, victim["offset"] + 300)  # its body
    digest = sha(seg)
    out = tool(spool, "verify", "--salvage", check=1, text=True).stdout
    assert re.search(r"00000002\.seg: offset %d: record checksum or trailer is wrong \(a damaged range of \d+ "
                     r"bytes\): skipped" % victim["offset"], out), out
    assert "shard-00/00000002.idx: the index does not list exactly the intact records" in out, out
    p = tool(spool, "verify", "--salvage", "--rewrite-index", check=0, text=True)
    assert "index rewritten" in p.stdout and "clean, 0 problem(s)" in p.stdout, p.stdout
    assert sha(seg) == digest  # not a byte of the segment changed
    damage = [json.loads(line) for line in open(seg[:-4] + ".damage")]
    assert [(d["offset"], d["reason"], d["durable"], d["action"]) for d in damage] == [
        (victim["offset"], "bad-checksum", True, "skipped")]
    listed = ls_json(spool, "--no-subject")
    assert sorted(m["qid"] for m in listed) == sorted(m["qid"] for m in before if m["qid"] != victim["qid"])
    tool(spool, "cat", victim["qid"], check=1)
    out = tool(spool, "verify", check=1, text=True).stdout  # the damage is still there
    assert "offset %d: record checksum or trailer is wrong" % victim["offset"] in out, out
    out = tool(spool, "verify", "--salvage", check=0, text=True).stdout  # ...and salvaged
    assert "offset %d: note: record checksum or trailer is wrong" % victim["offset"] in out, out


def test_quarantined_segment_is_read_and_returned(tmp_path):
    spool = spool_of(tmp_path, "--open-last")
    before = ls_json(spool, "--no-subject")
    last = max(m["segment"] for m in before)
    victim = middle_of(spool, last)
    seg = os.path.join(spool, victim["file"])
    flip(seg, victim["offset"] + 300)
    os.rename(seg, seg + ".corrupt")  # what an older server did with it at start-up
    intact = sorted(m["qid"] for m in before if m["qid"] != victim["qid"])
    p = tool(spool, "ls", "--json", "--no-subject", check=0, text=True)
    assert sorted(json.loads(line)["qid"] for line in p.stdout.splitlines()) == intact
    assert "quarantined by the server; reading its intact records" in p.stderr, p.stderr
    inside = next(m for m in before if m["segment"] == last and m["qid"] != victim["qid"])
    assert b"Subject: message " in tool(spool, "cat", inside["qid"], check=0).stdout
    assert json.loads(tool(spool, "show", "--json", inside["qid"], check=0).stdout)["qid"] == inside["qid"]
    tool(spool, "export", "--eml", tmp_path / "eml", "--quiet", check=0)
    assert sorted(n[:-4] for n in os.listdir(tmp_path / "eml")) == intact
    stats = json.loads(tool(spool, "stats", "--json", check=0).stdout)
    assert stats["messages"] == N - 1 and stats["corrupt_files"] == 1, stats
    out = tool(spool, "verify", check=1, text=True).stdout
    assert "00000%03d.seg.corrupt: quarantined segment" % last in out, out
    p = tool(spool, "verify", "--salvage", "--rewrite-index", check=0, text=True)
    assert "renamed back to .seg" in p.stdout, p.stdout
    assert os.path.exists(seg) and os.path.exists(seg[:-4] + ".idx") and not os.path.exists(seg + ".corrupt")
    assert sorted(m["qid"] for m in ls_json(spool, "--no-subject")) == intact
    assert tool(spool, "ls", check=0).stderr == b""  # an indexed segment now: nothing to warn about
    tool(spool, "verify", "--salvage", check=0)


def test_writers_refuse_while_a_server_owns_the_spool(server):
    srv = server("--shards", "1")
    send_smtplib(srv.port, "a@example.com", ["b@example.org"], b"Subject: x\r\n\r\nx\r\n")
    pid = srv.proc.pid
    for args in (("prune", "--before", "now"), ("verify", "--salvage", "--rewrite-index")):
        p = tool(srv.spool, *args, check=1, text=True)
        assert "owned by a running server (PID %d)" % pid in p.stderr, p.stderr
    out = tool(srv.spool, "prune", "--before", "now", "--dry-run", check=0, text=True).stdout
    assert "would delete 0 segment(s)" in out  # a dry run changes nothing: no lock needed
    assert len(ls_json(srv.spool)) == 1  # readers never take the lock
    tool(srv.spool, "verify", "--salvage", check=0)
