"""spoolfmt.py - an independent reader of smtpsink's spool format, version 1.

Written from docs/SPOOL-FORMAT.md (the prose), not from the C code, so that
it cross-checks core/spool_record.c and core/spool_index.c: a test that
reads the server's spool through this module and finds every message it
acknowledged proves the writer and the document agree, and a bug shared by
the C encoder and the C decoder cannot hide here.

Owns: parsing segment headers, records (header checksum first, then the
lengths, then the record checksum, end magic and zero word), metadata
fields, bodies and sealed-segment indexes; session records (flag
FLAG_SESSION: not messages, so read_spool leaves them out; read_sessions
and parse_session decode them); listing every valid record of a
spool directory (`read_spool`); reporting every damaged record, index or
file with its path and offset (`verify`); and a second implementation of
the start-up recovery decision (`scan_segment`: clean, torn tail,
salvage or corrupt), so a test can predict what the server must do with a
damaged segment.

Does not: write or repair anything, or decide about damage in a spool the
server is still writing (a record being written is simply "not there yet",
as the document says; `verify(live=True)` follows that rule).

Checksums are XXH3-64 (xxHash 0.8, seed 0) from Debian's python3-xxhash.
All integers are little-endian.  Usage from a shell:
    python3 spoolfmt.py DIR            # list records, then verify
"""

import os
import re
import struct
import sys

import xxhash

FORMAT_VERSION = 1
SEGMENT_HEADER_BYTES = 64
RECORD_HEADER_BYTES = 48
RECORD_TRAILER_BYTES = 16
RECORD_ALIGN = 8
INDEX_HEADER_BYTES = 64
INDEX_ENTRY_BYTES = 48
RECORD_MAX_BYTES = 1 << 62
SCAN_SLACK_BYTES = 256 << 20

SEGMENT_MAGIC = b"SSSEG\x00\x00\x01"
RECORD_MAGIC = b"SSR1"
END_MAGIC = b"SSRE"
INDEX_MAGIC = b"SSSIDX\x00\x01"

# Metadata tags (docs/SPOOL-FORMAT.md, "Metadata fields").
TAG_QUEUE_ID = 1
TAG_RECEIVED_US = 2
TAG_SHARD = 3
TAG_CLIENT = 4
TAG_HELO = 5
TAG_PROTOCOL = 6
TAG_AUTH_USER = 7
TAG_MAIL_FROM = 8
TAG_MAIL_PARAMS = 9
TAG_RCPT = 10
TAG_RCPT_PARAMS = 11
TAG_SESSION_ID = 12
TAG_NODE = 13

# Record flags (enum smtp_msg_flag in core/smtp_session.h).
FLAG_BARE_LF = 1 << 0
FLAG_BARE_CR = 1 << 1
FLAG_NUL = 1 << 2
FLAG_8BIT = 1 << 3
FLAG_LONG_LINE = 1 << 4
FLAG_FALSE_EOD = 1 << 5
FLAG_BDAT = 1 << 8
FLAG_ILL_PIPELINING = 1 << 9
FLAG_SMTPUTF8 = 1 << 10
FLAG_UTF8_NO_PARAM = 1 << 11
FLAG_NO_BRACKETS = 1 << 12
# A session report, not a message (docs/SPOOL-FORMAT.md, "Session records").
FLAG_SESSION = 1 << 31

# Session tags (with QUEUE_ID = session ID, RECEIVED_US = connect time,
# SHARD, NODE, CLIENT, HELO).
TAG_SESSION_END_US = 32
TAG_SESSION_END = 33
TAG_SESSION_HELO_VERB = 34
TAG_SESSION_QUIRKS = 35
TAG_SESSION_VERB = 36
TAG_SESSION_COUNTS = 37
TAG_SESSION_BYTES = 38
TAG_SESSION_ABORT = 39
TAG_SESSION_GAP = 40
TAG_SESSION_MESSAGE = 41

