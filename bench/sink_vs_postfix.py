#!/usr/bin/python3
"""bench/sink_vs_postfix.py - smtpsink --discard against Postfix smtp-sink,
both driven by the same Postfix smtp-source, in the same run.

Owns: starting both servers on loopback, alternating them round by round
with identical smtp-source parameters, reading each server's CPU time
(utime + stime of all its threads, from /proc/PID/stat) before and after a
round, and printing medians: messages/s, server CPU microseconds per message
and the ratio smtpsink / smtp-sink.  Two modes, as issue 3 asks:
  reuse:   smtp-source -s S -m N -d -l 1000  (one connection carries many)
  connect: smtp-source -s S -m N -l 1000     (a new connection per message)
Speed is never asserted here: this prints figures for docs/BENCHMARKS.md.

usage: bench/sink_vs_postfix.py [--smtpsink PATH] [--messages N]
       [--connect-messages N] [--sessions S] [--rounds R] [--shards K]
"""
import argparse
import os
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--smtpsink", default=os.path.join(HERE, "..", "build", "io", "smtpsink"))
    ap.add_argument("--messages", type=int, default=100000)
    ap.add_argument("--connect-messages", type=int, default=20000)
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--shards", type=int, default=0)
    ap.add_argument("--io", default="auto")
    a = ap.parse_args()

    p1, p2 = free_port(), free_port()
    ours = [a.smtpsink, "--discard", "--listen", f"127.0.0.1:{p1}", "--io", a.io]
    if a.shards:
        ours += ["--shards", str(a.shards)]
    theirs = ["/usr/sbin/smtp-sink", "-u", "nobody", f"127.0.0.1:{p2}", "1000"]
    servers = {"smtpsink": (start(ours, p1), p1), "smtp-sink": (start(theirs, p2), p2)}
    results = {}
    try:
        for mode, n in (("reuse", a.messages), ("connect", a.connect_messages)):
            for r in range(a.rounds):
                for name, (proc, port) in servers.items():
                    rate, us = run_round(proc, port, n, a.sessions, mode == "reuse")
                    results.setdefault((mode, name), []).append((rate, us))
                    print(f"  {mode:7} round {r + 1} {name:9} {rate:9.0f} msg/s {us:7.1f} us CPU/msg", flush=True)
    finally:
        for proc, _ in servers.values():
            stop(proc)

    print()
    print("| mode | server | messages/s | server CPU us/msg | CPU ratio smtpsink/smtp-sink |")
    print("|---|---|---|---|---|")
    for mode in ("reuse", "connect"):
        med = {name: (statistics.median(x[0] for x in results[(mode, name)]),
                      statistics.median(x[1] for x in results[(mode, name)])) for name in servers}
        ratio = med["smtpsink"][1] / med["smtp-sink"][1]
        for name in servers:
            cell = f"{ratio:.2f}" if name == "smtpsink" else ""
            print(f"| {mode} | {name} | {med[name][0]:.0f} | {med[name][1]:.1f} | {cell} |")


if __name__ == "__main__":
    main()
