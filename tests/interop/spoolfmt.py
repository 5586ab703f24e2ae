"""spoolfmt.py - an independent reader of smtpsink's spool format, version 1.

Written from docs/SPOOL-FORMAT.md (the prose), not from the C code, so that
it cross-checks core/spool_record.c and core/spool_index.c: a test that
reads the server's spool through this module and finds every message it
acknowledged proves the writer and the document agree, and a bug shared by
the C encoder and the C decoder cannot hide here.

Three modules, imported as one: every public name of spoolfmt_record.py
(constants; segment headers, records, metadata fields, bodies and session
records) and of spoolfmt_segment.py (walking a segment, the recovery scan
`scan_segment`, sealed-segment indexes) is also a name of this module.

Owns: the spool directory: its shard directories, segments and quarantined
files; listing every valid record of a spool directory (`read_spool`;
session records, flag FLAG_SESSION, are not messages, so read_spool leaves
them out and read_sessions returns them); reporting every damaged record,
index or file with its path and offset (`verify`).

Does not: write or repair anything, or decide about damage in a spool the
server is still writing (a record being written is simply "not there yet",
as the document says; `verify(live=True)` follows that rule).

Usage from a shell:
    python3 spoolfmt.py DIR            # list records, then verify
"""

import os
import re
import sys

# Re-exported: the tests use spoolfmt.FLAG_8BIT, spoolfmt.scan_segment, ...
from spoolfmt_record import *  # noqa: F401,F403
from spoolfmt_segment import *  # noqa: F401,F403
from spoolfmt_record import (
    FLAG_SESSION, INDEX_ENTRY_BYTES, INDEX_HEADER_BYTES, SEGMENT_HEADER_BYTES, SpoolError, parse_meta,
    parse_segment_header, parse_session, record_ids)
from spoolfmt_segment import all_zero, parse_index, valid_records

SEGMENT_RE = re.compile(r"^(\d{8})\.seg$")
CORRUPT_RE = re.compile(r"^(\d{8})\.seg\.corrupt$")
SHARD_RE = re.compile(r"^shard-(\d{2,})$")


# -- files and directories -----------------------------------------------------------
def shard_dirs(spool_dir):
    """[(shard number, path)] of DIR/shard-NN, ascending."""
    out = []
    for name in sorted(os.listdir(spool_dir)):
        m = SHARD_RE.match(name)
        p = os.path.join(spool_dir, name)
        if m and os.path.isdir(p):
            out.append((int(m.group(1)), p))
    return out


def segment_files(spool_dir):
    """[(shard, segno, path of .seg, path of .idx or None)] of every
    segment (not the quarantined ones), by shard then number."""
    out = []
    for shard, d in shard_dirs(spool_dir):
        names = set(os.listdir(d))
        for name in sorted(names):
            m = SEGMENT_RE.match(name)
            if m:
                idx = m.group(1) + ".idx"
                out.append((shard, int(m.group(1)), os.path.join(d, name),
                            os.path.join(d, idx) if idx in names else None))
    return out


def corrupt_files(spool_dir):
    """Every quarantined segment (*.seg.corrupt) under spool_dir."""
    out = []
    for _, d in shard_dirs(spool_dir):
        out += [os.path.join(d, n) for n in sorted(os.listdir(d)) if CORRUPT_RE.match(n)]
    return out


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def record_dict(h, path, off, seg=None):
    """A decoded OK record as the dict read_spool returns."""
    m = parse_meta(h["meta"])
    d = {"qid": m["qid"], "received_us": m["received_us"], "shard": m["shard"], "node": m["node"],
         "client": m["client"], "helo": m["helo"], "protocol": m["protocol"],
         "auth_user": m["auth_user"], "mail_from": m["mail_from"], "mail_params": m["mail_params"],
         "rcpts": m["rcpts"], "rcpt_params": m["rcpt_params"], "session_id": m["session_id"],
         "flags": h["flags"], "body": h["body"], "synced_before": h["synced_before"],
         "record_len": h["record_len"], "meta_len": h["meta_len"], "file": path, "offset": off,
         "tags": m["tags"]}
    if seg is not None:
        d["segno"] = seg
    return d


