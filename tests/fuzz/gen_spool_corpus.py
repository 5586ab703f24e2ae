#!/usr/bin/python3
"""tests/fuzz/gen_spool_corpus.py - writes the seed corpus of
fuzz_spool_record into corpus/fuzz_spool_record/.

Owns: spool format v1 images built from the layout in core/spool_format.h
(segments with valid records, torn tails, corruption, forged records,
impossible lengths, indexes), each prefixed with the harness's mode byte
(see tests/fuzz/fuzz_spool_record.c: bit 0 reseal the segment header,
bit 1 reseal records, bit 2 reseal an index).  Like gen_corpus.py it only
rewrites files whose names it makes (prefix "seed-").

Checksums are XXH3-64, computed with the system's libxxhash (the library
meson already requires) through ctypes, so the script stays stdlib-only.

Run from anywhere: python3 tests/fuzz/gen_spool_corpus.py
"""

import ctypes
import ctypes.util
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))

_XXH = ctypes.CDLL(ctypes.util.find_library("xxhash") or "libxxhash.so.0")
_XXH.XXH3_64bits.restype = ctypes.c_uint64
_XXH.XXH3_64bits.argtypes = [ctypes.c_char_p, ctypes.c_size_t]


def xxh3(b):
    b = bytes(b)
    return _XXH.XXH3_64bits(b, len(b))


# ---- layout (core/spool_format.h) -------------------------------------------
SEG_MAGIC = b"SSSEG\0\0\1"
REC_MAGIC, END_MAGIC = b"SSR1", b"SSRE"
IDX_MAGIC = b"SSSIDX\0\1"
QUEUE_ID, RECEIVED_US, SHARD, CLIENT, HELO, PROTOCOL = 1, 2, 3, 4, 5, 6
AUTH_USER, MAIL_FROM, MAIL_PARAMS, RCPT, RCPT_PARAMS = 7, 8, 9, 10, 11
SESSION_ID, NODE = 12, 13
# Session records (flag bit 31; docs/SPOOL-FORMAT.md, "Session records").
FLAG_SESSION = 1 << 31
S_END_US, S_END, S_HELO_VERB, S_QUIRKS, S_VERB, S_COUNTS = 32, 33, 34, 35, 36, 37
S_BYTES, S_ABORT, S_GAP, S_MESSAGE, S_FAULT = 38, 39, 40, 41, 42
MODE_SEGMENT, MODE_RECORDS, MODE_INDEX = 1, 2, 4
T0 = 1764000000000000
DIGITS = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def base62(v, width):
    out = bytearray(width)
    for i in range(width - 1, -1, -1):
        out[i] = DIGITS[v % 62]
        v //= 62
    return bytes(out)


def qid(us, node=77, shard=3):
    return base62(us, 9) + base62(node, 3) + base62(shard, 2)


def segment_header(shard=3, node=77, segno=1, created=T0):
    h = SEG_MAGIC + struct.pack("<HHIIIQQ", 1, 64, shard, node, 0, segno, created) + bytes(16)
    return h + struct.pack("<Q", xxh3(h))


def field(tag, value):
    return struct.pack("<BBH", tag, 0, len(value)) + value


def meta(us, rcpts=(b"bob@example.org",), extra=b""):
    m = field(QUEUE_ID, qid(us)) + field(RECEIVED_US, struct.pack("<Q", us))
    m += field(SHARD, struct.pack("<I", 3)) + field(NODE, struct.pack("<I", 77))
    m += field(CLIENT, struct.pack("<BBH", 4, 0, 25) + b"\xc0\x00\x02\x01" + bytes(12))
    m += field(HELO, b"client.example") + field(PROTOCOL, b"ESMTP")
    m += field(MAIL_FROM, b"alice@example.com")
    for r in rcpts:
        m += field(RCPT, r)
    return m + extra


