"""Bounded memory whatever clients send (issue 12, "Message content is held
whole in memory").

Capture mode with --memory-limit: many sessions each send MAIL, RCPT, DATA
and then push message content as fast as the server reads it, never the
final dot (up to 40 MiB a session, TOTAL bytes in all, so the disk written
stays around a GB whatever the server does with it).  Meanwhile an honest
client on its own connection runs full transactions, one every 0.2 s, and
each must be answered 250 within a second.  At the end the server is alive
(no OOM kill), still answers a new session, its peak RSS (VmHWM) stayed
under the budget plus ALLOWANCE, and the spool lists exactly the honest
messages, byte-exact: no flood content became a message, nothing answered
250 is missing.

  - in a 512 MiB memory cgroup (v1 or v2; skipped where none can be made):
    1,000 sessions, --memory-limit 256M, io_uring;
  - without a cgroup, smaller: 200 sessions, --memory-limit 64M, epoll.

ALLOWANCE (96 MiB) is what a server needs beyond the bytes it holds for
clients, and is independent of the number of sessions pushing content:
receive buffers (2 shards x 2,048 x 8 KiB = 32 MiB, all touched under this
load), per-session state (1,000 x ~16 KiB = 16 MiB: connection, protocol
session, output buffer, line carry), allocator slack, thread stacks and the
binary (~7 MiB at start), with the rest as margin for a loaded 2-core box.
"""

import shutil
import time

import hostile_helpers as hh
from hostile_helpers import MIB
from interop_helpers import Wire, WireClosed, WireTimeout, greet

ALLOWANCE = 96 * MIB
SESSION_BYTES = 40 * MIB
ANSWER_S = 1.0  # each honest transaction, MAIL to the 250
HONEST_GAP_S = 0.2


def honest_while(srv, seconds, sample):
    """Honest transactions on one connection for `seconds`; [(Timed, reply,
    body)].  sample() runs between them (RSS readings).  Stops early if the
    connection fails (the server died or closed it)."""
    out = []
    end = time.monotonic() + seconds
    try:
        w = Wire(srv.host, srv.port, timeout=10, nodelay=True)
    except OSError:
        return [(None, None, None)]  # the server is gone
    with w:
        greet(w, "honest.example")
        n = 0
        while time.monotonic() < end:
            n += 1
            try:
                t, r, body = hh.honest_transaction(w, n, timeout=5)
            except (WireTimeout, WireClosed, OSError) as e:
                out.append((getattr(e, "timed", None), None, None))
                break
            out.append((t, r, body))
            if r.code != 250:
                break
            sample()
            time.sleep(HONEST_GAP_S)
    return out


def attack(srv, flood, tools, spool, figures, what, sessions, total, seconds, budget, cgroup=None):
    peak_rss = [0]

    def sample():
        if srv.running():
            peak_rss[0] = max(peak_rss[0], hh.proc_status(srv.pid).get("VmRSS", 0))

    f = flood(srv.port, "data", sessions, session_bytes=SESSION_BYTES, total_bytes=total, duration=seconds + 30,
              connect_timeout=30)
    ready, failed = f.ready(timeout=60)
    honest = honest_while(srv, seconds, sample)
    alive = srv.running()
    status = hh.proc_status(srv.pid) if alive else {}
    oom = cgroup.oom_kills() if cgroup else 0
    after = hh.honest_session(srv.host, srv.port, timeout=5) if alive else (None, None)
    result = f.stop()
    slow = [(i, t) for i, (t, r, _) in enumerate(honest) if r is None or r.code != 250 or t.total > ANSWER_S]
    figures("memory (%s): %d sessions (%d set up) pushed %d MiB of unfinished DATA; peak RSS %s MiB (budget %d + "
            "%d); %d honest transactions, worst %s ms%s" % (
                what, sessions, ready, result["bytes_sent"] >> 20,
                status.get("VmHWM", 0) >> 20 if alive else "?", budget >> 20, ALLOWANCE >> 20, len(honest),
                "%.0f" % (max((t.total for t, r, _ in honest if t), default=0) * 1000),
                "; cgroup peak %d MiB, limit hits %d" % ((cgroup.peak_bytes() or 0) >> 20, cgroup.limit_hits())
                if cgroup else ""))

    assert alive and oom == 0, "the server died (exit %s, OOM kills in its cgroup: %d) under %d sessions of " \
        "unfinished DATA.  stderr:\n%s" % (srv.proc.poll(), oom, sessions, srv.stderr_tail())
    assert after[1] is not None and after[1].code == 250, "after the attack a new session fails: %s" % (after[0],)
    assert honest and not slow, "honest transactions not answered 250 within %.0f s: %s" % (
        ANSWER_S, "; ".join("#%d %r" % (i, t) for i, t in slow[:5]))
    assert status["VmHWM"] <= budget + ALLOWANCE, "peak RSS %d MiB over the budget %d MiB + %d MiB" % (
        status["VmHWM"] >> 20, budget >> 20, ALLOWANCE >> 20)
    srv.stop()
    srv.assert_clean_exit()
    acked = {hh.qid_of(r): body for t, r, body in honest}
    acked[hh.qid_of(after[1])] = None
    listed = hh.spool_ls(tools, spool)
    assert set(listed) == set(acked), "the spool lists %d messages, %d were acknowledged; missing %s, extra %s" % (
        len(listed), len(acked), sorted(set(acked) - set(listed))[:5], sorted(set(listed) - set(acked))[:5])
    for qid, body in acked.items():
        if body is not None:
            got = hh.run_tool(tools["spool"], "--spool", spool, "cat", qid, check=0).stdout
            assert got == body, "%s altered" % qid


def test_unfinished_data_in_cgroup(memcg, any_server, flood, tools, tmp_path, figures):
    cg = memcg(512 * MIB)
    spool = tmp_path / "spool"
    srv = any_server("--spool", spool, "--memory-limit", "256M", discard=False,
                     wrapper=hh.wrapper(cgroup_procs=cg.procs_path))
    assert srv.pid in cg.pids(), "the server is not in the cgroup"
    try:
        attack(srv, flood, tools, spool, figures, "512 MiB cgroup v%d, --memory-limit 256M" % cg.version,
               sessions=1000, total=1536 * MIB, seconds=25, budget=256 * MIB, cgroup=cg)
    finally:
        shutil.rmtree(spool, ignore_errors=True)  # up to TOTAL bytes


def test_unfinished_data_small(any_server, flood, tools, tmp_path, figures):
    spool = tmp_path / "spool"
    srv = any_server("--spool", spool, "--memory-limit", "64M", discard=False, io="epoll")
    try:
        attack(srv, flood, tools, spool, figures, "no cgroup, --memory-limit 64M, epoll",
               sessions=200, total=600 * MIB, seconds=10, budget=64 * MIB)
    finally:
        shutil.rmtree(spool, ignore_errors=True)