# Stable codes (the document's tables).  Verb code 255: no command yet.
VERB_CODES = {0: "UNKNOWN", 1: "HELO", 2: "EHLO", 3: "LHLO", 4: "MAIL", 5: "RCPT", 6: "DATA", 7: "BDAT",
              8: "RSET", 9: "NOOP", 10: "QUIT", 11: "VRFY", 12: "EXPN", 13: "HELP", 14: "AUTH",
              15: "STARTTLS", 16: "AUTH-RESPONSE"}
REASON_CODES = {0: "none", 1: "rset", 2: "helo", 3: "quit", 4: "disconnect", 5: "timeout", 6: "shutdown",
                7: "too-big", 8: "bare-lf", 9: "bdat-error", 10: "too-many-errors", 11: "syntax", 12: "sync",
                13: "fault", 14: "verdict"}
QUIRK_BITS = ["helo-no-name", "no-helo", "bare-lf-command", "pregreet", "pipelining-unadvertised",
              "ill-pipelining", "lowercase-verb", "odd-spacing", "no-brackets", "rset-for-data",
              "pipelining-no-ehlo", "bare-lf-content", "bare-cr-content", "content-before-354"]
COUNT_NAMES = ["pipelined", "errors", "completed", "refused", "aborted", "rcpts_accepted", "rcpts_refused",
               "faults", "gaps_total"]

# Verdicts of decode_record (the document's names).
OK = "OK"
END = "END"  # zeros: no record here
SHORT = "SHORT"  # the image ends inside the record
BAD_HEADER = "BAD_HEADER"  # magic, version, sizes or header checksum wrong
BAD_CHECKSUM = "BAD_CHECKSUM"  # record checksum, end magic or zero word wrong

# Recovery decisions of scan_segment.
CLEAN = "CLEAN"
TORN_TAIL = "TORN_TAIL"
CORRUPT = "CORRUPT"
SALVAGE = "SALVAGE"

SEGMENT_RE = re.compile(r"^(\d{8})\.seg$")
CORRUPT_RE = re.compile(r"^(\d{8})\.seg\.corrupt$")
SHARD_RE = re.compile(r"^shard-(\d{2,})$")

QID_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


class SpoolError(Exception):
    """A structure that does not verify; .path and .offset say where."""

    def __init__(self, path, offset, kind, detail):
        super().__init__("%s @%s: %s: %s" % (path, offset, kind, detail))
        self.path = path
        self.offset = offset
        self.kind = kind
        self.detail = detail


def xxh3(data):
    return xxhash.xxh3_64_intdigest(data)


def align8(n):
    return (n + RECORD_ALIGN - 1) & ~(RECORD_ALIGN - 1)


def u16(b, off):
    return struct.unpack_from("<H", b, off)[0]


def u32(b, off):
    return struct.unpack_from("<I", b, off)[0]


def u64(b, off):
    return struct.unpack_from("<Q", b, off)[0]


def text(b):
    """Client text as str; bytes that are not UTF-8 survive (surrogateescape)."""
    return bytes(b).decode("utf-8", "surrogateescape")


# -- queue IDs --------------------------------------------------------------
def parse_qid(qid):
    """(time_us, node, shard) of a 14-character queue ID, or None.

    Base 62, most significant digit first: 9 time digits, 3 node digits,
    2 shard digits (core/queue_id.c; the document only says "printable,
    time-ordered, at most 20 characters")."""
    if len(qid) != 14:
        return None
    vals = []
    for width, part in ((9, qid[:9]), (3, qid[9:12]), (2, qid[12:])):
        v = 0
        for c in part:
            d = QID_DIGITS.find(c)
            if d < 0:
                return None
            v = v * 62 + d
        vals.append(v)
    return tuple(vals)


