"""Trusted proxies only (issue 12, "Trusting PROXY headers from anyone").

With --proxy-from 127.0.0.2 (which implies --proxy-protocol) a PROXY header
is honoured only from 127.0.0.2: a peer elsewhere (127.0.0.1) that sends a
header claiming to be 192.0.2.1 gets no banner and is closed, and one that
sends nothing is refused before the banner too (closed within a few
seconds, not after --timeout); from 127.0.0.2 the same header is served and
the spool records the client as 192.0.2.1.  v1 and v2 headers, handwritten
as in tests/interop/test_proxy.py (whose header table is reused).
"""

import time

import pytest

import hostile_helpers as hh
from interop_helpers import Wire, WireTimeout, greet, transaction
from test_proxy import HEADERS

TRUSTED = "127.0.0.2"
UNTRUSTED = "127.0.0.1"
CLAIMED = "192.0.2.1"
REFUSE_S = 5.0  # an untrusted peer is closed within this (default --timeout is 300 s)


@pytest.fixture
def proxied(any_server, tmp_path):
    spool = tmp_path / "spool"
    return any_server("--proxy-from", TRUSTED, "--spool", spool, discard=False), spool


def closed_without_banner(w, what):
    t0 = time.monotonic()
    try:
        rest = w.read_until_closed(REFUSE_S)
    except WireTimeout:
        raise AssertionError("%s: still open %.0f s later (must be refused before the banner); received %r"
                             % (what, REFUSE_S, w.buf[:300])) from None
    assert b"220" not in rest, "%s got a banner: %r" % (what, rest)
    return time.monotonic() - t0


@pytest.mark.parametrize("kind", ["v1-tcp4", "v2-tcp4"])
def test_header_from_untrusted_peer_is_refused(proxied, kind):
    srv, _ = proxied
    with Wire(srv.host, srv.port, source=UNTRUSTED, timeout=10) as w:
        try:
            w.send(HEADERS[kind] + b"EHLO liar.example\r\n")
        except (BrokenPipeError, ConnectionResetError):
            return  # refused at once: nothing was read
        closed_without_banner(w, "a PROXY header from %s" % UNTRUSTED)


def test_silent_untrusted_peer_is_refused(proxied):
    srv, _ = proxied
    with Wire(srv.host, srv.port, source=UNTRUSTED, timeout=10) as w:
        closed_without_banner(w, "a silent connection from %s" % UNTRUSTED)


@pytest.mark.parametrize("kind", ["v1-tcp4", "v2-tcp4"])
def test_header_from_trusted_proxy_is_honoured(proxied, tools, kind):
    srv, spool = proxied
    with Wire(srv.host, srv.port, source=TRUSTED, timeout=10) as w:
        w.send(HEADERS[kind])
        greet(w)
        qid = hh.qid_of(transaction(w))
        w.cmd("QUIT", 221)
    srv.stop()
    srv.assert_clean_exit()
    listed = hh.spool_ls(tools, spool)
    assert qid in listed, "the message is not in the spool"
    assert listed[qid]["client"]["addr"] == CLAIMED, "the spool records client %r, not the proxied %s" % (
        listed[qid]["client"], CLAIMED)
