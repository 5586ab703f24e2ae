"""spoolfmt_segment.py - walking a segment image: its valid records, its
damage, the start-up recovery decision, and a sealed segment's index (part
of spoolfmt.py, the interop suite's independent spool reader; import it
through spoolfmt).

Written from docs/SPOOL-FORMAT.md (the prose), not from the C code.

Owns: the record walks (walk_records: a reader of an open segment;
segment_records: up to the first offset that is not a record;
valid_records: every valid record, also after damage, and each damaged
spot); a second implementation of the start-up recovery decision
(scan_segment: clean, torn tail, salvage or corrupt), so a test can
predict what the server must do with a damaged segment; parsing a sealed
segment's index (parse_index).

Does not: decode a record itself (spoolfmt_record.py), read files or
directories, or compare an index with its records (spoolfmt.py).
"""

from spoolfmt_record import (
    BAD_CHECKSUM, BAD_HEADER, CLEAN, CORRUPT, END, FORMAT_VERSION, INDEX_ENTRY_BYTES, INDEX_HEADER_BYTES,
    INDEX_MAGIC, OK, RECORD_ALIGN, RECORD_HEADER_BYTES, RECORD_MAGIC, RECORD_TRAILER_BYTES, SALVAGE,
    SCAN_SLACK_BYTES, SEGMENT_HEADER_BYTES, SHORT, TORN_TAIL, SpoolError, align8, decode_record, parse_qid,
    parse_segment_header, record_ids, text, u16, u32, u64, xxh3)

def walk_records(img, start=SEGMENT_HEADER_BYTES, end=None):
    """Yield (offset, header) for each valid record from start, back to
    back, stopping at the first offset that is not one (the document's rule
    for a reader of an open segment)."""
    off = start
    end = len(img) if end is None else end
    while True:
        v, h = decode_record(img, off, end)
        if v != OK:
            return
        yield off, h
        off += h["record_len"]


def segment_records(img, end=None):
    """(records, stop_offset, stop_verdict, stop_header): the valid records
    of a segment image walked from offset 64, and what is at the first
    offset that is not a valid record."""
    end = len(img) if end is None else end
    recs = []
    off = SEGMENT_HEADER_BYTES
    while True:
        v, h = decode_record(img, off, end)
        if v != OK:
            return recs, off, v, h
        recs.append((off, h))
        off += h["record_len"]


def valid_records(img, live=False):
    """(records, damage): every valid record of a segment image, also those
    after damage, and [(offset, verdict, header)] for each damaged spot.

    After a record that does not verify the walk goes on after it: by its
    length when its header verified, else at the next valid record found at
    an 8-byte boundary; so one flipped byte gives exactly one damaged spot.
    live: the server may still be appending: whatever follows the last
    valid record is "not there yet", not damage."""
    img = bytes(img)
    n = len(img)
    recs, damage = [], []
    off = SEGMENT_HEADER_BYTES
    while off < n:
        v, h = decode_record(img, off)
        if v == OK:
            recs.append((off, h))
            off += h["record_len"]
            continue
        if (v == END and all_zero(img, off)) or live:
            break
        damage.append((off, v, h))
        nxt = off + h["record_len"] if h is not None and h["record_len"] <= n - off else None
        if nxt is None:
            nxt = _next_valid(img, off + RECORD_ALIGN)
        if nxt is None:
            break  # garbage with no valid record after it: one report is enough
        off = nxt
    return recs, damage


def all_zero(img, start=0, end=None):
    end = len(img) if end is None else end
    if start >= end:
        return True
    return bytes(img[start:end]).count(0) == end - start


def _next_valid(img, start):
    """Offset of the next valid record at an 8-byte boundary from start."""
    n = len(img)
    p = align8(start)
    while p + RECORD_HEADER_BYTES <= n:
        q = img.find(RECORD_MAGIC, p)
        if q < 0:
            return None
        if q % RECORD_ALIGN:
            p = align8(q)
            continue
        v, _ = decode_record(img, q)
        if v == OK:
            return q
        p = q + RECORD_ALIGN
    return None


# -- recovery scan (a second implementation of spool_segment_scan) -------------
def _qid_time(h):
    try:
        qid, received_us = record_ids(h)  # session records carry a queue ID too
    except ValueError:
        return 0
    p = parse_qid(qid) if qid else None
    return p[0] if p else (received_us or 0)