# -- segment header -----------------------------------------------------------
def parse_segment_header(img, path="<image>"):
    """The 64-byte segment header as a dict; raises SpoolError if it does
    not verify (magic, version, header size, checksum)."""
    if len(img) < SEGMENT_HEADER_BYTES:
        raise SpoolError(path, 0, "segment header", "only %d bytes" % len(img))
    h = bytes(img[:SEGMENT_HEADER_BYTES])
    if h[:8] != SEGMENT_MAGIC:
        raise SpoolError(path, 0, "segment header", "bad magic %r" % h[:8])
    if u16(h, 8) != FORMAT_VERSION:
        raise SpoolError(path, 0, "segment header", "version %d" % u16(h, 8))
    if u16(h, 10) != SEGMENT_HEADER_BYTES:
        raise SpoolError(path, 0, "segment header", "header size %d" % u16(h, 10))
    if u64(h, 56) != xxh3(h[:56]):
        raise SpoolError(path, 0, "segment header", "checksum mismatch")
    return {
        "shard": u32(h, 12),
        "node": u32(h, 16),
        "reserved0": u32(h, 20),
        "segno": u64(h, 24),
        "created_us": u64(h, 32),
        "reserved1": h[40:56],
    }


# -- records ------------------------------------------------------------------
def decode_record(img, off=0, end=None):
    """Decode the record at img[off:end].

    Returns (verdict, header) where header is a dict (flags, meta_len,
    body_len, record_len, synced_before, and on OK meta and body as bytes)
    whenever the header checksum passed, else None.  Nothing is trusted
    before the header checksum: a damaged length is never followed."""
    if end is None:
        end = len(img)
    avail = end - off
    if avail < RECORD_HEADER_BYTES:
        part = bytes(img[off:end])
        if part.count(0) == len(part):
            return END, None
        n = min(len(part), 4)
        return (SHORT if part[:n] == RECORD_MAGIC[:n] else BAD_HEADER), None
    h = bytes(img[off:off + RECORD_HEADER_BYTES])
    if h.count(0) == RECORD_HEADER_BYTES:
        return END, None
    if h[:4] != RECORD_MAGIC or u16(h, 4) != FORMAT_VERSION or u16(h, 6) != RECORD_HEADER_BYTES:
        return BAD_HEADER, None
    if u64(h, 40) != xxh3(h[:40]):
        return BAD_HEADER, None
    meta_len, flags, body_len, record_len, synced = struct.unpack_from("<IIQQQ", h, 8)
    fixed = RECORD_HEADER_BYTES + meta_len + RECORD_TRAILER_BYTES
    if body_len > RECORD_MAX_BYTES - fixed:
        return BAD_HEADER, None  # 2^63-byte bodies are damage, never a wrapped length
    if record_len != align8(fixed + body_len):
        return BAD_HEADER, None  # minimal padding, exactly
    hdr = {"flags": flags, "meta_len": meta_len, "body_len": body_len, "record_len": record_len,
           "synced_before": synced}
    if record_len > avail:
        return SHORT, hdr
    t = off + record_len - RECORD_TRAILER_BYTES
    trailer = bytes(img[t:t + RECORD_TRAILER_BYTES])
    if trailer[8:12] != END_MAGIC or u32(trailer, 12) != 0:
        return BAD_CHECKSUM, hdr
    if u64(trailer, 0) != xxh3(img[off:t]):
        return BAD_CHECKSUM, hdr
    m = off + RECORD_HEADER_BYTES
    hdr["meta"] = bytes(img[m:m + meta_len])
    hdr["body"] = bytes(img[m + meta_len:m + meta_len + body_len])
    hdr["padding"] = bytes(img[m + meta_len + body_len:t])
    return OK, hdr


def meta_fields(meta):
    """[(tag, value bytes)] of a record's metadata; raises ValueError on a
    malformed field (a length running past the metadata)."""
    out = []
    pos = 0
    while pos < len(meta):
        if len(meta) - pos < 4:
            raise ValueError("truncated field head at meta offset %d" % pos)
        tag = meta[pos]  # meta[pos + 1] is reserved: ignored on reading
        n = u16(meta, pos + 2)
        if n > len(meta) - pos - 4:
            raise ValueError("field tag %d at meta offset %d claims %d bytes, %d left"
                             % (tag, pos, n, len(meta) - pos - 4))
        out.append((tag, bytes(meta[pos + 4:pos + 4 + n])))
        pos += 4 + n
    return out


