#!/usr/bin/python3
"""bench/sink_vs_postfix.py - smtpsink against Postfix smtp-sink, both driven
by the same Postfix smtp-source, in the same run.

Owns: starting both servers on loopback, alternating them round by round
with identical smtp-source parameters, reading each server's CPU time
(utime + stime of all its threads, from /proc/PID/stat) before and after a
round, and printing medians: messages/s, server CPU microseconds per message
and the ratio smtpsink / smtp-sink.  Two modes, as issue 3 asks:
  reuse:   smtp-source -s S -m N -d -l 1000  (one connection carries many)
  connect: smtp-source -s S -m N -l 1000     (a new connection per message)
Two sets of servers:
  --set discard (issue 3): smtpsink --discard vs smtp-sink, reuse + connect
  --set spool   (issue 4): smtpsink --sync group / --sync none / --discard
                vs smtp-sink -D (one dump file) and -d (a file per message),
                reuse mode; the fdatasync latency of the spool's disk is
                measured and printed alongside.
Speed is never asserted here: this prints figures for docs/BENCHMARKS.md.

usage: bench/sink_vs_postfix.py [--set discard|spool] [--smtpsink PATH]
       [--messages N] [--connect-messages N] [--sessions S] [--rounds R]
       [--shards K] [--io auto|uring|epoll] [--dir SCRATCH]
"""
import argparse
import shutil
import tempfile
import os
import socket
import statistics
import subprocess
import sys
import time

from benchlib import cpu_seconds, free_port

HERE = os.path.dirname(os.path.abspath(__file__))


def wait_port(port, proc, seconds=10):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"server exited early: {proc.args}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.recv(100)
                return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"server on port {port} did not come up")


def start(cmd, port):
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_port(port, proc)
    return proc


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run_round(proc, port, messages, sessions, reuse):
    cmd = ["/usr/sbin/smtp-source", "-s", str(sessions), "-m", str(messages), "-l", "1000"]
    if reuse:
        cmd.append("-d")
    cmd.append(f"127.0.0.1:{port}")
    cpu0 = cpu_seconds(proc.pid)
    t0 = time.monotonic()
    subprocess.run(cmd, check=True)
    elapsed = time.monotonic() - t0
    time.sleep(0.2)  # let the server finish closing sessions
    cpu = cpu_seconds(proc.pid) - cpu0
    return messages / elapsed, cpu * 1e6 / messages


def fdatasync_latency_us(directory, rounds=200):
    path = os.path.join(directory, "fsync-probe")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    times = []
    try:
        for i in range(rounds):
            os.pwrite(fd, b"x" * 4096, i * 4096)
            t0 = time.perf_counter()
            os.fdatasync(fd)
            times.append((time.perf_counter() - t0) * 1e6)
    finally:
        os.close(fd)
        os.unlink(path)
    return statistics.median(times)


def server_specs(a, scratch):
    """name -> (argv builder taking a port, reset function before a round)."""
    ours = [a.smtpsink, "--io", a.io] + (["--shards", str(a.shards)] if a.shards else [])
    postfix = ["/usr/sbin/smtp-sink", "-u", "nobody"]
    if a.set == "discard":
        return {
            "smtpsink": lambda p: ours + ["--discard", "--listen", f"127.0.0.1:{p}"],
            "smtp-sink": lambda p: postfix + [f"127.0.0.1:{p}", "1000"],
        }
    def spool(name):
        d = os.path.join(scratch, name)
        os.makedirs(d, exist_ok=True)
        return d
    dump_d = spool("postfix-d")
    os.chmod(dump_d, 0o777)
    dump_D = spool("postfix-D")
    os.chmod(dump_D, 0o777)
    return {
        "smtpsink --sync group": lambda p: ours + ["--spool", spool("group"), "--sync", "group",
                                                   "--listen", f"127.0.0.1:{p}"],
        "smtpsink --sync none": lambda p: ours + ["--spool", spool("none"), "--sync", "none",
                                                  "--listen", f"127.0.0.1:{p}"],
        "smtpsink --discard": lambda p: ours + ["--discard", "--listen", f"127.0.0.1:{p}"],
        "smtp-sink -D": lambda p: postfix + ["-D", os.path.join(dump_D, "dump"), f"127.0.0.1:{p}", "1000"],
        "smtp-sink -d": lambda p: postfix + ["-d", os.path.join(dump_d, "%Y%m%d/%H%M."), f"127.0.0.1:{p}",
                                             "1000"],
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--set", choices=["discard", "spool"], default="discard")
    ap.add_argument("--smtpsink", default=os.path.join(HERE, "..", "build", "io", "smtpsink"))
    ap.add_argument("--messages", type=int, default=100000)
    ap.add_argument("--connect-messages", type=int, default=20000)
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--shards", type=int, default=0)
    ap.add_argument("--io", default="auto")
    ap.add_argument("--dir", default=None, help="scratch directory for spools and dumps")
    a = ap.parse_args()

    scratch = tempfile.mkdtemp(prefix="sinkbench-", dir=a.dir or os.getcwd())
    os.chmod(scratch, 0o755)  # smtp-sink -u nobody writes its dumps below it
    specs = server_specs(a, scratch)
    servers = {}
    for name, argv in specs.items():
        port = free_port()
        servers[name] = (start(argv(port), port), port)
    modes = [("reuse", a.messages)] + ([("connect", a.connect_messages)] if a.set == "discard" else [])
    results = {}
    try:
        for mode, n in modes:
            for r in range(a.rounds):
                for name, (proc, port) in servers.items():
                    rate, us = run_round(proc, port, n, a.sessions, mode == "reuse")
                    results.setdefault((mode, name), []).append((rate, us))
                    print(f"  {mode:7} round {r + 1} {name:22} {rate:9.0f} msg/s {us:7.1f} us CPU/msg", flush=True)
    finally:
        for proc, _ in servers.values():
            stop(proc)

    base = "smtp-sink" if a.set == "discard" else "smtp-sink -D"
    print()
    if a.set == "spool":
        print(f"fdatasync latency on {scratch}: {fdatasync_latency_us(scratch):.0f} us (median of 200)")
    shutil.rmtree(scratch, ignore_errors=True)
    print(f"| mode | server | messages/s | server CPU us/msg | CPU vs {base} | msg/s vs {base} |")
    print("|---|---|---|---|---|---|")
    for mode, _ in modes:
        med = {name: (statistics.median(x[0] for x in results[(mode, name)]),
                      statistics.median(x[1] for x in results[(mode, name)])) for name in servers}
        for name in servers:
            cpu = med[name][1] / med[base][1]
            rate = med[name][0] / med[base][0]
            print(f"| {mode} | {name} | {med[name][0]:.0f} | {med[name][1]:.1f} | {cpu:.2f} | {rate:.2f} |")


if __name__ == "__main__":
    main()
