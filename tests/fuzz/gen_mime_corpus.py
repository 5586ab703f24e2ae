#!/usr/bin/python3
"""tests/fuzz/gen_mime_corpus.py - writes the seed corpus of fuzz_mime into
corpus/fuzz_mime/.

Owns: the seeds, as readable Python: small messages with what mail
readers trip on: encoded words in every form (B and Q, broken, in the
wrong place, in unknown charsets), RFC 2231 parameters (continued,
encoded, out of order), address groups and junk addresses, every
transfer encoding with bad input, charsets (Shift_JIS, UTF-16, ISO-2022-JP,
unknown), nesting (multipart and message/rfc822), boundaries that are
missing, reused, prefixes of each other or empty, headers without a body,
NUL and controls, HTML for the snippet (unclosed script, entities,
comments).  Like gen_corpus.py it only rewrites files whose names it makes
(prefix "seed-").

Run from anywhere: python3 tests/fuzz/gen_mime_corpus.py
"""

import os

HERE = os.path.dirname(os.path.abspath(__file__))


def msg(headers, body=b""):
    return b"\r\n".join(h.encode("latin-1") if isinstance(h, str) else h for h in headers) + b"\r\n\r\n" + body


def multipart(ctype, boundary, parts, close=True, extra=""):
    out = [("Content-Type: %s; boundary=\"%s\"%s" % (ctype, boundary, extra)).encode()]
    body = b"preamble\r\n"
    for p in parts:
        body += b"--" + boundary.encode() + b"\r\n" + p + b"\r\n"
    if close:
        body += b"--" + boundary.encode() + b"--\r\nepilogue\r\n"
    return out, body


def part(headers, body):
    return msg(headers, body)


def nested(depth, kind="multipart/mixed"):
    body = part(["Content-Type: image/png; name=deep.png"], b"PNG")
    for i in range(depth):
        body = part(["Content-Type: %s; boundary=\"n%d\"" % (kind, i)], b"--n%d\r\n" % i + body + b"\r\n--n%d--" % i)
    return body


