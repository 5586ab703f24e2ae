#!/usr/bin/python3
"""tests/fuzz/gen_search_query_corpus.py - writes the seed corpus of
fuzz_search_query into corpus/fuzz_search_query/.

Owns: the seeds, as readable Python: every prefix, negations, phrases with
escapes, literal wildcard and operator characters, dates and sizes that
parse and that do not, bounds, invalid UTF-8.  The harness takes the whole
input as the query (no header bytes).  Like gen_corpus.py it only rewrites
files whose names it makes (prefix "seed-").

Run from anywhere: python3 tests/fuzz/gen_search_query_corpus.py
"""

import os

HERE = os.path.dirname(os.path.abspath(__file__))

SEEDS = {
    "empty": b"",
    "blanks": b" \t\r\n\v\f",
    "words": b"password reset alice",
    "prefixes": b"to:alice@example.com from:Bob cc:carol bcc:dave subject:hello message-id:<a@b>",
    "prefixes-case": b"TO:x From:y SUBJECT:z Message-ID:w",
    "flags": b"is:read is:unread -is:unread !is:read has:attachment has:attachments -has:attachment",
    "bad-flags": b"is:tagged has:inline",
    "negation": b"-foo !bar -to:x !subject:\"a b\" - ! --x -!y",
    "phrases": b'"hello world" subject:"re: hi" -"a \\"b\\" c" "back\\\\slash" "C:\\temp"',
    "quotes-in-words": b'foo"bar x:"a b" a\\"b',
    "unterminated": b'subject:"never ends',
    "quote-then-word": b'"a"b',
    "literals": b"100% a_b * foo* OR NEAR(a b) col:x AND NOT ^a {c}",
    "unknown-prefixes": b"tag:x reply-to:y addressed:z foo:bar",
    "dates": b"before:2024-01-01 after:2024-02-29T12:30:00.123456+01:30 before:1970-01-01T00:00:00Z",
    "dates-edge": b"before:1969-12-31T23:59:59-23:59 after:9999-12-31T23:59:59.999999999-23:59",
    "bad-dates": b"before:2023-02-29",
    "bad-time": b"after:2024-01-01T24:00:00Z",
    "sizes": b"larger:0 larger:1b smaller:2K larger:1.5M smaller:1.999999999G larger:18446744073709551615",
    "size-overflow": b"larger:17179869184G",
    "bad-size": b"smaller:1.5",
    "empty-values": b"to: is: before:",
    "utf8": "m\u00fcller to:\u00e4@x \"\u65e5\u672c \u8a9e\" \U0001F4E7".encode(),
    "bad-utf8": b"ok \xc0\xaf",
    "nul": b"a\x00b",
    "many-terms": b" ".join([b"a"] * 33),
    "long-term": b"subject:" + b"s" * 513,
    "long-phrase": b'"' + b'\\"' * 512 + b'"',
}


def main():
    out = os.path.join(HERE, "corpus", "fuzz_search_query")
    os.makedirs(out, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(out, "seed-" + name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
