"""Disk faults never yield a 250 and never stop capture for good (issue 12,
"Disk faults stop capture for good").

The spool lies on faultfs (tests/hostile/faultfs.c), a FUSE passthrough over
a plain directory that fails chosen calls with EIO:
  - steady faults: once the server is up, 20 % of fsyncs and 2 % of writes
    fail.  A client sends a message every 40 ms or so for 15 s (300+),
    recording every reply.  The server must never exit; every failure at
    the end of data is 451 4.3.0 (a refused MAIL while no segment is open
    is any 4xx); never a 5xx; it keeps accepting after failures: at least
    HEALTHY (half) of the messages of the second half get 250.  Each
    message is its own batch (one write, one fdatasync), so if only the
    affected transactions fail, as the issue asks, about 78 % get 250; half
    leaves room for segment rotations (whose fsyncs fail too), not for
    seconds of 4xx after every fault (the build of d3e6f9b, which retries a
    failed segment creation once a second, gets 25-40 %; a528b8f answered
    4xx to everything after two failed creations).  Then the server is
    stopped, faultfs unmounted, and a server is started on the underlying
    directory: every message that got 250 is there, byte-exact (through
    smtpsink-spool export --eml), and the restarted server takes mail.
  - a transient EIO while the very first segment is created (its create,
    fallocate, header write or fsync, once) must not make the server exit:
    it starts, answers 4xx at most until a segment opens, then 250.
faultfs's own counters prove the faults were injected.
"""

import time

import pytest

import hostile_helpers as hh
from interop_helpers import HOST, Wire, WireClosed, WireTimeout, greet

DURATION_S = 15.0
PACE_S = 0.04
HEALTHY = 0.5
FIRST_SEGMENT_S = 20.0


class Sender:
    """One message after another on one connection (reconnecting when the
    server closes it); every outcome recorded."""

    def __init__(self, port):
        self.port = port
        self.w = None
        self.log = []  # (stage, reply or None, qid, body)

    def _wire(self):
        if self.w is None:
            self.w = Wire(HOST, self.port, timeout=30)
            greet(self.w)
        return self.w

    def close(self):
        if self.w is not None:
            self.w.close()
            self.w = None

    def send(self, n):
        body = b"Subject: disk fault %d\r\n\r\n" % n + (b"line %d of a message on a failing disk\r\n" % n) * 20
        try:
            w = self._wire()
            for stage, line, code in (("MAIL", "RSET", 250), ("MAIL", "MAIL FROM:<f@example.com>", 250),
                                      ("RCPT", "RCPT TO:<r@example.com>", 250), ("DATA", "DATA", 354)):
                r = w.cmd(line)
                if r.code != code:
                    self.log.append((stage, r, None, body))
                    return
            w.send(body + b".\r\n")
            r = w.reply()
            self.log.append(("dot", r, hh.qid_of(r) if r.code == 250 else None, body))
        except (WireClosed, WireTimeout, ConnectionResetError, BrokenPipeError) as e:
            self.log.append(("closed", None, None, str(e)[:200]))
            self.close()


def check_replies(log):
    """Failures at the end of data are 451 4.3.0, elsewhere 4xx; never 5xx."""
    for stage, r, qid, _ in log:
        if r is None or qid is not None:
            continue
        assert 400 <= r.code < 500, "a disk fault must give a 4xx, never %r (at %s)" % (r.raw, stage)
        if stage == "dot":
            assert r.lines[-1].startswith("451 4.3.0"), "end of data on a failed write/sync: %r" % r.raw


def check_intact(tools, spool, acked, tmp_path):
    out = tmp_path / "eml"
    hh.run_tool(tools["spool"], "--spool", spool, "export", "--eml", out, "--quiet", timeout=120)
    lost = [q for q in acked if not (out / ("%s.eml" % q)).exists()]
    assert not lost, "%d of %d messages answered 250 are missing after the restart: %s" % (
        len(lost), len(acked), lost[:10])
    bad = [q for q, body in acked.items() if (out / ("%s.eml" % q)).read_bytes() != body]
    assert not bad, "messages answered 250 are altered: %s" % bad[:10]


