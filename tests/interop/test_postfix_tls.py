"""Postfix relaying to smtpsink with smtp_tls_security_level = encrypt
(issue 14), on both backends.

A private Postfix (bench/postfix_instance.py: its own config, queue and
data directories under a temporary directory, smtpd on a free 127.0.0.1
port, its log in a file there) has relayhost = [127.0.0.1]:PORT of a
smtpsink with a self-signed certificate (once plain, once with
--require-tls).  Messages go in over SMTP to Postfix's smtpd; the test
waits until smtpsink's spool holds them (flushing Postfix's queue while it
waits) and checks that every record came over TLS (ESMTPS, TLSv1.3 or 1.2)
and that Postfix's log says the TLS connection to smtpsink was established
and the mail sent.  The negative: smtpsink without a certificate offers no
STARTTLS, so Postfix defers the mail (even when flushed), keeps it in its
queue, and smtpsink's spool stays empty.

Runs as root (postfix start insists); otherwise each test is skipped with
the reason.  Postfix itself must be installed (tools/lib/setup.sh does).
"""

import json
import re
import sys
import tempfile
import time
from pathlib import Path

import pytest

from interop_helpers import HOST, free_port, need_tool, spool_tool

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import postfix_instance  # noqa: E402

DELIVERY_TIMEOUT_S = 20
POLL_S = 0.2
FLUSH_EVERY_S = 2.0
MESSAGES = 3
TLS_VERSIONS = ("TLSv1.3", "TLSv1.2")
SINK_NAME = "mx.tls.test"


@pytest.fixture
def postfix():
    """Factory: postfix(main={...}) -> a started postfix_instance.Postfix
    (smtpd on a free port); each is stopped, its log printed (pytest shows
    it on failure) and its directory removed at teardown."""
    for tool in ("postfix", "postconf", "postqueue"):
        need_tool(tool)
    reason = postfix_instance.unavailable_reason()
    if reason:
        pytest.skip("no private Postfix here: " + reason)
    started = []

    def start(main):
        # not under tmp_path: /tmp/pytest-of-root is closed to Postfix's daemons
        root = tempfile.mkdtemp(prefix="smtpsink-postfix-")
        pf = postfix_instance.Postfix(root, free_port(), main=main)
        started.append(pf)
        return pf.start()

    yield start
    for pf in started:
        try:
            pf.stop()
        finally:
            print("---- Postfix log (%s):\n%s" % (pf.log_path, pf.log()[-6000:]))
            pf.remove()


def relay_to(port):
    return {"relayhost": "[%s]:%d" % (HOST, port), "smtp_tls_security_level": "encrypt",
            "smtp_tls_loglevel": "1"}


def message(i):
    return ("From: <sender%d@origin.test>\r\nTo: <rcpt%d@dest.test>\r\nSubject: postfix tls %d\r\n\r\n"
            "message %d relayed by Postfix over TLS\r\n" % (i, i, i, i)).encode()


def inject(pf, count):
    """count messages into Postfix's smtpd: their Postfix queue IDs."""
    return [pf.send("sender%d@origin.test" % i, ["rcpt%d@dest.test" % i], message(i)) for i in range(count)]


def spool_records(spool):
    p = spool_tool(spool, "ls", "--json")
    return [json.loads(ln) for ln in p.stdout.splitlines() if ln.strip()]


def wait_for_records(pf, spool, count):
    """Poll smtpsink's spool until it holds count records, flushing
    Postfix's queue every FLUSH_EVERY_S; fail with Postfix's log if not
    within DELIVERY_TIMEOUT_S."""
    deadline = time.monotonic() + DELIVERY_TIMEOUT_S
    next_flush = time.monotonic() + FLUSH_EVERY_S
    while True:
        recs = spool_records(spool)
        if len(recs) >= count:
            return recs
        now = time.monotonic()
        assert now < deadline, "smtpsink's spool holds %d of %d messages after %d s. Postfix's queue: %r\n" \
            "--- Postfix log\n%s" % (len(recs), count, DELIVERY_TIMEOUT_S, pf.queue(), pf.log()[-4000:])
        if now >= next_flush:
            pf.flush()
            next_flush = now + FLUSH_EVERY_S
        time.sleep(POLL_S)


def wait_for_log(pf, pattern, count=1):
    """Postfix's log lines matching pattern, once there are count of them
    (postlogd writes them a moment after the event)."""
    deadline = time.monotonic() + DELIVERY_TIMEOUT_S
    while True:
        lines = [ln for ln in pf.log().splitlines() if re.search(pattern, ln)]
        if len(lines) >= count:
            return lines
        assert time.monotonic() < deadline, "%d of %d log lines matching %r after %d s:\n%s" % (
            len(lines), count, pattern, DELIVERY_TIMEOUT_S, pf.log()[-4000:])
        time.sleep(POLL_S)


@pytest.mark.parametrize("extra", [(), ("--require-tls",)], ids=["starttls", "require-tls"])
def test_postfix_relays_over_tls(server, postfix, tmp_path, extra):
    spool = tmp_path / "spool"
    srv = server("--tls-self-signed", "--hostname", SINK_NAME, "--spool", str(spool), *extra, discard=False)
    pf = postfix(relay_to(srv.port))
    qids = inject(pf, MESSAGES)

    recs = wait_for_records(pf, spool, MESSAGES)
    assert len(recs) == MESSAGES, recs
    assert sorted(r["mail_from"] for r in recs) == ["sender%d@origin.test" % i for i in range(MESSAGES)]
    for r in recs:
        assert r["protocol"] == "ESMTPS", r
        version, cipher = r["tls"].split(" ")
        assert version in TLS_VERSIONS and cipher, r
        assert r["helo"] == pf.hostname, r

    relay = re.escape("%s[%s]:%d" % (HOST, HOST, srv.port))
    wait_for_log(pf, r"postfix-private/smtp\[\d+\]: .*TLS connection established to %s: TLSv1\.[23] with cipher \S+"
                 % relay)
    sink_qids = set()
    for qid in qids:
        (sent,) = wait_for_log(pf, r"%s: to=<.*>, relay=%s, .*status=sent \(250 2\.0\.0 Ok: queued as " % (qid, relay))
        sink_qids.add(re.search(r"queued as (\S+)\)$", sent).group(1))
    assert sink_qids == {r["qid"] for r in recs}
    assert pf.queue() == []


def test_postfix_defers_without_starttls(server, postfix, tmp_path):
    spool = tmp_path / "spool"
    srv = server("--spool", str(spool), discard=False)  # no certificate: no STARTTLS
    pf = postfix(relay_to(srv.port))
    (qid,) = inject(pf, 1)

    deferred = r"%s: to=<rcpt0@dest\.test>, relay=%s.*status=deferred \(TLS is required, but was not offered" % (
        qid, re.escape("%s[%s]:%d" % (HOST, HOST, srv.port)))
    wait_for_log(pf, deferred)
    pf.flush()  # a second attempt fails the same way
    wait_for_log(pf, deferred, count=2)
    assert [(m["queue_id"], m["queue_name"]) for m in pf.queue()] == [(qid, "deferred")]
    assert "TLS connection established" not in pf.log()
    assert spool_records(spool) == []
