"""The spool tool on synthetic spools written by spool_gen through core/'s
encoder (known times, senders and recipients; sealed segments with valid
indexes plus an open segment per shard): ls ordering and filters, time
syntaxes, errors and exit codes, stats, verify on sealed segments and
indexes, and prune.

spool_gen message i: shard i % 2, received 1700000000 s + i ms
(2023-11-14T22:13:20Z + i ms), from sender<i % 97>@example.com, to
user<i % 1009>@example.org (and cc<i % 7>@example.net if i % 3 == 0),
Subject "message i".
"""

import json
import os

from conftest import GEN_START_US, GEN_STEP_US
from spool_helpers import generate, ls_json, tool

N = 20000


def gen_ids(**where):
    """The message numbers spool_gen wrote that satisfy a predicate."""
    pred = where.get("pred", lambda i: True)
    return [i for i in range(N) if pred(i)]


def numbers(listed):
    return [int(m["subject"].split()[1]) for m in listed]


def test_ls_newest_first_with_limit(gen_spool):
    listed = ls_json(gen_spool, "--limit", 20)
    assert numbers(listed) == list(range(N - 1, N - 21, -1))
    m = listed[0]
    assert m["received_us"] == GEN_START_US + (N - 1) * GEN_STEP_US and m["received"] == "2023-11-14T22:13:39.999000Z"
    assert m["shard"] == 1 and m["mail_from"] == "sender%d@example.com" % ((N - 1) % 97)
    assert set(m) >= {"qid", "received", "received_us", "shard", "node", "client", "helo", "protocol", "auth_user",
                      "mail_from", "mail_params", "rcpts", "rcpt_count", "size", "flags", "subject", "segment",
                      "file", "offset"}
    assert len(ls_json(gen_spool)) == N
    human = tool(gen_spool, "ls", "--limit", 2, check=0, text=True).stdout.splitlines()
    assert len(human) == 2 and human[0].startswith(m["qid"] + " 2023-11-14T22:13:39Z 127.0.0.1")


def test_ls_filters(gen_spool):
    cases = [
        (["--from", "SENDER5@example.com"], lambda i: i % 97 == 5),
        (["--to", "cc3@*"], lambda i: i % 3 == 0 and i % 7 == 3),
        (["--to", "user100[0-8]@example.org"], lambda i: 1000 <= i % 1009 <= 1008),
        (["--subject", "message 1234"], lambda i: i == 1234),
        (["--subject", "*99"], lambda i: i % 100 == 99),
        (["--since", "2023-11-14T22:13:30Z"], lambda i: i >= 10000),
        (["--since", "1700000010"], lambda i: i >= 10000),
        (["--until", "2023-11-14T22:13:21Z"], lambda i: i < 1000),
        (["--since", "2023-11-14T23:13:20.5+01:00", "--until", "2023-11-14 22:13:21"], lambda i: 500 <= i < 1000),
        (["--since", "2023-11-14", "--until", "2023-11-15", "--to", "user7@*"], lambda i: i % 1009 == 7),
        (["--since", "-1h"], lambda i: False),
    ]
    for args, pred in cases:
        assert numbers(ls_json(gen_spool, *args)) == gen_ids(pred=pred)[::-1], args


def test_usage_and_lookup_errors(gen_spool, tmp_path):
    for args in (["ls", "--since", "yesterday"], ["ls", "--until", "2023-02-30"], ["ls", "--limit", "x"],
                 ["ls", "--bogus"], ["frobnicate"], ["cat"], ["cat", "not-a-qid"], ["export"],
                 ["export", "--eml", "a", "--mbox", "b"], ["prune"], ["wait", "--count", "0"]):
        p = tool(gen_spool, *args, check=2, text=True)
        assert p.stderr.startswith("smtpsink-spool: "), args
    p = tool(tmp_path / "missing", "ls", check=3, text=True)
    assert "does not exist" in p.stderr
    qid = ls_json(gen_spool, "--limit", 1)[0]["qid"]
    unknown = qid[:8] + ("0" if qid[8] != "0" else "1") + qid[9:]
    assert "no message" in tool(gen_spool, "cat", unknown, check=1, text=True).stderr
    tool(gen_spool, "show", qid, check=0)
    assert tool(gen_spool, "ls", "--help", check=0, text=True).stdout.startswith("usage: smtpsink-spool")