def restart_and_check(any_server, tools, spool, acked, tmp_path):
    srv = any_server("--spool", spool, "--shards", 1, discard=False)
    with Wire(HOST, srv.port, timeout=30) as w:
        greet(w)
        s = Sender(srv.port)
        s.w = w
        s.send(10**6)
        assert s.log[-1][2] is not None, "the restarted server refuses mail: %r" % (s.log[-1],)
        acked[s.log[-1][2]] = s.log[-1][3]
        w.cmd("QUIT", 221)
    srv.stop()
    srv.assert_clean_exit()
    check_intact(tools, spool, acked, tmp_path)


def test_steady_disk_faults(faultfs, any_server, tools, tmp_path, figures):
    fs = faultfs(tmp_path / "under", tmp_path / "mnt", seed=12)
    srv = any_server("--spool", tmp_path / "mnt" / "spool", "--shards", 1, discard=False)
    fs.set(fsync_eio=0.2, write_eio=0.02)
    sender = Sender(srv.port)
    t0 = time.monotonic()
    n = 0
    died = None
    while time.monotonic() - t0 < DURATION_S:
        n += 1
        start = time.monotonic()
        sender.send(n)
        if not srv.running():
            died = n
            break
        time.sleep(max(0.0, PACE_S - (time.monotonic() - start)))
    sender.close()
    counters = fs.counters()
    fs.set(fsync_eio=0, write_eio=0)
    log = sender.log
    acked = {qid: body for _, _, qid, body in log if qid is not None}
    half = log[len(log) // 2:]
    later = sum(1 for e in half if e[2] is not None)
    figures("disk faults (fsync 20 %%, write 2 %% EIO): %d messages in %.0f s, %d answered 250, %d of the second "
            "half; faultfs failed %d of %d fsyncs, %d of %d writes" % (
                len(log), DURATION_S, len(acked), later, counters["fsync_failed"], counters["fsync_calls"],
                counters["write_failed"], counters["write_calls"]))
    assert died is None, "the server exited at message %d (exit %s):\n%s" % (died, srv.proc.poll(),
                                                                              srv.stderr_tail())
    assert counters["fsync_failed"] >= 5, "too few faults were injected to test anything: %r" % counters
    assert len(log) >= 300, "only %d messages in %.0f s" % (len(log), DURATION_S)
    check_replies(log)
    assert any(e[0] == "dot" and e[2] is None for e in log), "no end of data was refused: the faults missed"
    assert later >= HEALTHY * len(half), "only %d of the last %d messages got 250: capture does not recover " \
        "from disk faults" % (later, len(half))
    srv.stop()
    srv.assert_clean_exit()
    fs.unmount()
    restart_and_check(any_server, tools, tmp_path / "under" / "spool", acked, tmp_path)


@pytest.mark.parametrize("op", ["create", "fallocate", "write", "fsync"])
def test_transient_fault_creating_first_segment(faultfs, any_server, tools, tmp_path, op):
    """The fault hits files named by a segment number (match 0*: the
    segment, whatever its temporary name, not a lock file), once."""
    fs = faultfs(tmp_path / "under", tmp_path / "mnt", seed=3, match="0*", **{"fail_" + op: 1})
    srv = any_server("--spool", tmp_path / "mnt" / "spool", "--shards", 1, discard=False)
    sender = Sender(srv.port)
    deadline = time.monotonic() + FIRST_SEGMENT_S
    n = 0
    while not any(e[2] for e in sender.log):
        assert srv.running(), "the server exited:\n%s" % srv.stderr_tail()
        assert time.monotonic() < deadline, "no message accepted %.0f s after one failed %s: %r" % (
            FIRST_SEGMENT_S, op, [(e[0], e[1].raw if e[1] else e[3]) for e in sender.log[-3:]])
        n += 1
        sender.send(n)
        if not sender.log[-1][2]:
            time.sleep(0.2)
    sender.close()
    counters = fs.counters()
    if op == "fallocate" and counters["fallocate_calls"] == 0:
        pytest.skip("this server does not fallocate segments: no fallocate fault to inject")
    assert counters[op + "_failed"] == 1, "the fault was not injected (no %s on a file named 0*): %r" % (
        op, counters)
    check_replies(sender.log)
    srv.stop()
    srv.assert_clean_exit()
    fs.unmount()
    acked = {qid: body for _, _, qid, body in sender.log if qid}
    restart_and_check(any_server, tools, tmp_path / "under" / "spool", acked, tmp_path)
