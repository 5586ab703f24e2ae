"""What the spool tests share: servers in capture mode, SMTP over a raw
socket, and the check that a spool holds what was acknowledged, read
through spoolfmt.py (test_spool_capture.py, test_spool_crash.py,
test_spool_damage.py, test_spool_retention.py, test_spool_files.py and
tests/hostile import from here).

spoolfmt.py is a second implementation of spool format v1, written from
docs/SPOOL-FORMAT.md: every check reads what the server wrote with it, so
the C encoder, the C decoder and the document are cross-checked.

Owns: the spool_server fixture factory (launch, kill9, stop_clean); MAIL,
RCPT and DATA with dot-stuffing (data_txn, qid_of); check_stored (every
acknowledged message is in the spool once, byte-exact, with its envelope,
and every record verifies); the log lines of recovery (TORN_RE,
CORRUPT_LOG_RE, DAMAGE_LOG_RE); writers that fill a segment or write a few
messages, and flip() to damage a byte.  A test module takes the fixtures
by importing spool_server and _need_spoolfmt (autouse: fails that module's
tests, not the collection, when python3-xxhash is missing).

Does not: hold tests.  The server runs with --max-size 1 MiB and a segment
of 17 MiB (--segment-size 17825792), so segments rotate and get sealed
within seconds.  Only 127.0.0.1 is used.  conftest.py's server fixtures
always pass --discard, so these tests start their own servers
(spool_server below) with conftest's Server class.
"""

import collections
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

import conftest
from interop_helpers import HOST, Wire, free_port, greet, is_listening


try:
    import spoolfmt
except ImportError as _e:  # python3-xxhash is missing: fail these tests, not the suite's collection
    spoolfmt = None
    _SPOOLFMT_ERROR = _e

MAX_SIZE = 1048576
SEGMENT_SIZE = MAX_SIZE + (16 << 20)  # the smallest the server allows
BASE_ARGS = ("--max-size", MAX_SIZE, "--segment-size", SEGMENT_SIZE)
QID_RE = re.compile(r"^250[ ]2\.0\.0 Ok: queued as ([\x21-\x7e]{1,20})$")
TORN_RE = re.compile(r"shard (\d+): (\d{8})\.seg: torn tail after offset (\d+) cut \((\d+) records kept([^)\n]*)\)")
CORRUPT_LOG_RE = re.compile(r"shard (\d+): SPOOL CORRUPTION in (\d{8})\.seg")
DAMAGE_LOG_RE = re.compile(r"shard (\d+): SPOOL DAMAGE in (\d{8})\.seg: (\d+) damaged range\(s\) skipped, "
                           r"(\d+) intact records kept")
REPLY_TIMEOUT = 60.0  # one reply, on a loaded 2-core machine with fdatasync


@pytest.fixture(autouse=True)
def _need_spoolfmt():
    if spoolfmt is None:
        pytest.fail("tests/interop/spoolfmt.py cannot be imported (%s): install python3-xxhash (in "
                    "tools/lib/setup.sh's SETUP_TEST_PACKAGES)" % _SPOOLFMT_ERROR, pytrace=False)


# -- servers ------------------------------------------------------------------
def launch(bin_path, log_dir, spool, extra=(), io="epoll", port=None, index=0):
    """Start smtpsink in capture mode on spool; return a conftest.Server
    once it listens.  A fixed port (restarts) is retried while still busy."""
    for attempt in range(50):
        p = port or free_port()
        argv = [bin_path, "--listen", "%s:%d" % (HOST, p), "--io", io, "--spool", str(spool)]
        argv += [str(a) for a in extra]
        argv = conftest.http_off_unless_asked(argv)
        stderr_path = Path(log_dir) / ("smtpsink-spool-%d-%d.stderr" % (index, attempt))
        with open(stderr_path, "wb") as err, open(os.devnull, "wb") as out:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                    start_new_session=True)
        srv = conftest.Server(argv, HOST, p, proc, stderr_path, io, True)
        deadline = time.monotonic() + conftest.START_TIMEOUT
        while True:
            if proc.poll() is not None:
                if "in use" in srv.stderr().lower() and attempt < 49:
                    time.sleep(0.1)
                    break
                raise AssertionError("smtpsink exited %d before listening: %s\nstderr:\n%s"
                                     % (proc.returncode, " ".join(argv), srv.stderr_tail()))
            line = srv.listening_line()
            if line is not None and is_listening(p):
                assert conftest.BACKEND_WORD[io] in line, (io, line)
                return srv
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                raise AssertionError("smtpsink did not listen within %.0f s: %s\nstderr:\n%s"
                                     % (conftest.START_TIMEOUT, " ".join(argv), srv.stderr_tail()))
            time.sleep(0.01)
    raise AssertionError("could not start smtpsink on port %s" % port)