def parse_meta(meta):
    """The metadata as a dict.  Unknown tags are kept in 'unknown' (a
    reader skips them).  Raises ValueError if a known field is malformed
    or a mandatory one is missing."""
    d = {"qid": None, "received_us": None, "shard": None, "node": None, "client": None,
         "helo": "", "protocol": None, "auth_user": "", "mail_from": None, "mail_params": "",
         "rcpts": [], "rcpt_params": [], "session_id": "", "unknown": [], "tags": []}
    fixed = {TAG_RECEIVED_US: 8, TAG_SHARD: 4, TAG_NODE: 4, TAG_CLIENT: 20}
    for tag, v in meta_fields(meta):
        d["tags"].append(tag)
        if tag in fixed and len(v) != fixed[tag]:
            raise ValueError("field tag %d has %d bytes, not %d" % (tag, len(v), fixed[tag]))
        if tag == TAG_QUEUE_ID:
            d["qid"] = text(v)
        elif tag == TAG_RECEIVED_US:
            d["received_us"] = u64(v, 0)
        elif tag == TAG_SHARD:
            d["shard"] = u32(v, 0)
        elif tag == TAG_NODE:
            d["node"] = u32(v, 0)
        elif tag == TAG_CLIENT:
            fam, port = v[0], u16(v, 2)
            addr = v[4:20]
            if fam == 4:
                a = ".".join(str(x) for x in addr[:4])
            elif fam == 6:
                a = _ipv6(addr)
            else:
                a = ""
            d["client"] = {"family": fam, "port": port, "addr": a, "raw": bytes(addr)}
        elif tag == TAG_HELO:
            d["helo"] = text(v)
        elif tag == TAG_PROTOCOL:
            d["protocol"] = text(v)
        elif tag == TAG_AUTH_USER:
            d["auth_user"] = text(v)
        elif tag == TAG_MAIL_FROM:
            d["mail_from"] = text(v)
        elif tag == TAG_MAIL_PARAMS:
            d["mail_params"] = text(v)
        elif tag == TAG_RCPT:
            d["rcpts"].append(text(v))
            d["rcpt_params"].append("")
        elif tag == TAG_RCPT_PARAMS:
            if not d["rcpts"]:
                raise ValueError("RCPT_PARAMS before any RCPT")
            d["rcpt_params"][-1] = text(v)
        elif tag == TAG_SESSION_ID:
            d["session_id"] = text(v)
        else:
            d["unknown"].append((tag, v))
    for name, tag in (("qid", TAG_QUEUE_ID), ("received_us", TAG_RECEIVED_US), ("shard", TAG_SHARD),
                      ("node", TAG_NODE), ("client", TAG_CLIENT), ("protocol", TAG_PROTOCOL),
                      ("mail_from", TAG_MAIL_FROM)):
        if d[name] is None:
            raise ValueError("mandatory field %s (tag %d) missing" % (name, tag))
    if TAG_HELO not in d["tags"]:
        raise ValueError("mandatory field HELO (tag 5) missing")
    return d


def _client(v):
    fam, port = v[0], u16(v, 2)
    addr = v[4:20]
    a = ".".join(str(x) for x in addr[:4]) if fam == 4 else _ipv6(addr) if fam == 6 else ""
    return {"family": fam, "port": port, "addr": a, "raw": bytes(addr)}


SESSION_SIZES = {TAG_RECEIVED_US: 8, TAG_SHARD: 4, TAG_NODE: 4, TAG_CLIENT: 20, TAG_SESSION_END_US: 8,
                 TAG_SESSION_END: 4, TAG_SESSION_HELO_VERB: 1, TAG_SESSION_QUIRKS: 4, TAG_SESSION_VERB: 8,
                 TAG_SESSION_COUNTS: 36, TAG_SESSION_BYTES: 16, TAG_SESSION_ABORT: 20, TAG_SESSION_GAP: 20}