def read_spool(spool_dir, include_corrupt=False, live=False):
    """Every valid record of a spool directory as dicts, in file order:
    qid, received_us, shard, node, client, helo, protocol, auth_user,
    mail_from, mail_params, rcpts, rcpt_params, session_id, flags,
    body (bytes), and where it lies (file, offset, record_len).

    A segment is walked from offset 64; a damaged record is skipped and the
    walk goes on after it (valid_records), so one bad record does not hide
    the ones behind it.  A sealed segment's index is not needed to read.
    Records whose metadata does not parse are left out (verify reports
    them).  include_corrupt also walks *.seg.corrupt files.  live: the
    server is still writing (see valid_records)."""
    out = []
    files = [(p, seg) for _, seg, p, _ in segment_files(spool_dir)]
    if include_corrupt:
        files += [(p, int(os.path.basename(p)[:8])) for p in corrupt_files(spool_dir)]
    for path, seg in files:
        img = read_file(path)
        try:
            parse_segment_header(img, path)
        except SpoolError:
            continue
        recs, _ = valid_records(img, live=live)
        for off, h in recs:
            if h["flags"] & FLAG_SESSION:
                continue  # a session report, not a message (read_sessions)
            try:
                out.append(record_dict(h, path, off, seg))
            except ValueError:
                continue
    return out


def verify_segment(path, idx_path=None, live=False, shard=None, segno=None):
    """Problems of one segment file (and its index) as a list of dicts:
    file, offset, kind, detail.  A record that does not verify is reported
    once, at its offset; the walk then goes on after it (by its length when
    its header verified, else at the next valid record found at an 8-byte
    boundary), so one flipped byte gives exactly one report.

    live: the server may still be appending; whatever follows the last
    valid record is "not there yet" rather than damage."""
    problems = []

    def bad(off, kind, detail):
        problems.append({"file": path, "offset": off, "kind": kind, "detail": detail})

    img = read_file(path)
    try:
        hdr = parse_segment_header(img, path)
    except SpoolError as e:
        if all_zero(img):
            # created, header never durable: nothing in it was acknowledged
            return problems if live else [{"file": path, "offset": 0, "kind": "empty segment",
                                           "detail": "all %d bytes zero (no header)" % len(img)}]
        return [{"file": path, "offset": 0, "kind": e.kind, "detail": e.detail}]
    if segno is not None and hdr["segno"] != segno:
        bad(0, "segment header", "segment number %d in a file named %08d" % (hdr["segno"], segno))
    if shard is not None and hdr["shard"] != shard:
        bad(0, "segment header", "shard %d in shard-%02d" % (hdr["shard"], shard))
    if hdr["reserved0"] != 0 or hdr["reserved1"].count(0) != 16:
        bad(0, "segment header", "reserved bytes not zero")

    n = len(img)
    found, damage = valid_records(img, live=live)
    records = []  # (offset, header, meta or None)
    for off, h in found:
        if h["synced_before"] > off:
            bad(off, "record", "synced_before %d beyond its own offset" % h["synced_before"])
        try:
            m = parse_meta(h["meta"]) if not h["flags"] & FLAG_SESSION else None
            if m is None:
                s = parse_session(h["meta"])
                m = {"qid": s["id"], "received_us": s["connect_us"], "shard": s["shard"]}
        except ValueError as e:
            bad(off, "record metadata", str(e))
            m = None
        if h["padding"].count(0) != len(h["padding"]):
            bad(off, "record", "padding not zero")
        if m is not None and shard is not None and m["shard"] != shard:
            bad(off, "record metadata", "shard %d in shard-%02d" % (m["shard"], shard))
        records.append((off, h, m))
    for off, v, h in damage:
        bad(off, "record " + v, "record does not verify"
            + ("" if h is None else " (header ok: record_len %d)" % h["record_len"]))
    problems.sort(key=lambda p: p["offset"])

    if idx_path is not None:
        try:
            iseg, entries = parse_index(read_file(idx_path), idx_path)
        except SpoolError as e:
            problems.append({"file": idx_path, "offset": e.offset, "kind": "index", "detail": e.detail})
            return problems
        if iseg != hdr["segno"]:
            problems.append({"file": idx_path, "offset": 16, "kind": "index",
                             "detail": "segment number %d, segment says %d" % (iseg, hdr["segno"])})
        by_off = {o: (h, m) for o, h, m in records}
        if len(entries) != len(records):
            problems.append({"file": idx_path, "offset": 12, "kind": "index",
                             "detail": "%d entries for %d records" % (len(entries), len(records))})
        for i, e in enumerate(entries):
            where = INDEX_HEADER_BYTES + i * INDEX_ENTRY_BYTES
            if e["offset"] not in by_off:
                problems.append({"file": idx_path, "offset": where, "kind": "index entry",
                                 "detail": "%s: no valid record at offset %d" % (e["qid"], e["offset"])})
                continue
            h, m = by_off[e["offset"]]
            got = (m["qid"] if m else None, m["received_us"] if m else None, h["record_len"],
                   h["meta_len"], h["flags"])
            want = (e["qid"], e["received_us"], e["record_len"], e["meta_len"], e["flags"])
            if got != want:
                problems.append({"file": idx_path, "offset": where, "kind": "index entry",
                                 "detail": "entry %r, record %r" % (want, got)})
        end = records[-1][0] + records[-1][1]["record_len"] if records else SEGMENT_HEADER_BYTES
        if n != end and not damage:
            bad(end, "sealed segment", "file is %d bytes, records end at %d (a sealed segment is "
                "cut to its used length)" % (n, end))
    return problems