def record(meta_bytes, body, synced=64, flags=0, seal=True):
    unpadded = 48 + len(meta_bytes) + len(body) + 16
    total = (unpadded + 7) // 8 * 8
    h = REC_MAGIC + struct.pack("<HHIIQQQ", 1, 48, len(meta_bytes), flags, len(body), total, synced)
    h += struct.pack("<Q", xxh3(h) if seal else 0)
    r = h + meta_bytes + body + bytes(total - unpadded)
    return r + struct.pack("<Q", xxh3(r) if seal else 0) + END_MAGIC + bytes(4)


def reseal_header(r):
    r = bytearray(r)
    r[40:48] = struct.pack("<Q", xxh3(r[:40]))
    return bytes(r)


def flip(b, at, mask=0x20):
    b = bytearray(b)
    b[at] ^= mask
    return bytes(b)


BODY = b"Subject: seed\r\n\r\nHello.\r\n"


def segment(n, synced_of=None, bodies=None, zeros=128):
    """n records; record k's synced_before is synced_of(k, offsets)."""
    img, offs = segment_header(), []
    for k in range(n):
        body = bodies[k] if bodies else BODY + b"x" * k
        s = synced_of(k, offs) if synced_of else 64
        offs.append(len(img))
        img += record(meta(T0 + 10 * (k + 1)), body, synced=s)
    return img + bytes(zeros), offs


def behind(k, offs):
    """Group commit one record behind: everything before record k-1."""
    return offs[k - 1] if k else 64


def index(entries, segno=1):
    h = IDX_MAGIC + struct.pack("<HHIQ", 1, 48, len(entries), segno) + bytes(32)
    h += struct.pack("<Q", xxh3(h))
    body = b"".join(q.ljust(16, b"\0") + struct.pack("<QQQII", us, off, rl, ml, fl)
                    for q, us, off, rl, ml, fl in entries)
    return h + body + struct.pack("<Q", xxh3(body))


def seg(img, mode=0):
    return bytes([mode]) + img


