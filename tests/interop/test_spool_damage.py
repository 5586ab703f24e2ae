"""The durable spool (issue 4) with a flipped byte, checked from outside
through spoolfmt.py (see spool_helpers.py).

Tests:
  - a flipped byte: spoolfmt reports exactly the damaged record; the server
    salvages damage before the durable point (unsealed segment), cuts a
    damaged last record as a torn tail (the documented limit), and keeps
    serving either way.
"""

import json
import os

import pytest

from spool_helpers import (  # noqa: F401 (spool_server and _need_spoolfmt are fixtures)
    BASE_ARGS, DAMAGE_LOG_RE, TORN_RE, _need_spoolfmt, flip, kill9, spool_by_qid, spool_server, spoolfmt, stop_clean,
    write_messages)


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