@pytest.fixture
def spool_server(smtpsink_bin, tmp_path):
    """Factory: spool_server(spool_dir, *extra, io=, port=None) -> Server.

    At teardown every server still running is stopped with SIGTERM and must
    exit 0 with its summary line, except those a test killed on purpose
    (srv.check_exit = False)."""
    started = []

    def start(spool, *extra, io, port=None):
        srv = launch(smtpsink_bin, tmp_path, spool, extra, io=io, port=port, index=len(started))
        started.append(srv)
        return srv

    yield start
    problems = []
    for srv in started:
        if not srv.check_exit:
            if srv.running():
                os.killpg(srv.pid, signal.SIGKILL)
                srv.proc.wait()
            continue
        try:
            srv.stop()
            srv.assert_clean_exit()
        except AssertionError as e:
            problems.append(str(e))
        finally:
            if srv.running():
                os.killpg(srv.pid, signal.SIGKILL)
                srv.proc.wait()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


def kill9(srv):
    """kill -9 the server and reap it."""
    srv.check_exit = False
    os.kill(srv.pid, signal.SIGKILL)
    srv.proc.wait(timeout=30)


def stop_clean(srv):
    """SIGTERM, exit 0, one summary line."""
    srv.stop()
    srv.assert_clean_exit()


# -- SMTP over a raw socket ----------------------------------------------------
def dot_stuff(body):
    """DATA transparency (RFC 5321 4.5.2): a line that starts with "." gets
    another one.  Lines start only after CRLF (a bare LF does not start a
    line for the server either)."""
    return b"\r\n".join(b"." + ln if ln.startswith(b".") else ln for ln in body.split(b"\r\n"))


def qid_of(reply):
    m = QID_RE.match(reply.lines[-1]) if reply.code == 250 else None
    assert m, "expected '250 2.0.0 Ok: queued as <ID>', got %r" % reply.raw
    return m.group(1)


def data_txn(w, sender, rcpts, body, mail_params="", rcpt_params=None):
    """MAIL, RCPT..., DATA, the dot-stuffed body and "."; return the final
    reply.  body must be empty or end with CRLF (it is stored as given)."""
    w.cmd("MAIL FROM:<%s>%s" % (sender, " " + mail_params if mail_params else ""), 250)
    for i, r in enumerate(rcpts):
        p = rcpt_params[i] if rcpt_params else ""
        w.cmd("RCPT TO:<%s>%s" % (r, " " + p if p else ""), 250)
    w.cmd("DATA", 354)
    w.send(dot_stuff(body) + b".\r\n")
    return w.reply(REPLY_TIMEOUT)


def local_port(w):
    return w.sock.getsockname()[1]


# -- checking the spool ----------------------------------------------------------
def first_difference(a, b):
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def body_mismatch(got, want):
    i = first_difference(got, want)
    return ("body differs: stored %d bytes, sent %d; first difference at byte %d: stored %r, "
            "sent %r" % (len(got), len(want), i, got[max(0, i - 20):i + 40], want[max(0, i - 20):i + 40]))


def record_problems(spool_dir, live=False):
    """spoolfmt.verify() without the index problems (test_sealed_index_...
    checks those on their own, so one index bug does not hide every other
    result)."""
    return [p for p in spoolfmt.verify(str(spool_dir), live=live) if not p["kind"].startswith("index")]


def spool_by_qid(spool_dir, include_corrupt=False):
    recs = spoolfmt.read_spool(str(spool_dir), include_corrupt=include_corrupt)
    by = collections.defaultdict(list)
    for r in recs:
        by[r["qid"]].append(r)
    return recs, by


