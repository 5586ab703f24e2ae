"""The shards' threads and CPUs (issue 17): --sqpoll, --sqpoll-cpu, --pin.

Owns: that --sqpoll serves mail on the io_uring backend (smtpsink-bench
runs a few hundred messages, with --discard and with a spool under --sync
group, whose write-then-fsync chains go through the polled ring) and says
so on stderr; that every shard then has its kernel poller, a thread of the
process named iou-sqp-TID after its shard's thread, whose CPU time the
process's /proc/PID/stat includes (what bench/ reads as server CPU); that
--sqpoll-cpu N puts shard K's poller on CPU N+K; that a poller the kernel
refuses stops the start with exit 1 and a line naming the CPU, never a
quiet fallback (without io_uring at all: test_fallback.py); that --sqpoll
with --io epoll is a bad option; and that shard threads (named shard-K)
are pinned to CPU K only with --pin, and otherwise may run where the
process may.  Read from /proc/PID/task/TID/{comm,status,stat}.
"""

import json
import os
import subprocess

import pytest

from interop_helpers import free_port

SQPOLL_LINE = "SQPOLL: a kernel poller thread per shard"
MESSAGES = 300


def bench_bin():
    p = os.environ.get("SMTPSINK_BENCH_BIN")
    if not p:
        srv = os.environ.get("SMTPSINK_BIN") or os.path.join(os.path.dirname(__file__), "..", "..", "build",
                                                              "io", "smtpsink")
        p = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(srv))), "bench", "smtpsink-bench")
    if not os.access(p, os.X_OK):
        pytest.fail("smtpsink-bench not found at %s: build it (ninja) or set SMTPSINK_BENCH_BIN" % p,
                    pytrace=False)
    return p


def run_bench(srv, mode="reuse", messages=MESSAGES):
    p = subprocess.run([bench_bin(), "--json", "--no-progress", "--timeout", "30", "--mode", mode,
                        "--connections", "4", "--messages", str(messages), "%s:%d" % (srv.host, srv.port)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, (p.returncode, p.stderr)
    res = json.loads(p.stdout)
    assert res["messages"] == messages and sum(res["errors"].values()) == 0, res
    return res


def threads(pid):
    """{tid: (comm, Cpus_allowed_list, utime + stime ticks)} of live threads."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        base = "/proc/%d/task/%s" % (pid, tid)
        try:
            with open(base + "/comm") as f:
                comm = f.read().strip()
            with open(base + "/status") as f:
                cpus = next(ln.split(":", 1)[1].strip() for ln in f if ln.startswith("Cpus_allowed_list:"))
            with open(base + "/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue  # ended meanwhile
        out[int(tid)] = (comm, cpus, int(fields[11]) + int(fields[12]))
    return out


def process_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def shard_threads(pid):
    """{K: (tid, Cpus_allowed_list)} of the threads named shard-K."""
    return {int(c[6:]): (tid, cpus) for tid, (c, cpus, _) in threads(pid).items() if c.startswith("shard-")}


def pollers(pid):
    """{K: (Cpus_allowed_list, ticks)}: each poller, keyed by the shard
    whose thread it is named after (iou-sqp-TID)."""
    by_tid = {tid: k for k, (tid, _) in shard_threads(pid).items()}
    out = {}
    for _, (comm, cpus, ticks) in threads(pid).items():
        if comm.startswith("iou-sqp-"):
            owner = int(comm[len("iou-sqp-"):])
            assert owner in by_tid, "poller %s is not named after a shard thread (%s)" % (comm, by_tid)
            out[by_tid[owner]] = (cpus, ticks)
    return out


def cpu_count():
    return len(os.sched_getaffinity(0))


@pytest.mark.backends("uring")
def test_sqpoll_serves_mail(server, backend):
    shards = min(2, cpu_count())
    srv = server("--sqpoll", "--sqpoll-idle", "300ms", "--shards", str(shards))
    assert any(SQPOLL_LINE in ln and "asleep after 300 ms idle" in ln for ln in srv.stderr_lines()), \
        srv.stderr_tail()
    run_bench(srv, "reuse")
    run_bench(srv, "pipeline")
    polled = pollers(srv.pid)
    assert sorted(polled) == list(range(shards)), polled
    # the pollers' CPU is the process's: /proc/PID/stat counts every thread
    live = sum(t for _, _, t in threads(srv.pid).values())
    assert process_ticks(srv.pid) >= live, (process_ticks(srv.pid), threads(srv.pid))
    srv.stop()
    assert srv.summary().get("messages") == 2 * MESSAGES, srv.summary_line()


@pytest.mark.backends("uring")
def test_sqpoll_with_a_spool(server, backend, tmp_path):
    """Group commit: each batch's write and fdatasync are a linked chain."""
    srv = server("--sqpoll", "--spool", str(tmp_path / "spool"), "--sync", "group", discard=False)
    run_bench(srv, "pipeline")
    assert pollers(srv.pid), threads(srv.pid)
    srv.stop()
    assert srv.summary().get("messages") == MESSAGES, srv.summary_line()


@pytest.mark.backends("uring")
def test_no_pollers_without_sqpoll(server, backend):
    srv = server()
    run_bench(srv, "reuse", messages=20)
    assert pollers(srv.pid) == {}, threads(srv.pid)
    assert not any(SQPOLL_LINE in ln for ln in srv.stderr_lines()), srv.stderr_tail()


@pytest.mark.backends("uring")
def test_sqpoll_cpu_pins_the_pollers(server, backend):
    shards = min(2, cpu_count())
    first = min(os.sched_getaffinity(0))
    srv = server("--sqpoll-cpu", str(first), "--shards", str(shards))  # implies --sqpoll
    run_bench(srv, "reuse", messages=20)  # every poller has run: named and placed
    polled = pollers(srv.pid)
    assert sorted(polled) == list(range(shards)), polled
    for k, (cpus, _) in polled.items():
        assert cpus == str(first + k), (k, cpus, polled)


def test_sqpoll_cpu_refused(smtpsink_bin):
    port = free_port()
    p = subprocess.run([smtpsink_bin, "--discard", "--no-http", "--sqpoll-cpu", "8000", "--listen",
                        "127.0.0.1:%d" % port], capture_output=True, text=True, timeout=30)
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert "--sqpoll: the kernel refused a poller on CPU 8000" in p.stderr, p.stderr
    assert "listening on" not in p.stderr and "falling back" not in p.stderr, p.stderr


def test_sqpoll_not_with_epoll(smtpsink_bin):
    p = subprocess.run([smtpsink_bin, "--discard", "--sqpoll", "--io", "epoll"], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert "--sqpoll needs io_uring" in p.stderr, p.stderr


def test_pin_binds_each_shard(server, backend):
    if cpu_count() < 2:
        pytest.skip("one CPU: pinned and unpinned threads look alike")
    online = os.sysconf("SC_NPROCESSORS_ONLN")
    srv = server("--pin", "--shards", "2")
    shards = shard_threads(srv.pid)
    assert sorted(shards) == [0, 1], threads(srv.pid)
    for k, (_, cpus) in shards.items():
        assert cpus == str(k % online), (k, cpus)


def test_default_does_not_pin(server, backend):
    if cpu_count() < 2:
        pytest.skip("one CPU: pinned and unpinned threads look alike")
    srv = server("--shards", "2")
    whole = threads(srv.pid)[srv.pid][1]  # the main thread: what the process may use
    shards = shard_threads(srv.pid)
    assert sorted(shards) == [0, 1], threads(srv.pid)
    for k, (_, cpus) in shards.items():
        assert cpus == whole, (k, cpus, whole)