def read_sessions(spool_dir):
    """Every valid session record of a spool directory, in file order, as
    parse_session dicts plus file and offset."""
    out = []
    for _, seg, path, _ in segment_files(spool_dir):
        img = read_file(path)
        try:
            parse_segment_header(img, path)
        except SpoolError:
            continue
        for off, h in valid_records(img)[0]:
            if h["flags"] & FLAG_SESSION:
                d = parse_session(h["meta"])
                d.update({"file": path, "offset": off, "segno": seg})
                out.append(d)
    return out


def verify(spool_dir, live=False):
    """Every problem in a spool directory, as a list of dicts with file,
    offset, kind and detail: segments and their records, indexes (and their
    agreement with the records), duplicate queue IDs across the spool, and
    message queue IDs out of time order within a segment (session records
    are written when the session ends, under the ID taken at connect).  Quarantined segments
    (*.seg.corrupt) are not checked: the server already reported them."""
    problems = []
    seen = {}
    for shard, segno, path, idx in segment_files(spool_dir):
        problems += verify_segment(path, idx, live=live, shard=shard, segno=segno)
        img = read_file(path)
        try:
            parse_segment_header(img, path)
        except SpoolError:
            continue
        prev = None
        for off, h in valid_records(img, live=live)[0]:
            try:
                q = record_ids(h)[0]
            except ValueError:
                continue
            if q in seen:
                problems.append({"file": path, "offset": off, "kind": "duplicate queue ID",
                                 "detail": "%s also at %s @%d" % (q, seen[q][0], seen[q][1])})
            else:
                seen[q] = (path, off)
            if h["flags"] & FLAG_SESSION:
                continue  # ID taken at connect, record written at the session's end: out of order
            if prev is not None and not prev < q:
                problems.append({"file": path, "offset": off, "kind": "queue ID order",
                                 "detail": "%s after %s in the same segment" % (q, prev)})
            prev = q
    return problems


def main(argv):
    if len(argv) != 2:
        print("usage: spoolfmt.py SPOOL_DIR", file=sys.stderr)
        return 2
    for r in read_spool(argv[1]):
        print("%s %s @%d shard %d from <%s> to %s, %d body bytes, flags %#x" % (
            r["qid"], os.path.relpath(r["file"], argv[1]), r["offset"], r["shard"], r["mail_from"],
            ",".join("<%s>" % x for x in r["rcpts"]), len(r["body"]), r["flags"]))
    probs = verify(argv[1])
    for p in probs:
        print("BAD %s @%d: %s: %s" % (p["file"], p["offset"], p["kind"], p["detail"]))
    return 1 if probs else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