def check_stored(spool_dir, expected, exact=True, t0_us=None, t1_us=None):
    """Every expected message (dicts with qid, body and optionally envelope
    keys, flags_set, flags_clear, client_port) is in the spool exactly once,
    byte-exact; no queue ID is stored twice; every record verifies.  exact:
    the spool holds nothing else."""
    recs, by = spool_by_qid(spool_dir)
    dups = {q: [(r["file"], r["offset"]) for r in v] for q, v in by.items() if len(v) > 1}
    assert not dups, "queue IDs stored more than once: %r" % dups
    errors = []
    for exp in expected:
        got = by.get(exp["qid"])
        if not got:
            errors.append("%s: acknowledged with 250 but not in the spool" % exp["qid"])
            continue
        r = got[0]
        where = "%s (%s @%d)" % (exp["qid"], r["file"], r["offset"])
        if r["body"] != exp["body"]:
            errors.append("%s: %s" % (where, body_mismatch(r["body"], exp["body"])))
        for key in ("mail_from", "rcpts", "rcpt_params", "mail_params", "helo", "protocol", "auth_user"):
            if key in exp and r[key] != exp[key]:
                errors.append("%s: %s stored %r, sent %r" % (where, key, r[key], exp[key]))
        for f in exp.get("flags_set", ()):
            if not r["flags"] & f:
                errors.append("%s: flag %#x not set (flags %#x)" % (where, f, r["flags"]))
        for f in exp.get("flags_clear", ()):
            if r["flags"] & f:
                errors.append("%s: flag %#x set (flags %#x)" % (where, f, r["flags"]))
        if "client_port" in exp:
            c = r["client"]
            if (c["family"], c["addr"], c["port"]) != (4, HOST, exp["client_port"]):
                errors.append("%s: client %r, expected 4/%s/%d" % (where, c, HOST, exp["client_port"]))
        parsed = spoolfmt.parse_qid(r["qid"])
        if parsed is None:
            errors.append("%s: queue ID does not parse" % where)
        else:
            t, node, shard = parsed
            if (node, shard) != (r["node"], r["shard"]) or Path(r["file"]).parent.name != "shard-%02d" % shard:
                errors.append("%s: queue ID says node %d shard %d; record node %d shard %d in %s"
                              % (where, node, shard, r["node"], r["shard"], r["file"]))
            if not r["received_us"] <= t < r["received_us"] + 10_000_000:
                errors.append("%s: queue ID time %d vs received %d" % (where, t, r["received_us"]))
        if t0_us is not None and not t0_us <= r["received_us"] <= t1_us:
            errors.append("%s: received_us %d outside the test [%d, %d]" % (where, r["received_us"], t0_us, t1_us))
    if exact:
        extra = set(by) - {e["qid"] for e in expected}
        if extra:
            errors.append("records for queue IDs never acknowledged: %s" % sorted(extra)[:20])
    probs = record_problems(spool_dir)
    errors += ["spoolfmt: %s @%d: %s: %s" % (p["file"], p["offset"], p["kind"], p["detail"]) for p in probs]
    assert not errors, "%d problems:\n%s" % (len(errors), "\n".join(errors[:50]))
    return recs


# -- filling and damaging a spool ------------------------------------------------
def fill_segment(port, n):
    """n messages of ~900 KB on one connection: 19 fill a 17 MiB segment."""
    out = []
    part = b"y" * 78 + b"\r\n"
    with Wire(HOST, port, timeout=REPLY_TIMEOUT) as w:
        greet(w)
        for i in range(n):
            body = b"X-N: %d\r\n\r\n" % i + part * 11250
            out.append({"qid": qid_of(data_txn(w, "rot@example.com", ["r@example.com"], body)), "body": body})
        w.cmd("QUIT", 221)
    return out


def write_messages(port, n):
    out = []
    with Wire(HOST, port, timeout=REPLY_TIMEOUT) as w:
        greet(w)
        for i in range(n):
            body = (b"Subject: flip %d\r\n\r\n" % i) + b"".join(b"line %d of %d: %s\r\n" % (j, i, b"z" * 40)
                                                                for j in range(40))
            out.append({"qid": qid_of(data_txn(w, "flip@example.com", ["r%d@example.com" % i], body)),
                        "body": body})
        w.cmd("QUIT", 221)
    return out


def flip(path, off):
    with open(path, "r+b") as f:
        f.seek(off)
        b = f.read(1)
        f.seek(off)
        f.write(bytes([b[0] ^ 0x40]))
