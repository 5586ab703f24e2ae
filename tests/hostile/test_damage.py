"""A flipped bit costs one record, never a segment (issue 12, "One flipped bit
hides a whole segment").

The server is killed with SIGKILL after N acknowledged messages, then one bit
is flipped in the body of a record in the middle of a segment:
  - unsealed (the open segment, scanned at the next start-up): the restarted
    server starts, reports the damage in its log (naming the segment), and
    keeps serving;
  - sealed (segment 1 of a spool with small segments; sealed segments are
    not rescanned at start-up, so the tool reports the damage).
Either way, after the restart every other acknowledged message is listed
(`ls`) and byte-exact (`cat`), the damaged one is never given out as if
intact (`cat` fails), `verify` exits non-zero, and `verify --salvage` names
the damaged range (the segment and the damaged record's offset).  For the
unsealed segment the same listing holds before the restart too: the tool
resyncs after a damaged record instead of stopping at it.

Which record: the middle message of the segment; where: the middle of its
body, so the header and both lengths stay valid (found with
tests/interop/spoolfmt.py, the independent reader).  Session reports are
off (--no-session-reports) so that the records are the messages.
"""

import re

import pytest

import hostile_helpers as hh
from hostile_helpers import SMALL_SEGMENTS, fill_until_sealed
from spool_helpers import flip, kill9, stop_clean, write_messages

import spoolfmt

ARGS = ("--sync", "group", "--no-session-reports")
REPORT_RE = r"damag|corrupt|dropp|lost|salvag|skipp"
SEAL_S = 30.0


def spool_records(spool):
    """{qid: spoolfmt record dict} of every intact message record."""
    return {r["qid"]: r for r in spoolfmt.read_spool(str(spool), include_corrupt=True)}


def damage_middle(spool, sent, segno):
    """Flip one bit in the middle of the body of the middle message of
    segment segno (shard 0); (its qid, segment file, record offset)."""
    recs = spool_records(spool)
    in_seg = [e for e in sent if recs[e["qid"]]["segno"] == segno]
    assert len(in_seg) >= 3, "only %d messages in segment %d" % (len(in_seg), segno)
    victim = in_seg[len(in_seg) // 2]
    r = recs[victim["qid"]]
    flip(r["file"], r["offset"] + 48 + r["meta_len"] + len(r["body"]) // 2)
    return victim["qid"], r["file"], r["offset"]


def check_readable(tools, spool, sent, damaged_qid):
    """Every message but the damaged one listed and byte-exact; the damaged
    one not handed out."""
    listed = hh.spool_ls(tools, spool)
    missing = [e["qid"] for e in sent if e["qid"] != damaged_qid and e["qid"] not in listed]
    assert not missing, "intact acknowledged messages hidden by one damaged record: %s" % missing
    for e in sent:
        p = hh.run_tool(tools["spool"], "--spool", spool, "cat", e["qid"])
        if e["qid"] == damaged_qid:
            assert p.returncode != 0, "cat gave out the damaged record %s as intact" % e["qid"]
        else:
            assert p.returncode == 0 and p.stdout == e["body"], "cat %s: exit %d, %d bytes" % (
                e["qid"], p.returncode, len(p.stdout))


def check_verify(tools, spool, seg_file, offset):
    p = hh.run_tool(tools["spool"], "--spool", spool, "verify")
    assert p.returncode != 0, "verify exits 0 with a damaged record in %s:\n%s" % (seg_file, p.stdout.decode())
    p = hh.run_tool(tools["spool"], "--spool", spool, "verify", "--salvage")
    out = (p.stdout + p.stderr).decode("utf-8", "replace")
    assert "unknown option" not in out and p.returncode != 2, "verify --salvage: exit %d\n%s" % (p.returncode, out)
    name = seg_file.rsplit("/", 1)[-1][:8]
    assert name in out and re.search(r"(?<![0-9])%d(?![0-9])" % offset, out), (
        "verify --salvage must describe the damaged range (segment %s, record at offset %d):\n%s"
        % (name, offset, out))


def unsealed_spool(spool_server, spool):
    srv = spool_server(spool, "--shards", 1, *ARGS, io="epoll")
    sent = write_messages(srv.port, 10)
    kill9(srv)
    return sent


@pytest.mark.parametrize("when", ["before-restart", "after-restart"])
def test_flipped_bit_in_unsealed_segment(spool_server, tools, tmp_path, when):
    spool = tmp_path / "spool"
    sent = unsealed_spool(spool_server, spool)
    qid, seg_file, offset = damage_middle(spool, sent, 1)
    if when == "before-restart":
        check_readable(tools, spool, sent, qid)
        return
    srv = spool_server(spool, "--shards", 1, *ARGS, io="epoll")  # must start
    log = srv.stderr()
    reported = [ln for ln in log.splitlines()
                if re.search(r"00000001\.seg|segment 1\b", ln) and re.search(REPORT_RE, ln, re.I)]
    assert reported, "the restart must report the damage in segment 1 (00000001.seg):\n%s" % log
    after = write_messages(srv.port, 2)
    stop_clean(srv)
    check_readable(tools, spool, sent + after, qid)
    check_verify(tools, spool, seg_file, offset)


def test_flipped_bit_in_sealed_segment(spool_server, tools, tmp_path):
    spool = tmp_path / "spool"
    srv = spool_server(spool, *SMALL_SEGMENTS, *ARGS, io="epoll")
    sent = [{"qid": q, "body": b} for q, b in fill_until_sealed(srv.port, spool, SEAL_S)]
    sent += write_messages(srv.port, 3)  # into segment 2, still open
    kill9(srv)
    qid, seg_file, offset = damage_middle(spool, sent, 1)
    srv = spool_server(spool, *SMALL_SEGMENTS, *ARGS, io="epoll")
    after = write_messages(srv.port, 2)
    stop_clean(srv)
    check_readable(tools, spool, sent + after, qid)
    check_verify(tools, spool, seg_file, offset)
