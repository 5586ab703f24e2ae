"""Exclusive instances (issue 12, "Two servers on one spool", "A second server
on the same address").

A spool directory belongs to one server at a time and a listen address to
one process: a second smtpsink on the same --spool, TCP address or unix:
path must exit 1 at start-up (naming the first server's PID, or saying
"address in use"), and the first one must go on serving every client on its
address and keep every message it acknowledged.  A stale unix socket left by
a server killed with SIGKILL must not stop the next one.

What is not assumed: the wording beyond those words, or which of the two
conflicts a server reports first when both the spool and the address are
taken (either message is accepted there).
"""

import os
import re
import signal
import socket
import time

import pytest

import hostile_helpers as hh
from interop_helpers import HOST, Wire, greet, transaction

SECOND_EXIT_S = 20.0  # a refused second server exits within this
IN_USE_RE = re.compile(r"address (already )?in use", re.I)


def second_server(start, *extra, listen=None, discard=True):
    """Start a second server that must refuse to run; return it after it
    exited (exit status in .returncode, stderr in .stderr()).  Fails as soon
    as it says it is listening."""
    srv = start(*extra, listen=listen, discard=discard, wait=False, check_exit=False)
    deadline = time.monotonic() + SECOND_EXIT_S
    while srv.proc.poll() is None:
        started = srv.listening_line() is not None
        if started or time.monotonic() > deadline:
            srv.proc.kill()
            srv.proc.wait()
            raise AssertionError("a second smtpsink (%s) %s: it must refuse to start.  stderr:\n%s" % (
                " ".join(srv.argv), "started listening" if started else
                "was still running %.0f s after it started" % SECOND_EXIT_S, srv.stderr_tail()))
        time.sleep(0.02)
    srv.returncode = srv.proc.returncode
    return srv


def send_messages(port, n, tag):
    """n transactions on one connection; their queue IDs and bodies."""
    out = {}
    with Wire(HOST, port, timeout=30) as w:
        greet(w)
        for i in range(n):
            body = b"Subject: %s %d\r\n\r\nbody of %s %d\r\n" % (tag.encode(), i, tag.encode(), i)
            out[hh.qid_of(transaction(w, body=body))] = body
        w.cmd("QUIT", 221)
    return out


def names_pid(text, pid):
    return re.search(r"(?<![0-9])%d(?![0-9])" % pid, text) is not None


def test_second_server_on_same_spool_exits(any_server, tools, tmp_path):
    spool = tmp_path / "spool"
    first = any_server("--spool", spool, discard=False)
    sent = send_messages(first.port, 5, "before")
    second = second_server(any_server, "--spool", spool, discard=False)  # another free port
    err = second.stderr()
    assert second.returncode == 1, "second server on the same spool: exit %s (expected 1)\n%s" % (
        second.returncode, err)
    assert names_pid(err, first.pid), "the refusal must name the owner's PID %d:\n%s" % (first.pid, err)
    sent.update(send_messages(first.port, 5, "after"))
    assert first.running(), "the first server stopped:\n%s" % first.stderr_tail()
    first.stop()
    first.assert_clean_exit()
    listed = hh.spool_ls(tools, spool)
    missing = sorted(set(sent) - set(listed))
    assert not missing, "acknowledged messages missing from the spool: %s" % missing
    for qid, body in sent.items():
        got = hh.run_tool(tools["spool"], "--spool", spool, "cat", qid, check=0).stdout
        assert got == body, "%s altered: %r" % (qid, got[:200])
    hh.run_tool(tools["spool"], "--spool", spool, "verify", check=0)


@pytest.mark.parametrize("spools", ["discard", "other-spools", "same-spool"])
def test_second_server_on_same_tcp_address_exits(any_server, tmp_path, spools):
    """Both with --discard, each with its own spool, or sharing one (then
    either conflict may be the one reported)."""
    a_args, b_args, discard = (), (), True
    if spools != "discard":
        discard = False
        a_args = ("--spool", tmp_path / "spool-a")
        b_args = ("--spool", tmp_path / ("spool-a" if spools == "same-spool" else "spool-b"))
    first = any_server(*a_args, discard=discard)
    addr = "%s:%d" % (HOST, first.port)
    second = second_server(any_server, *b_args, listen=[addr], discard=discard)
    err = second.stderr()
    assert second.returncode == 1, "second server on %s: exit %s (expected 1)\n%s" % (addr, second.returncode, err)
    if spools == "same-spool":
        assert IN_USE_RE.search(err) or names_pid(err, first.pid), err
    else:
        assert IN_USE_RE.search(err), "the refusal must say 'address in use':\n%s" % err
    # Every client on the address is served by the first server.
    for i in range(20):
        with Wire(HOST, first.port, timeout=10) as w:
            greet(w)
            w.cmd("QUIT", 221)
    first.stop()
    first.assert_clean_exit()
    assert first.summary().get("connections", 0) >= 20, first.summary_line()


def unix_wire(path, timeout=10):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(str(path))
    return Wire(sock=s, timeout=timeout)


def test_second_server_on_same_unix_path_exits(any_server, tmp_path):
    path = tmp_path / "smtp.sock"
    first = any_server(listen=["unix:%s" % path])
    with unix_wire(path) as w:
        greet(w)
    second = second_server(any_server, listen=["unix:%s" % path])
    err = second.stderr()
    assert second.returncode == 1, "second server on unix:%s: exit %s (expected 1)\n%s" % (
        path, second.returncode, err)
    assert IN_USE_RE.search(err), "the refusal must say 'address in use':\n%s" % err
    assert path.is_socket(), "the first server's socket file is gone"
    with unix_wire(path) as w:
        g, _ = greet(w)
        w.cmd("QUIT", 221)
    first.stop()
    first.assert_clean_exit()
    assert first.summary().get("connections", 0) >= 2, "the first server did not serve its socket: %s" % (
        first.summary_line())


def test_stale_unix_socket_does_not_block_start(any_server, tmp_path):
    path = tmp_path / "smtp.sock"
    dead = any_server(listen=["unix:%s" % path], check_exit=False)
    os.kill(dead.pid, signal.SIGKILL)
    dead.proc.wait(timeout=10)
    assert path.is_socket(), "kill -9 left no socket file: nothing to test"
    fresh = any_server(listen=["unix:%s" % path])
    with unix_wire(path) as w:
        greet(w)
        w.cmd("QUIT", 221)
    assert fresh.running()