def segment_seeds():
    s = {}
    hdr = segment_header()
    s["empty"] = seg(hdr)
    s["empty-zeros"] = seg(hdr + bytes(256))
    s["one"] = seg(segment(1)[0])
    img, offs = segment(5, behind)
    s["five-group"] = seg(img)
    s["padding-0-7"] = seg(segment(8, bodies=[b"p" * n for n in range(8)])[0])
    rich = meta(T0 + 5, rcpts=(b"a@x", b"", b"b@y"),
                extra=field(AUTH_USER, b"alice") + field(MAIL_PARAMS, b"SIZE=9") + field(RCPT_PARAMS, b"NOTIFY=NEVER")
                + field(SESSION_ID, b"s-1") + field(200, b"future tag"))
    s["rich-meta"] = seg(hdr + record(rich, b"\0\xff\r\n.\r\n", flags=0x1e01) + bytes(64))
    end = len(img) - 128
    s["torn-short"] = seg(img[:offs[4] + 70])
    s["torn-trailer-zero"] = seg(img[:end - 16] + bytes(16 + 128))
    s["torn-half-written"] = seg(img[:offs[4] + 60] + bytes(len(img) - offs[4] - 60))
    s["torn-header-lost"] = seg(img[:offs[4]] + bytes(48) + img[offs[4] + 48:])
    s["garbage-tail"] = seg(img[:end] + b"JUNK" + bytes(range(256)) + bytes(64))
    s["corrupt-middle-body"] = seg(flip(img, offs[2] + 90))
    s["corrupt-middle-header"] = seg(flip(img, offs[2] + 3, 1))
    und, uoffs = segment(5, lambda k, o: 64 if k < 3 else o[2])
    s["torn-before-undurable"] = seg(flip(und, uoffs[2] + 90))
    s["bad-segment-header"] = seg(flip(img, 20, 1))
    s["all-zeros"] = seg(bytes(192))
    s["short-segment-header"] = seg(hdr[:40])
    first = hdr + record(meta(T0 + 1), b"ok\r\n")
    fake = record(meta(T0 + 99), b"forged", synced=len(first) + 8)
    torn = record(meta(T0 + 2), b"".join(fake + b"-" * a for a in range(8)))
    s["forged-in-torn-body"] = seg(first + flip(torn, len(torn) - 20, 1) + bytes(64))
    s["forged-header-lost"] = seg(first + flip(flip(torn, len(torn) - 20, 1), 0, 1) + bytes(64))
    r = bytearray(record(meta(T0 + 3), b"big"))
    r[16:24] = struct.pack("<Q", 1 << 63)
    r[24:32] = struct.pack("<Q", (1 << 63) + len(r))
    s["huge-body-len"] = seg(hdr + reseal_header(r) + bytes(64))
    r = bytearray(record(meta(T0 + 4), b"m"))
    r[8:12] = struct.pack("<I", 0xFFFFFFFF)
    r[24:32] = struct.pack("<Q", (48 + 0xFFFFFFFF + 1 + 16 + 7) // 8 * 8)
    s["huge-meta-len"] = seg(hdr + reseal_header(r))
    s["malformed-meta"] = seg(hdr + record(field(HELO, b"h") + b"\x05\x00\xff\x00ab", b"b") + bytes(64))
    s["synced-beyond-self"] = seg(hdr + record(meta(T0 + 6), b"a", synced=64)
                                  + record(meta(T0 + 7), b"b", synced=4096) + bytes(64))
    unsealed = hdr[:56] + bytes(8)
    for k in range(3):
        unsealed += record(meta(T0 + 10 * k), BODY, synced=64 + 8 * k, seal=False)
    s["unsealed-repair"] = seg(unsealed + bytes(64), MODE_SEGMENT | MODE_RECORDS)
    s.update(salvage_seeds())
    return s


def salvage_seeds():
    """Damage in the middle that later records prove durable: the walker
    resynchronises and keeps every other record (docs: "Salvage")."""
    s = {}
    img, offs = segment(7, behind)
    end = len(img) - 128
    s["salvage-first-record"] = seg(flip(img, offs[0] + 2, 1))
    s["salvage-trailer"] = seg(flip(img, offs[2] - 12, 4))
    several = flip(flip(img, offs[1] + 100), offs[4] + 5, 2)
    s["salvage-several-ranges"] = seg(several)
    zeroed = img[:offs[2] + 30] + bytes(offs[3] + 50 - offs[2] - 30) + img[offs[3] + 50:]
    s["salvage-zeroed-range"] = seg(zeroed)
    garbage = bytearray(img)
    garbage[offs[3]:offs[3] + 4] = REC_MAGIC
    garbage[offs[3] + 40:offs[3] + 48] = struct.pack("<Q", 0x0123456789ABCDEF)  # a header checksum that fails
    for p in range(offs[3] + 48, offs[4], 8):
        garbage[p:p + 4] = REC_MAGIC
    s["salvage-garbage-header"] = seg(bytes(garbage))
    s["salvage-then-tail"] = seg(flip(img, offs[1] + 90)[:end] + b"torn" + bytes(60))
    s["salvage-last-record"] = seg(flip(img, offs[6] + 90))
    s["salvage-resealed"] = seg(flip(img, offs[3] + 3, 1), MODE_SEGMENT | MODE_RECORDS)
    return s


def session_meta(us, messages=(), extra=b""):
    m = field(QUEUE_ID, qid(us)) + field(RECEIVED_US, struct.pack("<Q", us))
    m += field(SHARD, struct.pack("<I", 3)) + field(NODE, struct.pack("<I", 77))
    m += field(CLIENT, struct.pack("<BBH", 4, 0, 25) + b"\xc0\x00\x02\x01" + bytes(12))
    m += field(HELO, b"client.example") + field(S_END_US, struct.pack("<Q", us + 5000000))
    m += field(S_END, bytes([3, 1, 0, 0])) + field(S_HELO_VERB, b"\x02") + field(S_QUIRKS, struct.pack("<I", 0x201))
    for code, n in ((2, 1), (4, 2), (5, 3), (6, 1), (8, 1), (10, 1)):
        m += field(S_VERB, struct.pack("<BBHI", code, 0, 0, n))
    m += field(S_COUNTS, struct.pack("<9I", 4, 0, len(messages), 0, 1, 3, 1, 0, 1))
    m += field(S_BYTES, struct.pack("<QQ", 900, 400))
    m += field(S_ABORT, struct.pack("<QIIBBH", 1234000, 1, 0, 1, 0, 0))
    m += field(S_GAP, struct.pack("<QQBBH", 2100000, 10000000, 8, 0, 0))
    for q in messages:
        m += field(S_MESSAGE, q)
    return m + extra


def session_seeds():
    s = {}
    hdr = segment_header()
    sess = session_meta(T0 + 1, messages=(qid(T0 + 2), qid(T0 + 3)))
    img = hdr + record(sess, b"", flags=FLAG_SESSION)
    img += record(meta(T0 + 2, extra=field(SESSION_ID, qid(T0 + 1))), BODY, synced=64)
    s["session"] = seg(img + bytes(64))
    odd = session_meta(T0 + 4, extra=field(S_VERB, struct.pack("<BBHI", 200, 0, 0, 9)) + field(250, b"future")
                       + field(S_GAP, struct.pack("<QQBBH", 0, 5, 255, 1, 0)))
    s["session-unknown"] = seg(hdr + record(odd, b"", flags=FLAG_SESSION) + bytes(64))
    bad = session_meta(T0 + 5, extra=field(S_COUNTS, bytes(8)))
    s["session-bad-size"] = seg(hdr + record(bad, b"", flags=FLAG_SESSION) + bytes(64))
    faults = session_meta(T0 + 6, extra=field(S_FAULT, struct.pack("<I", 3) + b"rcpt:reply=550 5.1.1 No such user")
                          + field(S_FAULT, struct.pack("<I", 1) + b"connect:delay=1s"))
    s["session-faults"] = seg(hdr + record(faults, b"", flags=FLAG_SESSION) + bytes(64))
    no_text = session_meta(T0 + 7, extra=field(S_FAULT, struct.pack("<I", 2)))
    s["session-fault-no-text"] = seg(hdr + record(no_text, b"", flags=FLAG_SESSION) + bytes(64))
    return s


def index_seeds():
    s = {}
    ents = [(qid(T0 + 1000 * i), T0 + 1000 * i, 64 + 256 * i, 256, 150, i) for i in range(3)]
    s["index-0"] = seg(index([]))
    s["index-1"] = seg(index(ents[:1]))
    s["index-3"] = seg(index(ents))
    s["index-unsorted"] = seg(index([ents[1], ents[0], ents[2]]))
    raw = bytearray(index(ents))
    raw[56:64] = bytes(8)
    raw[-8:] = bytes(8)
    s["index-unsealed-repair"] = seg(bytes(raw), MODE_INDEX)
    return s


def main():
    d = os.path.join(HERE, "corpus", "fuzz_spool_record")
    os.makedirs(d, exist_ok=True)
    seeds = segment_seeds()
    seeds.update(index_seeds())
    seeds.update(session_seeds())
    for name in os.listdir(d):
        if name.startswith("seed-"):
            os.unlink(os.path.join(d, name))
    total = 0
    for name, data in sorted(seeds.items()):
        with open(os.path.join(d, "seed-" + name), "wb") as f:
            f.write(data)
        total += len(data)
    print("fuzz_spool_record: %d seeds, %d bytes" % (len(seeds), total))


if __name__ == "__main__":
    main()
