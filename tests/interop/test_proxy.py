"""--proxy-protocol: smtpsink behind a real HAProxy, and hand-written headers.

HAProxy (Debian package haproxy) runs on loopback in TCP mode with two
frontends: one to a backend server line with send-proxy (PROXY v1, text),
one with send-proxy-v2 (binary).  A transaction through each must succeed.
Hand-written headers (v1 TCP4/TCP6/UNKNOWN, v2 PROXY/LOCAL, split across
writes, followed by pipelined SMTP in the same write) must each get the
220.  Without a header the server must not greet, and must close.

The server does not report client addresses anywhere yet, so these tests
check that the headers are accepted and consumed, not what they carried.
"""

import smtplib
import socket
import struct
import subprocess
import time

import pytest

from interop_helpers import HOST, HAProxy, assert_queued, free_port, greet, need_tool, transaction


@pytest.fixture
def haproxy(tmp_path):
    """haproxy(server_port) -> {'v1': port, 'v2': port} of its frontends."""
    procs = []

    def start(server_port):
        p1, p2 = free_port(), free_port()
        cfg = tmp_path / "haproxy.cfg"
        cfg.write_text(
            "global\n"
            "    maxconn 4000\n"
            "defaults\n"
            "    mode tcp\n"
            "    timeout connect 10s\n"
            "    timeout client 60s\n"
            "    timeout server 60s\n"
            "frontend fe_v1\n"
            "    bind %(h)s:%(p1)d\n"
            "    default_backend be_v1\n"
            "frontend fe_v2\n"
            "    bind %(h)s:%(p2)d\n"
            "    default_backend be_v2\n"
            "backend be_v1\n"
            "    server sink_v1 %(h)s:%(sp)d send-proxy\n"
            "backend be_v2\n"
            "    server sink_v2 %(h)s:%(sp)d send-proxy-v2\n"
            % {"h": HOST, "p1": p1, "p2": p2, "sp": server_port})
        procs.append(HAProxy(cfg, tmp_path / "haproxy.log", (p1, p2)))
        return {"v1": p1, "v2": p2}

    yield start
    for proc in procs:
        proc.stop()
    print(procs[0].output() if procs else "")


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_transaction_through_haproxy(server, haproxy, version):
    srv = server("--proxy-protocol")
    fronts = haproxy(srv.port)
    with smtplib.SMTP(HOST, fronts[version], local_hostname="client.example", timeout=60) as s:
        code, _ = s.ehlo()
        assert code == 250
        refused = s.sendmail("sender@example.com", ["rcpt@example.com"],
                             b"Subject: via haproxy\r\n\r\nHello.\r\n")
        assert refused == {}
        code, _ = s.noop()
        assert code == 250
    p = subprocess.run([need_tool("smtp-source"), "-s", "5", "-m", "200", "-d",
                        "%s:%d" % (HOST, fronts[version])],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    srv.stop()
    assert srv.summary().get("messages") == 201, srv.summary_line()


def v2_header(command=0x1, family=0x11, addresses=None):
    """A PROXY v2 header: signature, version 2 + command, family, length."""
    sig = b"\r\n\r\n\x00\r\nQUIT\n"
    if addresses is None:
        addresses = (socket.inet_aton("192.0.2.1") + socket.inet_aton("127.0.0.1")
                     + struct.pack("!HH", 56324, 25))
    return sig + bytes([0x20 | command, family]) + struct.pack("!H", len(addresses)) + addresses


HEADERS = {
    "v1-tcp4": b"PROXY TCP4 192.0.2.1 127.0.0.1 56324 25\r\n",
    "v1-tcp6": b"PROXY TCP6 2001:db8::1 ::1 56324 25\r\n",
    "v1-unknown": b"PROXY UNKNOWN\r\n",
    "v2-tcp4": v2_header(),
    "v2-tcp6": v2_header(family=0x21, addresses=(
        socket.inet_pton(socket.AF_INET6, "2001:db8::1") + socket.inet_pton(socket.AF_INET6, "::1")
        + struct.pack("!HH", 56324, 25))),
    "v2-local": v2_header(command=0x0, family=0x00, addresses=b""),
}


@pytest.mark.parametrize("kind", sorted(HEADERS))
def test_handwritten_header(server, kind):
    srv = server("--proxy-protocol")
    with srv.wire() as w:
        assert w.nothing_received(0.5), "greeting before the PROXY header: %r" % w.buf
        w.send(HEADERS[kind])
        g, _ = greet(w)
        assert g.lines[-1].startswith("220 smtpsink "), g.raw
        assert_queued(transaction(w))
        w.cmd("QUIT", 221)


def test_header_split_and_pipelined(server):
    """The header in two writes, then SMTP in the same write as its end."""
    srv = server("--proxy-protocol")
    hdr = HEADERS["v1-tcp4"]
    with srv.wire(nodelay=True) as w:
        w.send(hdr[:11])
        time.sleep(0.2)
        assert w.nothing_received(0.2), w.buf
        w.send(hdr[11:] + b"EHLO client.example\r\n")
        w.expect(220)
        w.expect(250)
        assert_queued(transaction(w))
        w.cmd("QUIT", 221)
    with srv.wire(nodelay=True) as w:
        hdr2 = HEADERS["v2-tcp4"]
        w.send(hdr2[:7])
        time.sleep(0.2)
        w.send(hdr2[7:] + b"EHLO client.example\r\n")
        w.expect(220)
        w.expect(250)
        w.cmd("QUIT", 221)


def test_no_header_is_closed(server):
    """A plain SMTP client (no PROXY header) is never greeted; its first
    bytes are not a header, so the server closes the connection."""
    srv = server("--proxy-protocol")
    with srv.wire() as w:
        assert w.nothing_received(0.5), "greeting without a PROXY header: %r" % w.buf
        w.send(b"EHLO client.example\r\n")
        rest = w.read_until_closed(15)
        assert not rest.startswith(b"220") and b"\n250" not in rest, rest
    # The server goes on serving proper connections.
    with srv.wire() as w:
        w.send(HEADERS["v1-tcp4"])
        w.expect(220)
        w.cmd("QUIT", 221)


def test_garbage_header_is_closed(server):
    srv = server("--proxy-protocol")
    for junk in (b"PROXY TCP4 not-an-address\r\n", b"PROXY " + b"9" * 200 + b"\r\n",
                 b"\r\n\r\n\x00\r\nQUIT\n\x99\x11\x00\x0c" + b"\x00" * 12):
        with srv.wire() as w:
            w.send(junk)
            rest = w.read_until_closed(15)
            assert not rest.startswith(b"220"), (junk, rest)


def test_silent_client_times_out(server):
    """No header at all: closed by --timeout, without a greeting."""
    srv = server("--proxy-protocol", "--timeout", "2")
    with srv.wire() as w:
        t0 = time.monotonic()
        rest = w.read_until_closed(20)
        assert time.monotonic() - t0 <= 12
        assert not rest.startswith(b"220"), rest