def test_cat_finds_every_segment(gen_spool):
    listed = ls_json(gen_spool)
    for m in listed[:: len(listed) // 40]:  # sealed and open segments, both shards
        body = tool(gen_spool, "cat", m["qid"], check=0).stdout
        i = int(m["subject"].split()[1])
        assert body.startswith(b"From: <sender%d@example.com>\r\n" % (i % 97)) and len(body) == m["size"]


def test_stats(gen_spool):
    s = json.loads(tool(gen_spool, "stats", "--json", check=0).stdout)
    assert s["messages"] == N and s["segments"] == 8 and s["sealed_segments"] == 6 and s["open_segments"] == 2
    assert s["oldest_us"] == GEN_START_US and s["newest_us"] == GEN_START_US + (N - 1) * GEN_STEP_US
    assert [sh["messages"] for sh in s["shards"]] == [N // 2, N // 2]
    assert s["bytes"] == sum(m["size"] for m in ls_json(gen_spool, "--no-subject"))


def flip(path, offset):
    with open(path, "r+b") as fh:
        fh.seek(offset)
        b = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([b[0] ^ 0x40]))


def test_verify_sealed_segments_and_indexes(gen_spool):
    assert "8 segment(s), 6 index(es), 20000 record(s): clean" in tool(gen_spool, "verify", check=0, text=True).stdout
    sealed = [m for m in ls_json(gen_spool, "--no-subject") if m["file"] == "shard-01/00000002.seg"]
    victim = sealed[len(sealed) // 2]
    flip(os.path.join(gen_spool, victim["file"]), victim["offset"] + victim["size"] // 2 + 200)
    out = tool(gen_spool, "verify", check=1, text=True).stdout
    assert "shard-01/00000002.seg: offset %d: record checksum or trailer is wrong" % victim["offset"] in out, out
    assert "20000 index" not in out and "19999 record(s): 2 problem(s)" in out  # + the index count mismatch
    tool(gen_spool, "cat", victim["qid"], check=1)  # ls does not hash bodies; cat does
    # a damaged index: listed through a scan of its segment instead, and reported
    flip(os.path.join(gen_spool, "shard-00", "00000003.idx"), 100)
    p = tool(gen_spool, "ls", "--json", "--no-subject", check=0, text=True)
    assert len(p.stdout.splitlines()) == N and "00000003.seg: its .idx does not verify" in p.stderr
    assert "shard-00/00000003.idx: index does not verify" in tool(gen_spool, "verify", check=1, text=True).stdout


def test_verify_notes_server_recovery_files(tmp_path):
    spool = generate(tmp_path / "g", "--messages", 10, "--shards", 1)
    (spool / "shard-00" / "00000007.seg.corrupt").write_bytes(b"x")
    (spool / "shard-00" / "00000001.seg.cut-4096").write_bytes(b"y")
    out = tool(spool, "verify", check=1, text=True).stdout
    assert "shard-00/00000007.seg.corrupt: quarantined segment" in out
    assert "shard-00/00000001.seg.cut-4096: note: bytes the server cut" in out and "1 problem(s)" in out


def test_prune(gen_spool):
    before = ls_json(gen_spool, "--no-subject")
    cut = "2023-11-14T22:13:30Z"
    out = tool(gen_spool, "prune", "--before", cut, "--dry-run", check=0, text=True).stdout
    assert "would delete" in out and len(ls_json(gen_spool, "--no-subject")) == N
    out = tool(gen_spool, "prune", "--before", cut, check=0, text=True).stdout
    gone = {line.split()[1] for line in out.splitlines() if line.startswith("deleted shard")}
    assert gone and all(not os.path.exists(os.path.join(gen_spool, f)) for f in gone)
    after = ls_json(gen_spool, "--no-subject")
    assert {m["qid"] for m in after} == {m["qid"] for m in before if m["file"] not in gone}
    limit_us = 1700000010 * 10**6
    assert all(max(m["received_us"] for m in before if m["file"] == f) < limit_us for f in gone)
    tool(gen_spool, "prune", "--before", "now", check=0)
    files = sorted(os.listdir(os.path.join(gen_spool, "shard-00")))
    assert files == ["00000004.seg"]  # the open segment always stays
    assert len(ls_json(gen_spool, "--no-subject")) == len([m for m in before if m["segment"] == 4])
