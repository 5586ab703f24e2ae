"""The io_uring -> epoll fallback, tested for real under a seccomp filter.

no_uring (no_uring.c) runs the server with io_uring_setup/enter/register
failing with EPERM, as Docker's default seccomp profile does.  Then:
  --io auto   prints one "falling back to epoll" line and serves on epoll;
  --io uring  exits non-zero, saying why;
  --sqpoll    (with --io auto) the same: a polled ring was asked for;
  --io epoll  serves, with no fallback line.
These tests choose --io themselves, so they are not parametrized by backend.

The launcher comes from env NO_URING_BIN (meson sets it); without it, it is
compiled here from no_uring.c with cc, so the suite also runs outside meson.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from interop_helpers import free_port, full_session, io_uring_probe

HERE = Path(__file__).resolve().parent
FALLBACK = "falling back to epoll"

PROBE = ("import ctypes, os\n"
         "libc = ctypes.CDLL(None, use_errno=True)\n"
         "fd = libc.syscall(425, 1, ctypes.create_string_buffer(120))\n"
         "print('fd' if fd >= 0 else os.strerror(ctypes.get_errno()))\n")


@pytest.fixture(scope="session")
def no_uring(tmp_path_factory):
    path = os.environ.get("NO_URING_BIN")
    if path:
        if not os.access(path, os.X_OK):
            pytest.fail("NO_URING_BIN=%s is not an executable" % path, pytrace=False)
        return path
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        pytest.fail("no C compiler to build tests/interop/no_uring.c (or set NO_URING_BIN)",
                    pytrace=False)
    out = str(tmp_path_factory.mktemp("no_uring") / "no_uring")
    p = subprocess.run([cc, "-O2", "-Wall", "-o", out, str(HERE / "no_uring.c")],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, "building no_uring failed:\n" + p.stderr
    return out


def test_launcher_blocks_io_uring(no_uring):
    """The launcher itself: io_uring_setup fails with EPERM under it."""
    p = subprocess.run([no_uring, sys.executable, "-c", PROBE], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == os.strerror(1), p.stdout  # EPERM
    p = subprocess.run([no_uring, "/nonexistent/program"], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 127, (p.returncode, p.stderr)


def fallback_lines(srv):
    return [ln for ln in srv.stderr_lines() if FALLBACK in ln]


def test_auto_falls_back_to_epoll(any_server, no_uring):
    srv = any_server(io="auto", wrapper=[no_uring])
    assert len(fallback_lines(srv)) == 1, \
        "expected one line with %r, stderr:\n%s" % (FALLBACK, srv.stderr_tail())
    line = srv.listening_line()
    assert "epoll" in line, line
    for _ in range(3):
        full_session(srv.host, srv.port)
    srv.stop()
    assert srv.summary().get("messages") == 3, srv.summary_line()


@pytest.mark.parametrize("args, says", [(["--io", "uring"], "io_uring"),
                                         (["--sqpoll"], "--sqpoll: the kernel refused a polled io_uring")])
def test_uring_required_fails_clearly(smtpsink_bin, no_uring, args, says):
    port = free_port()
    argv = [no_uring, smtpsink_bin, "--discard", *args, "--listen", "127.0.0.1:%d" % port]
    try:
        p = subprocess.run(argv, capture_output=True, text=True, errors="replace", timeout=30,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise AssertionError("%s without io_uring did not exit within 30 s" % args) from None
    assert p.returncode != 0, "%s without io_uring exited 0:\n%s" % (args, p.stderr)
    assert says in p.stderr, "the error does not say %r:\n%s" % (says, p.stderr)
    assert "listening on" not in p.stderr, p.stderr
    assert FALLBACK not in p.stderr, "%s must not fall back:\n%s" % (args, p.stderr)


def test_epoll_under_seccomp(any_server, no_uring):
    srv = any_server(io="epoll", wrapper=[no_uring])
    assert not fallback_lines(srv), srv.stderr_tail()
    full_session(srv.host, srv.port)


def test_auto_prefers_io_uring(any_server):
    reason = io_uring_probe()
    if reason is not None:
        pytest.skip("io_uring unavailable here (%s)" % reason)
    srv = any_server(io="auto")
    assert not fallback_lines(srv), srv.stderr_tail()
    assert "io_uring" in srv.listening_line(), srv.listening_line()
    full_session(srv.host, srv.port)
