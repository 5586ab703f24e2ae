#!/usr/bin/python3
"""tests/fuzz/gen_corpus.py - writes the hand-made seed corpus of the fuzz
harnesses into corpus/<target>/.

Owns: the seeds, as readable Python, and their file names (a short prefix
per theme).  Each seed starts with the harness's header bytes (see the
comment at the top of each tests/fuzz/fuzz_*.c); the rest is what a client
sends or what follows a 354.  Files found later by fuzzing (crashes,
interesting inputs) are added to the same directories by hand and are not
touched by this script: it only rewrites files whose names it makes
(prefix "seed-").

Run from anywhere: python3 tests/fuzz/gen_corpus.py
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# ---- fuzz_session header ----------------------------------------------------
# byte 0: strict switches, lmtp, bare-LF policy, auth_reject
STRICT_SYNC, STRICT_HELO_NAME, STRICT_HELO_FIRST, STRICT_ADDRESS = 1, 2, 4, 8
LMTP, AUTH_REJECT = 16, 128
LF_PRESERVE, LF_NORMALIZE, LF_REJECT = 0, 1 << 5, 2 << 5
# byte 1: extension preset (0 all, 1 no PIPELINING, 2 no ESMTP, 3 no
# CHUNKING, 4 no 8BITMIME/SMTPUTF8, 5 no ENHANCEDSTATUSCODES, 6 no AUTH/DSN,
# 7 minimal), small size, 100 rcpts, small output, max_errors choice
SMALL_SIZE, RCPTS_100, SMALL_OUT = 8, 16, 32
ERRORS_3, ERRORS_NEVER, ERRORS_1 = 1 << 6, 2 << 6, 3 << 6
# byte 2: override mode, varying verdicts, abort at the end, cutting
OVR_REFUSE, OVR_OTHER, OVR_MIXED = 1, 2, 3
VARY_VERDICTS, END_ABORT = 4, 8


def cut(k):
    """Pieces of 1..2^(k-1) bytes; 0 feeds the input whole."""
    return k << 4


def session(b0=0, b1=0, b2=0):
    return bytes([b0, b1, b2])


def crlf(*lines):
    return b"".join(l + b"\r\n" for l in lines)


EHLO = b"EHLO client.example\r\n"
ENVELOPE = crlf(b"MAIL FROM:<alice@example.com>", b"RCPT TO:<bob@example.org>")
BODY = crlf(b"Subject: test", b"", b"Hello Bob.", b"..a stuffed dot line", b"Bye.")
MESSAGE = ENVELOPE + b"DATA\r\n" + BODY + b".\r\n"
QUIT = b"QUIT\r\n"

SMUGGLE = [
    (b"lf-dot-lf", b"\n.\n"),
    (b"cr-dot-cr", b"\r.\r"),
    (b"lf-dot-crlf", b"\n.\r\n"),
    (b"crlf-dot-lf", b"\r\n.\n"),
    (b"cr-dot-crlf", b"\r.\r\n"),
    (b"crlf-dot-cr", b"\r\n.\r"),
    (b"lf-dot-cr", b"\n.\r"),
    (b"cr-dot-lf", b"\r.\n"),
    (b"crlf-dot-crcrlf", b"\r\n.\r\r\n"),
    (b"crcrlf-dot-crcrlf", b"\r\r\n.\r\r\n"),
    (b"crlf-nul-dot-crlf", b"\r\n\x00.\r\n"),
]
SMUGGLED = crlf(b"MAIL FROM:<smuggled@x>", b"RCPT TO:<r@x>", b"DATA", b"Subject: smuggled", b"", b"evil")


def smuggle_body(inject):
    return b"Subject: real\r\n\r\nbody" + inject + SMUGGLED + b".\r\n"


def session_seeds():
    s = {}
    s["basic"] = session() + EHLO + MESSAGE + QUIT
    s["basic-bytewise"] = session(b2=cut(1)) + EHLO + MESSAGE + QUIT
    s["pipelined-group"] = session(b2=cut(4)) + EHLO + ENVELOPE + crlf(
        b"RCPT TO:<carol@example.org>", b"DATA") + BODY + b".\r\n" + MESSAGE + QUIT
    s["three-messages-verdicts"] = session(b2=VARY_VERDICTS | cut(6)) + EHLO + MESSAGE * 3 + QUIT
    s["rset-noop-vrfy"] = session() + crlf(b"NOOP", b"RSET", b"VRFY bob", b"EXPN list", b"HELP",
                                           b"", b"FOOBAR", b"RSET extra") + EHLO + ENVELOPE + b"RSET\r\n" + MESSAGE
    s["sequence-errors"] = session(b0=STRICT_HELO_FIRST) + crlf(
        b"MAIL FROM:<a@b>", b"RCPT TO:<c@d>", b"DATA") + EHLO + crlf(
        b"RCPT TO:<c@d>", b"DATA", b"MAIL FROM:<a@b>", b"MAIL FROM:<a@b>", b"DATA") + QUIT
    s["ehlo-mid-transaction"] = session() + EHLO + ENVELOPE + EHLO + b"EHLO\r\n" + b"DATA\r\n" + QUIT
    s["mixed-case-spacing"] = session() + crlf(b"eHlO x", b"mAiL fRoM: <a@b>", b"rcpt to:<c@d>  NOTIFY=NEVER",
                                               b"data") + BODY + b".\r\n"
    s["no-brackets-strict"] = session(b0=STRICT_ADDRESS) + EHLO + crlf(
        b"MAIL FROM:a@b", b"MAIL FROM:<a@b>", b"RCPT TO:c@d", b"RCPT TO:<\xc3\xa9@d>") + QUIT
    s["null-sender-utf8"] = session() + EHLO + crlf(
        b"MAIL FROM:<> SMTPUTF8 BODY=8BITMIME", b"RCPT TO:<j\xc3\xb6rg@b\xc3\xbccher.example>",
        b"DATA") + b"Subject: \xe2\x9c\x93\r\n\r\n8bit \xff\xfe\r\n.\r\n"
    s["utf8-no-param"] = session() + EHLO + crlf(b"MAIL FROM:<j\xc3\xb6rg@x>", b"RCPT TO:<y@x>",
                                                 b"MAIL FROM:<\xff\xfe@x>", b"NOOP \xc3\x28") + QUIT
    s["params-bad"] = session() + EHLO + crlf(
        b"MAIL FROM:<a@b> SIZE=abc", b"MAIL FROM:<a@b> SIZE=99999999999999999999999", b"MAIL FROM:<a@b> BODY=9BIT",
        b"MAIL FROM:<a@b> SMTPUTF8=YES", b"MAIL FROM:<a@b> FOO=bar", b"MAIL FROM:<a@b> =", b"MAIL FROM:<a@b> X=\"",
        b"MAIL FROM:<a@b> SIZE=1 SIZE=2", b"MAIL FROM:<a@b> " + b"P=x " * 100) + QUIT
    s["params-dsn"] = session() + EHLO + crlf(
        b"MAIL FROM:<a@b> RET=HDRS ENVID=QQ+2B314 AUTH=<> SIZE=100 BODY=BINARYMIME",
        b"RCPT TO:<c@d> NOTIFY=SUCCESS,FAILURE,DELAY ORCPT=rfc822;c+40d",
        b"RCPT TO:<e@d> NOTIFY=NEVER,SUCCESS", b"RCPT TO:<f@d> ORCPT=rfc822;x+0D+0Ay",
        b"DATA", b"BDAT 3 LAST") + b"abc" + QUIT
    s["size-limit"] = session(b1=SMALL_SIZE) + EHLO + crlf(
        b"MAIL FROM:<a@b> SIZE=101", b"MAIL FROM:<a@b> SIZE=100", b"RCPT TO:<c@d>", b"DATA") + (
        b"x" * 78 + b"\r\n") * 3 + b".\r\n" + ENVELOPE + b"BDAT 150 LAST\r\n" + b"y" * 150 + QUIT
    s["rcpt-limit"] = session(b1=RCPTS_100) + EHLO + b"MAIL FROM:<a@b>\r\n" + b"".join(
        b"RCPT TO:<r%d@x>\r\n" % i for i in range(102)) + b"DATA\r\n" + BODY + b".\r\n"
    s["too-many-errors"] = session(b1=ERRORS_3) + crlf(b"GET / HTTP/1.1", b"Host: x", b"", b"", b"") + EHLO
    s["line-512"] = session() + b"NOOP " + b"x" * 505 + b"\r\n" + b"NOOP " + b"x" * 506 + b"\r\n" + crlf(b"NOOP")
    s["line-long-ehlo"] = session(b2=cut(9)) + b"EHLO " + b"h" * 5000 + b"\r\nNOOP\r\n"
    s["line-no-lf"] = session(b2=cut(11)) + b"x" * 3000 + b"\rNOOP\r\n" + b"NOOP\r\n"
    s["bare-lf-commands-preserve"] = session() + b"EHLO x\nMAIL FROM:<a@b>\nRCPT TO:<c@d>\nDATA\nbody\n.\n\r\n.\r\n"
    s["bare-lf-commands-reject"] = session(b0=LF_REJECT) + b"EHLO x\nNOOP\r\nMAIL FROM:<a@b>\r\n"
    s["nul-in-command"] = session() + EHLO + b"MAIL FROM:<a\x00@b>\r\nRCPT\x00 TO:<c@d>\r\nNO\x00OP\r\n"
    s["helo-no-name-strict"] = session(b0=STRICT_HELO_NAME) + crlf(b"HELO", b"EHLO", b"EHLO  ", b"HELO x")
    s["no-esmtp"] = session(b1=2) + crlf(b"EHLO x", b"HELO x", b"MAIL FROM:<a@b> SIZE=10", b"BDAT 1 LAST") + b"x"
    s["minimal-ext"] = session(b1=7) + EHLO + crlf(b"AUTH PLAIN", b"MAIL FROM:<a@b> BODY=8BITMIME",
                                                 b"MAIL FROM:<a@b> SMTPUTF8", b"STARTTLS") + QUIT
    s["no-enhanced-codes"] = session(b1=5) + EHLO + MESSAGE + b"FOO\r\n" + QUIT
    s["starttls-pipelined"] = session() + EHLO + b"STARTTLS\r\nEHLO evil\r\nSTARTTLS foo\r\n" + QUIT
    s["quit-then-more"] = session(b2=cut(3)) + EHLO + QUIT + b"MAIL FROM:<a@b>\r\n"
    s["eof-mid-data"] = session() + EHLO + ENVELOPE + b"DATA\r\nSubject: cut\r\n\r\nhalf a mess"
    s["abort-mid-data"] = session(b2=END_ABORT) + EHLO + ENVELOPE + b"DATA\r\nhalf"
    s["long-body-lines"] = session(b2=cut(8)) + EHLO + ENVELOPE + b"DATA\r\n" + b"a" * 998 + b"\r\n" + (
        b"b" * 999 + b"\r\n") + b"c\rd\x00e\xff\r\n.\r\n" + QUIT
    s["body-normalize"] = session(b0=LF_NORMALIZE) + EHLO + ENVELOPE + b"DATA\r\nline\nline2\r\n.\n.\r\n" + QUIT
    s["body-reject"] = session(b0=LF_REJECT) + EHLO + ENVELOPE + b"DATA\r\nline\nline2\r\n.\r\n" + MESSAGE
    # AUTH
    s["auth-plain-initial"] = session() + EHLO + b"AUTH PLAIN AHVzZXIAcGFzcw==\r\n" + MESSAGE
    s["auth-plain-continue"] = session() + EHLO + b"AUTH PLAIN\r\nAHVzZXIAcGFzcw==\r\nAUTH PLAIN\r\n"
    s["auth-login"] = session() + EHLO + b"AUTH LOGIN\r\ndXNlcg==\r\ncGFzcw==\r\n" + MESSAGE + (
        b"AUTH LOGIN dXNlcg==\r\ncGFzcw==\r\n")
    s["auth-cancel-bad"] = session() + EHLO + crlf(b"AUTH PLAIN", b"*", b"AUTH LOGIN", b"!!!notbase64",
                                                 b"AUTH CRAM-MD5", b"AUTH", b"AUTH PLAIN =", b"AUTH PLAIN AAAA")
    s["auth-reject"] = session(b0=AUTH_REJECT) + EHLO + b"AUTH PLAIN AHVzZXIAcGFzcw==\r\n" + MESSAGE
    s["auth-long-user"] = session() + EHLO + b"AUTH LOGIN\r\n" + b"QUFB" * 120 + b"\r\ncGFzcw==\r\n"
    # BDAT
    s["bdat-two-chunks"] = session() + EHLO + ENVELOPE + b"BDAT 10\r\n0123456789BDAT 5 LAST\r\nhello" + QUIT
    s["bdat-noop-zero-last"] = session(b2=cut(5)) + EHLO + ENVELOPE + b"BDAT 100\r\n" + b"z" * 100 + crlf(
        b"NOOP", b"BDAT 0 LAST") + QUIT
    s["bdat-errors"] = session() + EHLO + ENVELOPE + crlf(b"BDAT 0", b"BDAT -1")
    s["bdat-syntax"] = session() + EHLO + ENVELOPE + crlf(b"BDAT 10 LAST extra")
    s["bdat-huge"] = session() + EHLO + ENVELOPE + crlf(b"BDAT 1e9999", b"BDAT 99999999999999999999999 LAST")
    s["bdat-no-rcpt"] = session() + EHLO + b"MAIL FROM:<a@b>\r\nRCPT TO:<>\r\nBDAT 86\r\n" + b"q" * 86 + (
        b"BDAT 6 LAST\r\nZZ\r\n\r\n") + QUIT
    s["bdat-then-data"] = session() + EHLO + ENVELOPE + b"BDAT 4\r\nabcdDATA\r\nMAIL FROM:<a@b>\r\n" + (
        b"BDAT 2 LAST\r\nxyBDAT 1 LAST\r\nz") + QUIT
    s["bdat-rset-midway"] = session(b2=cut(3)) + EHLO + ENVELOPE + b"BDAT 20\r\n" + b"w" * 20 + b"RSET\r\n" + MESSAGE
    s["bdat-command-text"] = session() + EHLO + ENVELOPE + b"BDAT 30 LAST\r\nTo: Susan@bdat 78 last\r\n.\r\nQUIT\r\n" + QUIT
    s["bdat-short-eof"] = session() + EHLO + ENVELOPE + b"BDAT 89 LAST\r\n" + b"s" * 88
    s["bdat-bare-lf-reject"] = session(b0=LF_REJECT) + EHLO + ENVELOPE + b"BDAT 8 LAST\r\nab\ncd\r\n" + QUIT
    s["bdat-no-chunking"] = session(b1=3) + EHLO + ENVELOPE + b"BDAT 3 LAST\r\nabcQUIT\r\n"
    # LMTP
    s["lmtp-three-rcpts"] = session(b0=LMTP, b1=SMALL_OUT) + b"LHLO x\r\nMAIL FROM:<a@b>\r\n" + crlf(
        b"RCPT TO:<r1@x>", b"RCPT TO:<r2@x>", b"RCPT TO:<r3@x>", b"DATA") + BODY + b".\r\n" + QUIT
    s["lmtp-many-rcpts-refused"] = session(b0=LMTP, b1=SMALL_OUT, b2=VARY_VERDICTS) + b"LHLO x\r\n" + (
        b"MAIL FROM:<a@b>\r\n" + b"".join(b"RCPT TO:<r%d@x>\r\n" % i for i in range(60)) + b"DATA\r\nx\r\n.\r\n") * 3
    s["lmtp-bdat"] = session(b0=LMTP) + b"LHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<r1@x>\r\nRCPT TO:<r2@x>\r\n" + (
        b"BDAT 3 LAST\r\nabc") + b"EHLO x\r\nHELO x\r\n"
    # synchronisation
    s["sync-data-content-early"] = session(b0=STRICT_SYNC) + EHLO + ENVELOPE + b"DATA\r\nSubject: early\r\n.\r\n"
    s["sync-after-dot"] = session(b0=STRICT_SYNC) + EHLO + ENVELOPE + b"DATA\r\n" + BODY + b".\r\n" + MESSAGE
    s["sync-lenient-early"] = session() + EHLO + ENVELOPE + b"DATA\r\nSubject: early\r\n.\r\n" + MESSAGE
    s["sync-no-pipelining"] = session(b1=1) + EHLO + MESSAGE + MESSAGE
    # overrides and small output
    s["overrides-refuse"] = session(b2=OVR_REFUSE | cut(4)) + (EHLO + MESSAGE) * 3 + QUIT
    s["overrides-mixed"] = session(b2=OVR_MIXED | VARY_VERDICTS) + (EHLO + b"AUTH PLAIN\r\nAHVzZXIAcGFzcw==\r\n"
                                                                  + MESSAGE + b"NOOP\r\n" * 5) * 3
    s["small-out-noops"] = session(b1=SMALL_OUT) + b"NOOP\r\n" * 300 + EHLO * 20
    every = b"".join(ENVELOPE + b"DATA\r\n" + smuggle_body(inject) for _, inject in SMUGGLE)
    s["smuggle-all-preserve"] = session(b2=cut(7)) + EHLO + every + QUIT
    s["smuggle-all-normalize"] = session(b0=LF_NORMALIZE) + EHLO + every + QUIT
    s["smuggle-all-reject"] = session(b0=LF_REJECT, b2=cut(3)) + EHLO + every + QUIT
    s["smuggle-lf-dot-lf"] = session() + EHLO + ENVELOPE + b"DATA\r\n" + smuggle_body(b"\n.\n") + QUIT
    s["smuggle-lf-dot-lf-bdat"] = session() + EHLO + ENVELOPE + b"DATA\r\nbody\n.\nBDAT 86 LAST\r\n" + (
        b"b" * 86) + b"\r\n.\r\n"
    return s


# ---- fuzz_line_scan: 2 bytes pick the cut and seed --------------------------
def line_seeds():
    def ls(pick, data):
        return bytes([pick >> 8 & 255, pick & 255]) + data

    s = {}
    s["crlf-lines"] = ls(7, b"EHLO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n")
    s["bare-lf"] = ls(3, b"NOOP\nNOOP\r\n\n\r\n")
    s["cr-cr-lf"] = ls(5, b"NOOP\r\r\nX\rY\r\n\r")
    s["empty"] = ls(0, b"")
    s["only-lf"] = ls(1, b"\n")
    s["only-cr"] = ls(1, b"\r\r\r")
    s["no-terminator"] = ls(2, b"MAIL FROM:<a@b>")
    s["nul-bytes"] = ls(4, b"NO\x00OP\r\n\x00\n\xff\xfe\r\n")
    for n in (509, 510, 511, 512, 513):
        s["crlf-total-%d" % n] = ls(n - 3, b"x" * (n - 2) + b"\r\nNOOP\r\n")
        s["lf-total-%d" % n] = ls(n - 1, b"y" * (n - 1) + b"\nNOOP\r\n")
    s["cr-at-limit"] = ls(511, b"z" * 511 + b"\r" + b"\nNOOP\r\n")
    s["long-3000"] = ls(1500, b"L" * 3000 + b"\r\nQUIT\r\n")
    s["long-then-short-many"] = ls(600, (b"a" * 600 + b"\r\nb\r\n") * 3)
    s["long-no-end"] = ls(100, b"q" * 1200)
    s["split-in-crlf"] = ls(5, b"NOOP\r\nRSET\r\n")
    s["split-at-0"] = ls(0, b"NOOP\r\nRSET\r\n")
    s["pipelined"] = ls(33, b"RSET\r\nMAIL FROM:<sender1@example.com>\r\nRCPT TO:<r@example.org>\r\nNOOP\r\n" * 8)
    s["http"] = ls(9, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    s["mixed-ends"] = ls(12, b"a\nb\r\nc\r\rd\n\re\r\n\n\n\r\n")
    return s


# ---- fuzz_data_decoder: byte 0 policy, bytes 1-2 cut and seed ---------------
def data_seeds():
    def dd(policy, pick, data):
        return bytes([policy, pick >> 8 & 255, pick & 255]) + data

    s = {}
    s["simple"] = dd(0, 10, BODY + b".\r\n")
    s["empty-message"] = dd(0, 1, b".\r\n")
    s["empty-line-then-end"] = dd(0, 2, b"\r\n.\r\n")
    s["stuffed-dots"] = dd(0, 7, b"..hello\r\n..\r\n.x\r\n...\r\n.\r\nNEXT COMMAND\r\n")
    s["trailing-after-end"] = dd(0, 20, b"line\r\n.\r\nMAIL FROM:<a@b>\r\n")
    s["not-done"] = dd(0, 3, b"line one\r\nline two\r\n")
    s["undecided-dot-cr"] = dd(0, 4, b"line\r\n.\r")
    s["undecided-dot"] = dd(0, 4, b"line\r\n.")
    s["undecided-cr"] = dd(0, 4, b"line\r")
    s["cr-cr-lf-end"] = dd(0, 2, b"a\r\r\n.\r\n")
    s["nul-8bit"] = dd(0, 5, b"\x00\x80\xff\r\n\x00.\r\n.\r\n")
    s["bare-cr-body"] = dd(0, 6, b"a\rb\r\rc\r\n.\r\n")
    for pol, pname in ((0, "preserve"), (1, "normalize"), (2, "reject")):
        s["bare-lf-" + pname] = dd(pol, 9, b"a\nb\r\nc\n\n.\r\n")
        for name, inject in SMUGGLE:
            s["smuggle-%s-%s" % (name.decode(), pname)] = dd(pol, 30, smuggle_body(inject))
    for n in (997, 998, 999, 1000):
        s["line-%d" % n] = dd(0, n, b"x" * n + b"\r\n.\r\n")
    s["long-dot-line"] = dd(0, 500, b"." + b"d" * 998 + b"\r\n.\r\n")
    s["long-bare-lf-line"] = dd(1, 900, b"l" * 999 + b"\nshort\r\n.\r\n")
    s["dot-lf-start"] = dd(0, 1, b".\n.\r\n")
    s["lf-start"] = dd(0, 1, b"\n.\n\r\n.\r\n")
    return s


def write_all(target, seeds):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for name in os.listdir(d):
        if name.startswith("seed-"):
            os.unlink(os.path.join(d, name))
    total = 0
    for name, data in sorted(seeds.items()):
        with open(os.path.join(d, "seed-" + name), "wb") as f:
            f.write(data)
        total += len(data)
    print("%s: %d seeds, %d bytes" % (target, len(seeds), total))


def main():
    write_all("fuzz_session", session_seeds())
    write_all("fuzz_line_scan", line_seeds())
    write_all("fuzz_data_decoder", data_seeds())
    return 0


if __name__ == "__main__":
    sys.exit(main())
