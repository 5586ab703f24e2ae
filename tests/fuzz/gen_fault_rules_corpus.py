#!/usr/bin/python3
"""tests/fuzz/gen_fault_rules_corpus.py - writes the seed corpus of
fuzz_fault_rules into corpus/fuzz_fault_rules/.

Owns: the seeds, as readable Python: rules of every stage and item, texts
and IPv6 ranges with ':' inside, bounds, refused rules, rules files with
comments, and recipient addresses.  Each seed starts with the harness's
mode byte (see tests/fuzz/fuzz_fault_rules.c: bit 0 a file image, else one
rule per line; the other bits seed the decisions).  Like gen_corpus.py it
only rewrites files whose names it makes (prefix "seed-").

Run from anywhere: python3 tests/fuzz/gen_fault_rules_corpus.py
"""

import os

HERE = os.path.dirname(os.path.abspath(__file__))
LINES, FILE = 0, 1


def seed(mode, rng, *lines):
    return bytes([mode | (rng << 1)]) + "\n".join(lines).encode("latin-1")


def seeds():
    s = {}
    s["lines-examples"] = seed(LINES, 1,
        "rcpt:reply=550 5.1.1 No such user:p=0.1",
        "data:delay=2s",
        "connect:reply=421 4.7.0 Busy")
    s["lines-every-stage"] = seed(LINES, 2,
        "connect:disconnect:p=0.5", "helo:reply=250 hi", "mail:close=421",
        "rcpt:reply=250 Accepted", "data:reply=354 Go ahead", "bdat:reply=452 4.3.1 Full",
        "content:delay=30s:close=550 5.0.0 Error: aborted", "dot:reply=451 4.3.0 Later",
        "rset:reply=250 2.0.0 Flushed", "noop:delay=500ms", "quit:reply=221 2.0.0 Bye",
        "vrfy:reply=252 2.1.5 Cannot verify", "auth:reply=334 VXNlcm5hbWU6", "any:close:p=50%")
    s["lines-colons"] = seed(LINES, 3,
        "rcpt:reply=550 5.1.1 Error: user: unknown:p=0.1",
        "rcpt:reply=550 5.7.1 Blocked:client=::1/128:p=0.5",
        "connect:reply=554 5.7.1 No:client=2001:db8::/32",
        "rcpt:reply=421 4.4.2 Connection:closed",
        "rcpt:reply=550 5.0.0 x::p=0.5",
        "connect:client=::ffff:10.0.0.0/104:disconnect")
    s["lines-shares"] = seed(LINES, 4,
        "rcpt:reply=421 4.7.0 a:p=0.02", "rcpt:reply=550 5.1.1 b:p=0.05",
        "rcpt:delay=1-3s:p=0.5", "rcpt:delay=100-199ms", "any:reply=421 4.7.0 any:p=1%",
        "mail:reply=451 a:p=0.7", "mail:reply=452 b:p=0.7")
    s["lines-domains"] = seed(LINES, 5,
        "rcpt:reply=550 x:domain=Example.COM",
        "mail:reply=553 5.1.8 Bad:domain=*.example.com",
        "rcpt:delay=1s:domain=gmail.com:client=10.0.0.0/8",
        "rcpt:reply=452 4.2.2 Full:p=0.5%:domain=*.gmail.com")
    s["lines-refused"] = seed(LINES, 6,
        "", "rcpt", "bogus:delay=1s", "rcpt:", "rcpt:foo=1", "rcpt:p=0.5",
        "rcpt:reply=650 x", "rcpt:reply=550 4.1.1 x", "rcpt:close:disconnect",
        "rcpt:delay=1s:delay=2s", "helo:reply=550 x:domain=example.com",
        "connect:reply=250 hi", "content:reply=550 x", "rcpt:close=250 x",
        "rcpt:delay=3601s", "rcpt:delay=3s-1s", "rcpt:delay=0", "rcpt:delay=1s:p=0",
        "rcpt:delay=1s:p=101%", "rcpt:delay=1s:client=10.0.0.1/8",
        "rcpt:delay=1s:domain=a..b", "rcpt:reply=550 a\tb", "rcpt:disconnect=1")
    s["lines-bounds"] = seed(LINES, 7,
        "rcpt:reply=550 " + "b" * 394,
        "rcpt:reply=550 5.1.1 " + "c" * 395,
        "rcpt:delay=" + "0" * 987 + "1s",
        "rcpt:delay=1s:domain=" + ".".join(["a" * 63] * 4),
        "rcpt:delay=3600000ms", "rcpt:delay=1s:p=0.000000001")
    s["lines-addresses"] = seed(LINES, 8,
        "tempfail@example.com", "TempFail+1@x", "permfail.x@y", "450-foo@x",
        "554-@x", "250-foo@x", "999-x@y", "tempfail", "\"a@b\"@tempfail.example",
        "127.0.0.0/8", "::1", "2001:db8::/32", "10.0.0.1/8", "::ffff:1.2.3.4")
    s["file-profile"] = seed(FILE, 9,
        "# a profile", "",
        "   rcpt:reply=550 5.1.1 No such user:p=0.1   ",
        "\t# indented comment\r",
        "data:delay=2s\r",
        "connect:reply=421 4.7.0 Busy")
    s["file-error-line-4"] = seed(FILE, 10,
        "rcpt:delay=1s", "mail:delay=1s", "# c", "rcpt:reply=650 x", "any:close")
    s["file-nul"] = seed(FILE, 11, "mail:delay=1s", "rcpt:delay=1s\0x")
    s["file-many"] = seed(FILE, 12, *(["rcpt:delay=1ms:p=0.5"] * 200))
    return s


def main():
    d = os.path.join(HERE, "corpus", "fuzz_fault_rules")
    os.makedirs(d, exist_ok=True)
    for name in os.listdir(d):
        if name.startswith("seed-"):
            os.unlink(os.path.join(d, name))
    ss = seeds()
    total = 0
    for name, data in sorted(ss.items()):
        with open(os.path.join(d, "seed-" + name), "wb") as f:
            f.write(data)
        total += len(data)
    print("fuzz_fault_rules: %d seeds, %d bytes" % (len(ss), total))


if __name__ == "__main__":
    main()