def scan_segment(img):
    """The start-up recovery decision for a segment image, from the
    document's "Recovery" and "Salvage" sections.  Returns a dict: recovery
    (CLEAN, TORN_TAIL, SALVAGE, CORRUPT), good_end, records, durable,
    last_qid_us, first_bad, found_after (offsets of the valid records found
    after the damage) and all_zero.  Damage that a later record proves
    durable (good_end < durable), or a search that ran out of budget, is
    SALVAGE: the server keeps every valid record.  A segment header that
    does not verify gives CORRUPT with good_end 0, like
    spool_segment_scan(); all_zero then says the whole file is zeros
    (created, header never durable): the document says that held nothing
    and the server removes it, it is not corruption."""
    out = {"good_end": 0, "records": 0, "durable": 0, "last_qid_us": 0, "first_bad": None,
           "recovery": None, "all_zero": False, "found_after": []}
    img = bytes(img)
    n = len(img)
    try:
        parse_segment_header(img)
    except SpoolError:
        out["recovery"] = CORRUPT
        out["all_zero"] = all_zero(img)
        out["first_bad"] = END if out["all_zero"] else (SHORT if n < SEGMENT_HEADER_BYTES else BAD_HEADER)
        return out

    def note(off, h):
        if h["synced_before"] > out["durable"]:
            out["durable"] = h["synced_before"]
        t = _qid_time(h)
        if t > out["last_qid_us"]:
            out["last_qid_us"] = t

    off = SEGMENT_HEADER_BYTES
    while True:
        v, h = decode_record(img, off)
        if v == OK and h["synced_before"] > off:
            v = BAD_HEADER  # a record claiming durability beyond itself is not genuine
        if v != OK:
            break
        note(off, h)
        out["records"] += 1
        off += h["record_len"]
    out["good_end"] = off
    out["first_bad"] = v
    if v == END and all_zero(img, off):
        out["recovery"] = CLEAN
        return out
    start = off + RECORD_ALIGN
    if v in (BAD_CHECKSUM, SHORT) and h is not None:
        start = n if h["record_len"] > n - off else off + h["record_len"]
    budget = n + SCAN_SLACK_BYTES
    p = start
    exhausted = False
    while p < n and n - p >= RECORD_HEADER_BYTES:
        q = img.find(RECORD_MAGIC, p)  # the magic is compared before any hashing
        if q < 0:
            break
        if q % RECORD_ALIGN:
            p = align8(q)
            continue
        p = q
        if n - p < RECORD_HEADER_BYTES:
            break
        v2, h2 = decode_record(img, p)
        if h2 is None or h2["record_len"] > n - p:
            p += RECORD_ALIGN
            continue
        if h2["record_len"] > budget:
            exhausted = True
            break
        budget -= h2["record_len"]
        if v2 == OK and h2["synced_before"] <= p:
            note(p, h2)
            out["found_after"].append(p)
            p += h2["record_len"]
        else:
            p += RECORD_ALIGN
    out["recovery"] = SALVAGE if exhausted or out["good_end"] < out["durable"] else TORN_TAIL
    return out


# -- index ------------------------------------------------------------------------
def parse_index(img, path="<index>"):
    """A sealed segment's index: (segno, [entry dict]).  Raises SpoolError
    unless both checksums, the exact size, the order and every entry's
    bounds verify."""
    img = bytes(img)
    if len(img) < INDEX_HEADER_BYTES + 8:
        raise SpoolError(path, 0, "index", "only %d bytes" % len(img))
    if img[:8] != INDEX_MAGIC:
        raise SpoolError(path, 0, "index", "bad magic %r" % img[:8])
    if u16(img, 8) != FORMAT_VERSION or u16(img, 10) != INDEX_ENTRY_BYTES:
        raise SpoolError(path, 0, "index", "version %d, entry size %d" % (u16(img, 8), u16(img, 10)))
    if u64(img, 56) != xxh3(img[:56]):
        raise SpoolError(path, 0, "index", "header checksum mismatch")
    count = u32(img, 12)
    segno = u64(img, 16)
    want = INDEX_HEADER_BYTES + INDEX_ENTRY_BYTES * count + 8
    if len(img) != want:
        raise SpoolError(path, 0, "index", "%d bytes for %d entries (want %d)" % (len(img), count, want))
    body = img[INDEX_HEADER_BYTES:INDEX_HEADER_BYTES + INDEX_ENTRY_BYTES * count]
    if u64(img, len(img) - 8) != xxh3(body):
        raise SpoolError(path, len(img) - 8, "index", "entries checksum mismatch")
    entries = []
    prev = None
    for i in range(count):
        e = body[i * INDEX_ENTRY_BYTES:(i + 1) * INDEX_ENTRY_BYTES]
        qid_raw = e[:16]
        ent = {"qid": text(qid_raw.rstrip(b"\x00")), "qid_raw": qid_raw, "received_us": u64(e, 16),
               "offset": u64(e, 24), "record_len": u64(e, 32), "meta_len": u32(e, 40),
               "flags": u32(e, 44)}
        where = INDEX_HEADER_BYTES + i * INDEX_ENTRY_BYTES
        if b"\x00" in qid_raw and qid_raw[qid_raw.index(b"\x00"):].count(0) != 16 - qid_raw.index(b"\x00"):
            raise SpoolError(path, where, "index entry", "queue ID not NUL-padded: %r" % qid_raw)
        if ent["offset"] < SEGMENT_HEADER_BYTES or ent["offset"] % RECORD_ALIGN:
            raise SpoolError(path, where, "index entry", "offset %d" % ent["offset"])
        if ent["record_len"] < RECORD_HEADER_BYTES + RECORD_TRAILER_BYTES or ent["record_len"] % RECORD_ALIGN:
            raise SpoolError(path, where, "index entry", "record_len %d" % ent["record_len"])
        if prev is not None and not prev < qid_raw:
            raise SpoolError(path, where, "index entry", "not in strictly increasing queue-ID order")
        prev = qid_raw
        entries.append(ent)
    return segno, entries