def seeds():
    s = {}
    s["plain"] = msg(["From: a@example.com", "To: b@example.org", "Subject: hi"], b"hello\r\n")
    s["encoded-words"] = msg([
        "Subject: =?iso-8859-1?q?caf=E9?= =?utf-8?b?4oKs?= =?windows-1252?Q?=80=93?=",
        "From: =?utf-8?q?J=C3=B6rg?= <j@example.de>",
        "To: =?x-unknown?q?who?= <w@example.org>, =?utf-8?b?!!!?= <x@y>",
        "X-Broken: =?utf-8?q?unterminated and =?=?= =??q?a?= =?utf-8?x?y?="], b"x")
    s["encoded-in-quotes"] = msg(['From: "=?utf-8?q?A=2C_B?=" <ab@example.org>', "Subject: a=?utf-8?q?b?=c"])
    s["groups"] = msg(["To: team: a@x, \"B\" <b@y>;, solo@z, empty:;, nested: in: c@d;;",
                       "Cc: <<>>, @, \"unterminated <x@y>, (comment) c@d (more)",
                       "Bcc: " + ",".join("u%d@example.org" % i for i in range(60)),
                       "Reply-To: undisclosed-recipients:;"])
    s["rfc2231"] = msg(*multipart("multipart/mixed", "b", [
        part(["Content-Type: application/pdf",
              "Content-Disposition: attachment; filename*=utf-8'en'r%C3%A9sum%C3%A9.pdf"], b"%PDF"),
        part(["Content-Type: text/plain; name*1=\"two\"; name*0=\"one\"",
              "Content-Disposition: attachment; filename*0*=iso-8859-1''na%EFve; filename*1=\".txt\""], b"t"),
        part(["Content-Type: image/gif; name*=bogus%ZZ", "Content-Disposition: inline; filename*2=x"], b"GIF"),
        part(["Content-Type: application/x; name=\"=?utf-8?q?enc=C3=B6ded?=.bin\""], b"b")]))
    s["transfer-encodings"] = msg(*multipart("multipart/mixed", "te", [
        part(["Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: base64"], b"aGVs bG8=\r\n%%%==AA"),
        part(["Content-Type: text/plain", "Content-Transfer-Encoding: quoted-printable"], b"a=3D=\r\nb=ZZ=4"),
        part(["Content-Type: application/octet-stream; name=u", "Content-Transfer-Encoding: x-uuencode"],
             b"begin 644 u\r\n#86)C\r\n`\r\nend\r\n"),
        part(["Content-Type: text/plain", "Content-Transfer-Encoding: x-unknown"], b"raw"),
        part(["Content-Type: image/png; name=a.png", "Content-Transfer-Encoding: base64"], b"=")]))
    s["charsets"] = msg(*multipart("multipart/mixed", "cs", [
        part(["Content-Type: text/plain; charset=shift_jis"], b"\x82\xa0\xff\x81"),
        part(["Content-Type: text/plain; charset=utf-16"], b"\xff\xfea\x00b"),
        part(["Content-Type: text/plain; charset=iso-2022-jp"], b"\x1b$B$\"\x1b(Bx\x1b$"),
        part(["Content-Type: text/html; charset=x-nope"], b"<p>\xe9\xc0\xaf</p>"),
        part(["Content-Type: text/plain; charset=\"\""], b"\xc3")]))
    s["alternative"] = msg(*multipart("multipart/alternative", "alt", [
        part(["Content-Type: text/plain"], b"plain"),
        part(["Content-Type: text/html"], b"<html><head><title>t</title><style>x</style></head>"
             b"<body><p>a&amp;b&#233;&#x20AC;&bogus;</p><br><img src=cid:c><!-- c --><script>z"),
        part(["Content-Type: text/plain", "Content-Disposition: attachment; filename=a.txt"], b"att")]))
    rel = multipart("multipart/related", "rel", [
        part(["Content-Type: text/html"], b"<img src=\"cid:img1@x\">"),
        part(["Content-Type: image/jpeg", "Content-ID: <img1@x>", "Content-Transfer-Encoding: base64"], b"/9j/4A=="),
        part(["Content-Type: image/jpeg", "Content-ID: img2@x", "Content-Disposition: inline"], b"\xff\xd8")])
    s["related-in-mixed"] = msg(*multipart("multipart/mixed", "mix", [part(*rel),
        part(["Content-Type: application/zip; name=z.zip", "Content-Disposition: attachment"], b"PK")]))
    s["rfc822"] = msg(*multipart("multipart/mixed", "m", [
        part(["Content-Type: text/plain"], b"see"),
        part(["Content-Type: message/rfc822", "Content-Disposition: attachment; filename=f.eml"],
             msg(*multipart("multipart/mixed", "inner", [part(["Content-Type: image/png; name=i.png"], b"P")]))),
        part(["Content-Type: message/rfc822"], b"not a message at all"),
        part(["Content-Type: message/partial; id=x; number=1; total=2"], b"Subject: p")]))
    s["missing-close"] = msg(*multipart("multipart/mixed", "b", [part(["Content-Type: text/plain"], b"one"),
                                                                  part(["Content-Type: image/png; name=x"], b"two")],
                                        close=False))
    s["no-boundary"] = msg(["Content-Type: multipart/mixed"], b"--x\r\nContent-Type: text/plain\r\n\r\nx\r\n--x--\r\n")
    s["empty-boundary"] = msg(['Content-Type: multipart/mixed; boundary=""'], b"--\r\n\r\nx\r\n----\r\n")
    s["prefix-boundaries"] = msg(*multipart("multipart/mixed", "a", [
        part(*multipart("multipart/mixed", "ab", [part(["Content-Type: image/png; name=p"], b"x")], close=False)),
        part(["Content-Type: image/gif; name=g"], b"y")]))
    s["same-boundary"] = msg(*multipart("multipart/mixed", "s", [
        part(*multipart("multipart/alternative", "s", [part(["Content-Type: text/plain"], b"in")])),
        part(["Content-Type: application/x; name=n"], b"out")]))
    s["nested-40"] = msg(["Subject: deep"], nested(40))
    s["nested-rfc822"] = msg(["Content-Type: message/rfc822"], msg(["Content-Type: message/rfc822"],
                             msg(["Content-Type: message/rfc822"], b"Subject: innermost\r\n\r\nx")))
    s["headers-only"] = b"Subject: no body"
    s["no-headers"] = b"\r\n\r\njust a body\x00\x1b[2J"
    s["bare-lf"] = b"Subject: lf\nContent-Type: multipart/mixed; boundary=l\n\n--l\nContent-Type: image/png; name=x\n\nP\n--l--\n"
    s["folded"] = msg(["Subject: one\r\n two\r\n\tthree", "To: a@b,\r\n c@d", "X: \r\n ", " leading-continuation"])
    s["many-headers"] = msg(["X-%d: v" % i for i in range(300)])
    s["nul-and-controls"] = msg(["Subject: a\x00b\x1b[31m\x9b", "From: \x00@\x00"], b"\x00\x01\x02\xc2\x9b")
    s["single-attachment"] = msg(["Content-Type: application/pdf; name=s.pdf", "Content-Transfer-Encoding: base64"],
                                 b"JVBERi0=")
    s["single-inline"] = msg(["Content-Type: image/png", "Content-Disposition: inline; filename=i.png"], b"P")
    s["text-attachment-root"] = msg(["Content-Type: text/plain", "Content-Disposition: attachment; filename=t"], b"t")
    s["date-and-ids"] = msg(["Date: Mon, 32 Foo 99999 25:61:61 +9999", "Message-ID: <<<a@b>>>",
                             "Date: Thu, 01 Jan 1970 00:00:00 -1200", "Message-ID:"])
    s["content-type-junk"] = msg(*multipart("multipart/mixed", "j", [
        part(["Content-Type: /"], b"a"), part(["Content-Type: ;;;=;"], b"b"),
        part(["Content-Type: text/plain; charset"], b"c"), part(["Content-Type: multipart/"], b"d"),
        part(["Content-Disposition: ; filename"], b"e"), part(["Content-ID: <>"], b"f")]))
    s["signed"] = msg(*multipart("multipart/signed", "sig", [part(["Content-Type: text/plain"], b"signed"),
        part(["Content-Type: application/pgp-signature; name=sig.asc"], b"-----BEGIN PGP SIGNATURE-----")],
        extra="; protocol=\"application/pgp-signature\"; micalg=pgp-sha256"))
    s["encrypted"] = msg(*multipart("multipart/encrypted", "enc", [
        part(["Content-Type: application/pgp-encrypted"], b"Version: 1"),
        part(["Content-Type: application/octet-stream; name=encrypted.asc"], b"-----BEGIN PGP MESSAGE-----")],
        extra="; protocol=\"application/pgp-encrypted\""))
    s["pkcs7"] = msg(["Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m",
                      "Content-Transfer-Encoding: base64"], b"MIAGCSqGSIb3DQEHA6CAMIACAQA=")
    s["mbox-from"] = b"From sender@example.com Mon Dec  7 10:00:00 2026\r\nSubject: mbox\r\n\r\nbody\r\n"
    return s


def main():
    out = os.path.join(HERE, "corpus", "fuzz_mime")
    os.makedirs(out, exist_ok=True)
    for name, data in seeds().items():
        with open(os.path.join(out, "seed-" + name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
