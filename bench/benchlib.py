"""bench/benchlib.py - what the benchmark scripts share: servers on
loopback and the CPU they spend.

Owns: a server's CPU time (utime + stime of all its threads, from
/proc/PID/stat), free loopback ports, starting a server and waiting until
it answers EHLO (its keywords say what it offers), stopping it, one
smtpsink-bench run with the server CPU it cost, and the machine line every
table starts with.  Speed is never asserted here: the scripts print
figures for docs/BENCHMARKS.md.
"""
import json
import os
import platform
import socket
import subprocess
import sys
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
SMTP_SINK = "/usr/sbin/smtp-sink"
SMTP_SOURCE = "/usr/sbin/smtp-source"
MODE_NEEDS = {"pipeline": "PIPELINING", "bdat": "CHUNKING"}  # the EHLO keyword a mode needs


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime: every thread


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ehlo_keywords(port, seconds=10):
    """The server's EHLO keywords; also waits until it answers."""
    deadline = time.time() + seconds
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                f = s.makefile("rwb")
                f.readline()
                f.write(b"EHLO compare\r\n")
                f.flush()
                words = set()
                while True:
                    line = f.readline().decode(errors="replace")
                    if len(line) < 4:
                        break
                    words.add(line[4:].split(" ")[0].strip().upper())
                    if line[3] != "-":
                        break
                f.write(b"QUIT\r\n")
                f.flush()
                return words
        except OSError:
            if time.time() > deadline:
                sys.exit(f"server on port {port} did not come up")
            time.sleep(0.05)


class Server:
    """A server process on 127.0.0.1:port, up once it answers EHLO."""

    def __init__(self, name, argv, port, seconds=10):
        self.name, self.port = name, port
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.keywords = ehlo_keywords(port, seconds)

    def cpu(self):
        return cpu_seconds(self.proc.pid)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def postfix_sink(port, *args):
    """Postfix smtp-sink's argv (as root it must drop to nobody)."""
    return [SMTP_SINK] + (["-u", "nobody"] if os.geteuid() == 0 else []) + list(args) + [f"127.0.0.1:{port}",
                                                                                            "1000"]


def bench_run(bench_argv, srv, settle=0.2):
    """Run smtpsink-bench --json against srv; its result and the server's
    CPU seconds spent meanwhile (plus settle seconds for closing)."""
    cpu0 = srv.cpu()
    out = subprocess.run(bench_argv + ["--json", f"127.0.0.1:{srv.port}"], stdout=subprocess.PIPE,
                         check=True).stdout
    time.sleep(settle)
    return json.loads(out), srv.cpu() - cpu0


def machine():
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({model}), kernel {platform.release()}"
