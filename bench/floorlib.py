"""bench/floorlib.py - bench/compare --floor: every server priced per
round trip against the loopback floor (bench/floor/).

Owns: how many round trips each mode's run made (ROUND_TRIPS: a round trip
is one client write answered by one server send), starting floor-epoll and
floor-uring, the alternating rounds of the four servers (floor-epoll,
floor-uring, smtpsink, Postfix smtp-sink) driven by the same generator
(smtpsink-bench, or Postfix smtp-source with --generator smtp-source), and
the table: per mode, server CPU microseconds per round trip of each server
and each one's ratio to floor-epoll's.  Speed is never asserted here.

Round trips, counted from messages M and sessions S of a run (one
recipient; checked with strace against floor-epoll, whose sends are
exactly the round trips):
  connect        4 M + 3 S = 7 M    banner, EHLO, MAIL, RCPT, DATA, ".", QUIT
  reuse          5 M + 2 S          RSET, MAIL, RCPT, DATA, "."; a session's
                                    first message has no RSET; banner,
                                    EHLO, QUIT once per session
  reuse-no-rset  4 M + 3 S          MAIL, RCPT, DATA, "." (= smtp-source -d)
  pipeline       1 M + 4 S          content, "." and the next group in one
                                    write; per session banner, EHLO, the
                                    first group alone, QUIT
  bdat           1 M + 3 S          one write per message (no floor: the
                                    floor servers offer no CHUNKING)
"""
import os
import statistics
import sys

from benchlib import MODE_NEEDS, SMTP_SOURCE, Server, free_port, machine

# mode -> (round trips per message, per session); see the docstring
ROUND_TRIPS = {
    "connect": (4, 3),
    "reuse": (5, 2),
    "reuse-no-rset": (4, 3),
    "pipeline": (1, 4),
    "bdat": (1, 3),
}
SOURCE_MODES = {"connect": [], "reuse-no-rset": ["-d"]}  # what smtp-source can do
FLOOR_NAMES = ["floor-epoll", "floor-uring"]
BASE = "floor-epoll"  # the ratios' denominator: the issue's floor


def round_trips(mode, messages, sessions):
    per_msg, per_session = ROUND_TRIPS[mode]
    return per_msg * messages + per_session * sessions


def floor_servers(a):
    out = []
    for name, path in zip(FLOOR_NAMES, (a.floor_epoll, a.floor_uring)):
        if not os.access(path, os.X_OK):
            sys.exit(f"{path} is missing (build with meson: bench/floor/)")
        port = free_port()
        out.append(Server(name, [path, f"127.0.0.1:{port}"], port))
    return out


def source_round(a, srv, mode, n, run_generator):
    """smtp-source against srv: (messages/s, server CPU s, sessions)."""
    argv = [SMTP_SOURCE, "-s", str(a.connections), "-m", str(n), *SOURCE_MODES[mode], "-l", str(a.size),
            f"127.0.0.1:{srv.port}"]
    rate, _, server_us = run_generator(argv, srv, n)
    return rate, server_us * n / 1e6, a.connections if mode != "connect" else n


def one_round(a, srv, mode, n, run_round, run_generator):
    """One run against srv: {rate, us_rt (server CPU us per round trip)}."""
    if a.generator == "smtp-source":
        rate, cpu_s, sessions = source_round(a, srv, mode, n, run_generator)
        messages = n
    else:
        x = run_round(a, srv, mode, n)
        if x["errors"]:
            sys.exit(f"{srv.name} {mode}: {x['errors']} errors")
        rate, cpu_s, sessions, messages = x["rate"], x["server_cpu_s"], x["sessions"], x["messages"]
    rt = round_trips(mode, messages, sessions)
    return {"rate": rate, "us_rt": cpu_s * 1e6 / max(rt, 1), "rt_msg": rt / max(messages, 1)}


def print_floor_table(a, servers, modes, results):
    names = [s.name for s in servers]
    print(f"\n{machine()}; generator {a.generator}, {a.connections} connections, medians of {a.rounds} "
          f"round(s)\n")
    print("| mode | round trips/msg | " + " | ".join(f"{n} us/rt" for n in names) + " | " +
          " | ".join(f"{n} / {BASE}" for n in names if n != BASE) + " |")
    print("|---|---|" + "---|" * (2 * len(names) - 1))
    for mode in modes:
        med = {n: {k: statistics.median(x[k] for x in results[(mode, n)]) for k in ("rate", "us_rt", "rt_msg")}
               for n in names if results.get((mode, n))}
        rt_msg = next((m["rt_msg"] for m in med.values()), 0.0)
        cells = [f"{med[n]['us_rt']:.2f}" if n in med else "n/a" for n in names]
        base = med.get(BASE, {}).get("us_rt")
        ratios = [f"{med[n]['us_rt'] / base:.2f}" if n in med and base else "n/a" for n in names if n != BASE]
        print(f"| {mode} | {rt_msg:.2f} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
    print("\nmessages/s (medians): " + "; ".join(
        f"{mode} " + ", ".join(f"{n} {statistics.median(x['rate'] for x in results[(mode, n)]):.0f}"
                               for n in names if results.get((mode, n))) for mode in modes))


def compare_floor(a, servers, modes, run_round, run_generator):
    """Alternating rounds of the floors and servers; prints the table."""
    if a.generator == "smtp-source":
        bad = [m for m in modes if m not in SOURCE_MODES]
        if bad:
            sys.exit(f"--generator smtp-source: modes {', '.join(SOURCE_MODES)} only, not {', '.join(bad)}")
    servers = floor_servers(a) + servers
    results = {}
    try:
        for mode in modes:
            n = a.connect_messages if mode == "connect" else a.messages
            for r in range(a.rounds):
                for s in (servers if r % 2 == 0 else servers[::-1]):
                    if MODE_NEEDS.get(mode, "") not in s.keywords | {""}:
                        continue  # e.g. bdat: the floors offer no CHUNKING
                    x = one_round(a, s, mode, n, run_round, run_generator)
                    results.setdefault((mode, s.name), []).append(x)
                    print(f"  {mode:13} round {r + 1} {s.name:11} {x['rate']:9.0f} msg/s {x['us_rt']:6.2f} "
                          f"us server CPU per round trip ({x['rt_msg']:.2f} per message)", flush=True)
    finally:
        for s in servers:
            s.stop()
    print_floor_table(a, servers, modes, results)
