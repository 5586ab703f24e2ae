"""Sizes and durations with units on the server's command line, through the
real binary (the parser's boundaries are unit-tested in tests/cli).

A size takes K, M, G, T (or KiB, ...: powers of 1024) and a duration ms, s,
m, h, d; a plain number keeps its unit.  The value must reach the server:
--max-size 1M is what EHLO advertises, --timeout 2s is when the 421 comes.
What cannot be taken (500ms for a whole-seconds option, a size past 64 bits)
stops the start with exit 2 and a line naming the option.
"""

import subprocess
import time

from interop_helpers import HOST, Wire, free_port, greet, is_listening, wait_for

TIMEOUT_421 = "421 4.4.2 smtpsink Error: timeout exceeded"


def test_units_reach_the_server(any_server):
    srv = any_server("--max-size", "1M", "--timeout", "2s", "--idle-gap", "1.5s")
    with srv.wire() as w:
        _, ehlo = greet(w)
        assert "250-SIZE 1048576" in ehlo.lines, ehlo.raw
        t0 = time.monotonic()
        r = w.reply(timeout=20)
        elapsed = time.monotonic() - t0
        assert r.lines[-1] == TIMEOUT_421, r.raw
        assert 1.0 <= elapsed <= 8.0, "421 after %.2f s with --timeout 2s" % elapsed


def _refused(smtpsink_bin, *args):
    p = subprocess.run([str(smtpsink_bin), "--discard", *args], capture_output=True, text=True, timeout=30)
    assert p.returncode == 2, (p.returncode, p.stderr)
    return p.stderr


def test_units_refused(smtpsink_bin):
    assert "smtpsink: --timeout 500ms: not a whole number of seconds" in _refused(smtpsink_bin, "--timeout", "500ms")
    assert "smtpsink: --max-size 16777216T: out of range" in _refused(smtpsink_bin, "--max-size", "16777216T")
    assert "--idle-gap 2x: not a duration" in _refused(smtpsink_bin, "--idle-gap", "2x")


def test_max_size_with_a_spool(smtpsink_bin, any_server, tmp_path):
    """A record is written in one piece: with a spool --max-size stops at 1G;
    --discard stores nothing and takes any size."""
    p = subprocess.run([str(smtpsink_bin), "--spool", str(tmp_path / "s"), "--max-size", "2G", "--segment-size",
                        "4G"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "--max-size is at most 1G with a spool" in p.stderr, (p.returncode, p.stderr)
    assert not (tmp_path / "s").exists()
    srv = any_server("--max-size", "2G")
    with srv.wire() as w:
        _, ehlo = greet(w)
        assert "250-SIZE 2147483648" in ehlo.lines, ehlo.raw


def test_help_says_so(smtpsink_bin):
    p = subprocess.run([str(smtpsink_bin), "--help"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0
    assert "--max-size BYTES" in p.stdout and "(default 50M)" in p.stdout, p.stdout
    assert "--timeout SECS" in p.stdout and "(default 5m)" in p.stdout, p.stdout
    assert "BYTES: a number of bytes, or with K, M, G, T" in p.stdout, p.stdout
    assert "SECS, MS: a number of seconds (milliseconds), or with ms, s, m, h, d" in p.stdout, p.stdout


def test_listen_host_name(smtpsink_bin):
    """--listen localhost:PORT listens on every address the name resolves
    to (127.0.0.1 here); a name that does not resolve stops the start."""
    port = free_port()
    p = subprocess.Popen([str(smtpsink_bin), "--discard", "--listen", "localhost:%d" % port],
                         stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: is_listening(port), 10, what="the server to listen on localhost")
        with Wire(HOST, port) as w:
            assert w.reply(10).code == 220
            w.cmd("QUIT", 221)
    finally:
        p.terminate()
        _, err = p.communicate(timeout=30)
    assert "listening on localhost:%d (127.0.0.1)" % port in err, err
    assert "cannot resolve the host name" in _refused(smtpsink_bin, "--listen", "no-such-host.invalid:25")
