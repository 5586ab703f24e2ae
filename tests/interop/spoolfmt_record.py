"""spoolfmt_record.py - spool format v1 constants and the decoding of one
record or segment header (part of spoolfmt.py, the interop suite's
independent spool reader; import it through spoolfmt).

Written from docs/SPOOL-FORMAT.md (the prose), not from the C code.

Owns: the format's sizes, magics, metadata tags, record flags, stable codes
and verdict names; parsing a segment header, a record (header checksum
first, then the lengths, then the record checksum, end magic and zero
word), its metadata fields (parse_meta) and a session record's
(parse_session); queue IDs (parse_qid).

Does not: walk a segment (spoolfmt_segment.py) or read files
(spoolfmt.py).  Nothing is trusted before the header checksum: a damaged
length is never followed.

Checksums are XXH3-64 (xxHash 0.8, seed 0) from Debian's python3-xxhash.
All integers are little-endian.
"""

import struct

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
TAG_SESSION_FAULT = 42

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
         "verbs": {}, "bytes_in": 0, "bytes_out": 0, "aborts": [], "gaps": [], "messages": [], "fault_rules": [], "unknown": []}
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
        elif tag == TAG_SESSION_FAULT:
            if not 4 < len(v) <= 4 + 1024:
                raise ValueError("session fault rule field of %d bytes" % len(v))
            d["fault_rules"].append({"rule": text(v[4:]), "count": u32(v, 0)})
        else:
            d["unknown"].append((tag, v))
    d["faults_unnamed"] = max(0, d["faults"] - sum(f["count"] for f in d["fault_rules"]))
    return d


def record_ids(h):
    """(queue ID or session ID, received/connect time) of any record."""
    if h["flags"] & FLAG_SESSION:
        s = parse_session(h["meta"])
        return s["id"], s["connect_us"]
    m = parse_meta(h["meta"])
    return m["qid"], m["received_us"]


def _ipv6(addr):
    import ipaddress
    return str(ipaddress.IPv6Address(bytes(addr)))