def parse_session(meta):
    """A session record's metadata as a dict (codes turned into names; an
    unknown code gives None, an unknown verb's count is skipped).  Unknown
    tags are kept in 'unknown'.  Raises ValueError on a known field of the
    wrong size or a malformed field."""
    d = {"id": None, "connect_us": None, "end_us": 0, "shard": None, "node": None, "client": None, "helo": "",
         "helo_verb": None, "end_reason": "none", "closed_by": "server", "quirks": [], "quirk_bits": 0,
         "verbs": {}, "bytes_in": 0, "bytes_out": 0, "aborts": [], "gaps": [], "messages": [], "unknown": []}
    d.update({k: 0 for k in COUNT_NAMES})
    for tag, v in meta_fields(meta):
        if tag in SESSION_SIZES and len(v) != SESSION_SIZES[tag]:
            raise ValueError("session field tag %d has %d bytes, not %d" % (tag, len(v), SESSION_SIZES[tag]))
        if tag == TAG_QUEUE_ID:
            d["id"] = text(v)
        elif tag == TAG_RECEIVED_US:
            d["connect_us"] = u64(v, 0)
        elif tag in (TAG_SHARD, TAG_NODE):
            d["shard" if tag == TAG_SHARD else "node"] = u32(v, 0)
        elif tag == TAG_CLIENT:
            d["client"] = _client(v)
        elif tag == TAG_HELO:
            d["helo"] = text(v)
        elif tag == TAG_SESSION_END_US:
            d["end_us"] = u64(v, 0)
        elif tag == TAG_SESSION_END:
            d["end_reason"] = REASON_CODES.get(v[0])
            d["closed_by"] = "client" if v[1] & 1 else "server"
        elif tag == TAG_SESSION_HELO_VERB:
            d["helo_verb"] = VERB_CODES.get(v[0])
        elif tag == TAG_SESSION_QUIRKS:
            bits = d["quirk_bits"] = u32(v, 0)
            d["quirks"] = [QUIRK_BITS[i] if i < len(QUIRK_BITS) else "bit%d" % i for i in range(32) if bits >> i & 1]
        elif tag == TAG_SESSION_VERB:
            if v[0] in VERB_CODES:
                d["verbs"][VERB_CODES[v[0]]] = u32(v, 4)
        elif tag == TAG_SESSION_COUNTS:
            d.update(zip(COUNT_NAMES, struct.unpack("<9I", v)))
        elif tag == TAG_SESSION_BYTES:
            d["bytes_in"], d["bytes_out"] = struct.unpack("<QQ", v)
        elif tag == TAG_SESSION_ABORT:
            at, rcpts, refused, reason, flags = struct.unpack_from("<QIIBB", v)
            d["aborts"].append({"at_us": at, "rcpts": rcpts, "rcpts_refused": refused, "data": bool(flags & 1),
                                "reason": REASON_CODES.get(reason)})
        elif tag == TAG_SESSION_GAP:
            at, n, verb, flags = struct.unpack_from("<QQBB", v)
            d["gaps"].append({"at_us": at, "len_us": n, "in_txn": bool(flags & 1),
                              "after": None if verb == 255 else VERB_CODES.get(verb, "?")})
        elif tag == TAG_SESSION_MESSAGE:
            if not 0 < len(v) <= 20:
                raise ValueError("session message ID of %d bytes" % len(v))
            d["messages"].append(text(v))
        else:
            d["unknown"].append((tag, v))
    return d


def record_ids(h):
    """(queue ID or session ID, received/connect time) of any record."""
    if h["flags"] & FLAG_SESSION:
        s = parse_session(h["meta"])
        return s["id"], s["connect_us"]
    m = parse_meta(h["meta"])
    return m["qid"], m["received_us"]


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


def _ipv6(addr):
    import ipaddress
    return str(ipaddress.IPv6Address(bytes(addr)))


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
