"""systemd's notification protocol from the real server (io/sd_notify.c).

Owns: with NOTIFY_SOCKET naming a datagram socket the test listens on (a
path, and an abstract "@name"), the server's first message is READY=1 with a
STATUS naming its listeners, and it arrives only once the SMTP port
listens and answers (and the HTTP port too, when the API is on); SIGTERM
brings STOPPING=1 before the server exits 0; a NOTIFY_SOCKET nobody listens
on is reported and changes nothing else.  This is what `Type=notify` in
packaging/smtpsink.service relies on.  Does not run systemd (it is not PID 1
on the test machines); the protocol is the same datagram either way.
"""

import os
import socket
import time

from interop_helpers import free_port, is_listening

NOTIFY_TIMEOUT = 20.0  # seconds until READY=1 on a loaded machine


def notify_listener(where):
    """A datagram socket bound to where (a path, or '@name'); its NOTIFY_SOCKET value too."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind("\0" + where[1:] if where.startswith("@") else where)
    return s, where


def receive(sock, timeout=NOTIFY_TIMEOUT):
    """One notification as a dict of its KEY=VALUE lines."""
    sock.settimeout(timeout)
    data = sock.recv(65536).decode()
    return dict(line.split("=", 1) for line in data.split("\n"))


def start_notified(server, where, *extra, discard=True):
    sock, value = notify_listener(where)
    env = dict(os.environ, NOTIFY_SOCKET=value)
    srv = server(*extra, wait=False, env=env, discard=discard)
    return srv, sock


def check_ready_then_stopping(srv, sock, http_port=None):
    msg = receive(sock)
    # READY=1 means the ports answer now, not soon
    assert msg.get("READY") == "1", msg
    assert is_listening(srv.port), "READY=1 before port %d listens" % srv.port
    w = srv.wire()
    w.expect(220)
    w.cmd("QUIT", 221)
    w.close()
    if http_port is not None:
        assert is_listening(http_port), "READY=1 before the HTTP API listens"
    assert msg["STATUS"].startswith("listening on 127.0.0.1:%d (" % srv.port), msg
    assert srv.listening_line() is not None  # printed before READY=1 was sent

    srv.send_signal(15)
    msg = receive(sock)
    assert msg.get("STOPPING") == "1", msg
    assert msg["STATUS"].startswith("draining"), msg
    assert srv.wait() == 0, srv.stderr_tail()
    sock.settimeout(0.2)
    try:
        extra = sock.recv(65536)
    except socket.timeout:
        extra = None
    assert extra is None, "a notification after STOPPING=1: %r" % extra


def test_ready_and_stopping_path_socket(server, tmp_path):
    srv, sock = start_notified(server, str(tmp_path / "notify"))
    with sock:
        check_ready_then_stopping(srv, sock)


def test_ready_waits_for_http_abstract_socket(server, tmp_path):
    http_port = free_port()
    where = "@smtpsink-test-%d-%d" % (os.getpid(), time.monotonic_ns())
    srv, sock = start_notified(server, where, "--http", "127.0.0.1:%d" % http_port,
                               "--spool", tmp_path / "spool", discard=False)
    with sock:
        check_ready_then_stopping(srv, sock, http_port)


def test_nobody_listening_is_reported(server, tmp_path):
    env = dict(os.environ, NOTIFY_SOCKET=str(tmp_path / "nobody"))
    srv = server(env=env)
    w = srv.wire()
    w.expect(220)
    w.cmd("QUIT", 221)
    w.close()
    deadline = time.monotonic() + 10
    while "NOTIFY_SOCKET" not in srv.stderr() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert "smtpsink: NOTIFY_SOCKET: No such file or directory" in srv.stderr(), srv.stderr_tail()
