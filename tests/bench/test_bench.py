"""smtpsink-bench against real servers (suite 'bench').

Each test runs the generator against smtpsink (or Postfix smtp-sink) and
checks what the generator reports against what the server says: the
spool's records (through tests/interop/spoolfmt.py), the server's SIGTERM
summary line, and the --qid-log file.  Covered:
  - every mode (connect, reuse, reuse --no-rset, pipeline, bdat), on both
    client backends: message counts equal the spool's records exactly, the
    queue IDs and sequence numbers agree, reply counts add up per mode;
  - refusals: Postfix smtp-sink -r RCPT (450 to every RCPT), smtpsink's
    recipient limit (452 to the RCPT over it) and size limit (552 at the
    end of data) give exactly the reply and failure counts they should;
  - open loop: --rate 2000 for 5 s is 10,000 messages +-5 % in 5 s +-5 %;
    a rate the server cannot take (a fault rule holds MAIL) is reported as
    not reached (JSON and a warning on stderr), a reachable one as reached;
  - 20,000 connections over 127.0.0.2-127.0.0.9 (worker processes past
    the descriptor limit) all complete, from all eight addresses;
  - --auth, --body (dot-stuffing round trip in DATA and BDAT), a unix
    socket target, several workers, timeouts, refused connections,
    SIGINT, the human summary, no progress line off a terminal;
  - --progress: elapsed time, counts and the message latency's p99 so far,
    with one worker and merged over two;
  - --prometheus: scraped while a run goes the counts grow, and after it
    (--prometheus-linger) they equal the JSON report's; `promtool check
    metrics` finds nothing to say (when installed); a port in use is refused.
"""

import json
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

from conftest import free_port, read_qid_log, read_spool

MODES = [
    ("connect", []),
    ("reuse", []),
    ("reuse", ["--no-rset"]),
    ("pipeline", []),
    ("bdat", []),
]
MSGID_RE = re.compile(rb"Message-ID: <(\d+)@smtpsink-bench>")
ERROR_KINDS = ["connect_failed", "timeout", "unexpected_reply", "malformed_reply", "extension_missing",
               "closed_by_server", "io_error"]


def no_errors(r):
    assert r["errors"] == {k: 0 for k in ERROR_KINDS}, r["errors"]


def check_reply_counts(r, mode, no_rset, rcpts):
    """Every reply accounted for: greeting, EHLO, [RSET], MAIL, RCPT, DATA,
    end of data, QUIT."""
    n, sessions = r["messages"], r["sessions"]
    rset = r["latency_us"].get("rset", {"count": 0})["count"]
    replies = {int(k): v for k, v in r["replies"].items()}
    assert replies.get(220) == sessions and replies.get(221) == sessions, replies
    assert replies.get(354, 0) == (0 if mode == "bdat" else n), replies
    assert replies.get(250) == sessions + n * (2 + rcpts) + rset, (replies, rset)
    if mode in ("connect", "bdat") or no_rset:
        assert rset == 0
    else:  # before every MAIL but a session's first
        assert n - r["connections"] <= rset < n, rset


@pytest.mark.parametrize("io", ["uring", "epoll"])
@pytest.mark.parametrize("mode,extra", MODES, ids=[m + "".join(e) for m, e in MODES])
def test_counts_match_spool(smtpsink, bench, tmp_path, mode, extra, io):
    n = 300 if mode == "connect" else 1000
    rcpts = 2
    spool = tmp_path / "spool"
    qlog = tmp_path / "qids"
    srv = smtpsink("--spool", str(spool), "--sync", "group")
    r, err = bench(f"127.0.0.1:{srv.port}", "--mode", mode, *extra, "--io", io, "--connections", 8,
                   "--messages", n, "--rcpts", rcpts, "--size", "300-5000", "--seed", 7, "--qid-log", qlog)
    _, summary = srv.stop()
    assert r["io"] == ("io_uring" if io == "uring" else "epoll")
    assert r["messages"] == n and r["transactions_started"] == n and r["transactions_failed"] == 0
    no_errors(r)
    check_reply_counts(r, mode, "--no-rset" in extra, rcpts)
    assert summary == {"connections": r["sessions"], "messages": n}, summary
    qids = read_qid_log(qlog)
    assert len(qids) == n and sorted(qids.values()) == list(range(1, n + 1))
    records = read_spool(spool)
    assert len(records) == n
    assert {rec["qid"] for rec in records} == set(qids)
    total = 0
    for rec in records:
        m = MSGID_RE.search(rec["body"])
        assert m and int(m.group(1)) == qids[rec["qid"]], rec["qid"]
        assert len(rec["rcpts"]) == rcpts and rec["helo"] == "smtpsink-bench"
        assert 300 <= len(rec["body"]) <= 5000
        assert bool(rec["flags"] & (1 << 8)) == (mode == "bdat")  # FLAG_BDAT
        total += len(rec["body"])
    assert total == r["message_bytes"]


def test_postfix_rcpt_refused(postfix_sink, bench):
    """smtp-sink -r RCPT: 450 to every RCPT, so no DATA and no message."""
    srv = postfix_sink("-r", "RCPT")
    n, rcpts = 200, 3
    r, err = bench(f"127.0.0.1:{srv.port}", "--mode", "reuse", "--connections", 4, "--messages", n,
                   "--rcpts", rcpts, rc=1)
    assert f"{n} failed (transactions and connections), more than --max-failures 0" in err, err
    replies = {int(k): v for k, v in r["replies"].items()}
    assert r["messages"] == 0 and r["transactions_failed"] == n and r["transactions_started"] == n
    assert replies.get(450) == n * rcpts, replies
    assert 354 not in replies
    assert r["errors"]["unexpected_reply"] == n * rcpts
    # MAIL per message, EHLO per session, and RSET after each failure but a session's first MAIL
    assert replies[250] == n + r["sessions"] + r["latency_us"]["rset"]["count"]
    assert r["latency_us"]["rset"]["count"] == n - r["sessions"]


def test_postfix_pipeline_needs_pipelining(postfix_sink, bench):
    """smtp-sink -r implies -p (no PIPELINING): pipeline mode says so."""
    srv = postfix_sink("-r", "RCPT")
    r, err = bench(f"127.0.0.1:{srv.port}", "--mode", "pipeline", "--connections", 3, "--messages", 10, rc=1)
    assert "no transaction could be started" in err, err
    assert r["errors"]["extension_missing"] == 3 and r["sessions"] == 3
    assert r["transactions_started"] == 0


def test_smtpsink_recipient_limit(smtpsink, bench):
    """--max-rcpts 100: the 101st RCPT gets 452, the message still goes."""
    srv = smtpsink("--discard", "--max-rcpts", "100")
    n = 50
    r, _ = bench(f"127.0.0.1:{srv.port}", "--mode", "pipeline", "--connections", 5, "--messages", n,
                 "--rcpts", 101)
    _, summary = srv.stop()
    replies = {int(k): v for k, v in r["replies"].items()}
    assert r["messages"] == n and summary["messages"] == n
    assert replies.get(452) == n and r["errors"]["unexpected_reply"] == n


def test_smtpsink_size_limit(smtpsink, bench, tmp_path):
    """--max-size: messages over it get 552 at the end of data (no limit on
    client errors, so no 421 ends a session early)."""
    srv = smtpsink("--discard", "--max-size", "2000", "--max-errors", "0")
    n = 400
    qlog = tmp_path / "qids"
    r, _ = bench(f"127.0.0.1:{srv.port}", "--mode", "reuse", "--connections", 4, "--messages", n,
                 "--size", "1000-3000", "--qid-log", qlog, "--max-failures", n)
    _, summary = srv.stop()
    replies = {int(k): v for k, v in r["replies"].items()}
    assert 0 < r["messages"] < n and r["messages"] + r["transactions_failed"] == n
    assert summary["messages"] == r["messages"] == len(read_qid_log(qlog))
    assert replies.get(552, 0) == r["transactions_failed"] == r["errors"]["unexpected_reply"]


def test_open_loop_keeps_its_rate(smtpsink, bench):
    srv = smtpsink("--discard")
    r, _ = bench(f"127.0.0.1:{srv.port}", "--rate", 2000, "--duration", 5, "--connections", 50)
    _, summary = srv.stop()
    no_errors(r)
    assert abs(r["messages"] - 10000) <= 500, r["messages"]
    assert abs(r["elapsed_s"] - 5.0) <= 0.25, r["elapsed_s"]
    assert abs(r["messages_per_s"] - 2000) <= 100, r["messages_per_s"]
    assert summary["messages"] == r["messages"]
    # latency counts from the intended start: never below the wire's own
    assert r["latency_us"]["message"]["p50"] >= r["latency_us"]["end_of_data"]["p50"]


def test_open_loop_unreachable_rate_warns(smtpsink, bench):
    """Two connections, each MAIL held 100 ms by a fault rule: at most about
    20 messages/s, far below --rate 200, so the messages start late and the
    run says the rate was not offered (a warning: the exit status stays 0)."""
    srv = smtpsink("--discard", "--fault", "mail:delay=100ms")
    r, err = bench(f"127.0.0.1:{srv.port}", "--rate", 200, "--messages", 40, "--connections", 2)
    srv.stop()
    assert r["messages"] == 40 and r["rate_reached"] is False, r
    assert r["rate_achieved"] < 0.95 * 200 and r["schedule_lag_max_ms"] > 1000, r
    assert "smtpsink-bench: warning: --rate 200 not reached" in err, err


def test_open_loop_reached_rate_no_warning(smtpsink, bench, bench_bin):
    srv = smtpsink("--discard")
    target = f"127.0.0.1:{srv.port}"
    r, err = bench(target, "--mode", "pipeline", "--rate", 200, "--messages", 400, "--connections", 10)
    assert r["messages"] == 400 and r["rate_reached"] is True, r
    assert 0.95 * 200 <= r["rate_achieved"] <= 201 and r["schedule_lag_max_ms"] < 1000, r
    assert "warning" not in err, err
    p = subprocess.run([str(bench_bin), "--rate", "200", "--messages", "100", "--connections", "4", target],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    srv.stop()
    assert p.returncode == 0 and b"warning" not in p.stderr, p.stderr
    assert re.search(r"open loop: [\d.]+ msg/s offered of 200 \([\d.]+ %\), started up to [\d.]+ ms late: "
                     r"rate reached\n", p.stdout.decode()), p.stdout


def test_20000_connections_from_eight_addresses(smtpsink, bench, tmp_path):
    spool = tmp_path / "spool"
    srv = smtpsink("--io", "uring", "--spool", str(spool), "--sync", "none")
    conns, n = 20000, 40000
    r, _ = bench(f"127.0.0.1:{srv.port}", "--connections", conns, "--messages", n, "--size", 200,
                 "--source-addrs", "127.0.0.2-127.0.0.9", timeout=600)
    _, summary = srv.stop()
    no_errors(r)
    assert r["sessions"] == conns and r["messages"] == n
    assert summary == {"connections": conns, "messages": n}, summary
    records = read_spool(spool)
    assert len(records) == n
    used = {rec["client"]["addr"] for rec in records}
    assert used == {f"127.0.0.{i}" for i in range(2, 10)}, used


def test_workers_epoll_and_unix_socket(smtpsink, bench, tmp_path):
    path = tmp_path / "sock"
    srv = smtpsink("--discard", "--listen", f"unix:{path}")
    r, _ = bench(f"unix:{path}", "--mode", "pipeline", "--workers", 3, "--connections", 9, "--messages", 3000,
                 "--io", "epoll")
    _, summary = srv.stop()
    no_errors(r)
    assert r["workers"] == 3 and r["messages"] == 3000 and summary["messages"] == 3000
    assert r["rate_reached"] is None and r["rate_achieved"] is None  # closed loop: no rate to reach


def test_auth_and_body_file(smtpsink, bench, tmp_path):
    body = tmp_path / "body"
    body.write_bytes(b"Subject: dots\n\n.leading dot\n..two\nplain\n.")
    want = b"Subject: dots\r\n\r\n.leading dot\r\n..two\r\nplain\r\n.\r\n"
    for mode in ("pipeline", "bdat"):
        spool = tmp_path / mode
        srv = smtpsink("--spool", str(spool), "--sync", "none")
        r, _ = bench(f"127.0.0.1:{srv.port}", "--mode", mode, "--connections", 2, "--messages", 20,
                     "--body", body, "--auth", "alice:s3cret", "--from", "f%n@x.test", "--to", "t%r.%n@y.test")
        srv.stop()
        no_errors(r)
        assert r["latency_us"]["auth"]["count"] == r["sessions"]
        records = read_spool(spool)
        assert len(records) == 20
        for rec in records:
            assert rec["body"] == want, rec["body"]
            assert rec["auth_user"] == "alice"
            seq = int(rec["mail_from"][1:].split("@")[0])
            assert rec["rcpts"] == [f"t1.{seq}@y.test"]


def test_timeout_on_a_silent_server(bench):
    """A server that accepts and never speaks: every session times out."""
    lst = socket.socket()
    lst.bind(("127.0.0.1", 0))
    lst.listen(64)
    held = []
    stop = threading.Event()

    def accept():
        lst.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(lst.accept()[0])
            except OSError:
                pass

    t = threading.Thread(target=accept)
    t.start()
    try:
        t0 = time.monotonic()
        r, _ = bench(f"127.0.0.1:{lst.getsockname()[1]}", "--connections", 4, "--messages", 10, "--timeout", 1,
                     rc=1)
        assert time.monotonic() - t0 < 10
    finally:
        stop.set()
        t.join()
        for s in held:
            s.close()
        lst.close()
    assert r["errors"]["timeout"] == 4 and r["messages"] == 0 and r["sessions"] == 4


def test_connect_refused(bench):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r, err = bench(f"127.0.0.1:{port}", "--mode", "connect", "--connections", 3, "--messages", 12, rc=1)
    assert r["errors"]["connect_failed"] == 12 and r["transactions_failed"] == 12 and r["sessions"] == 0
    assert f"no connection could be made to 127.0.0.1:{port}" in err, err
    r, err = bench(f"127.0.0.1:{port}", "--mode", "reuse", "--connections", 3, "--messages", 12, rc=1)
    assert r["errors"]["connect_failed"] == 3 and r["transactions_started"] == 0
    assert "no connection could be made" in err, err


def test_max_failures(smtpsink, bench):
    """Any failed transaction makes the exit status 1, unless --max-failures
    tolerates that many: a rule refusing about half the recipients."""
    srv = smtpsink("--discard", "--fault", "rcpt:reply=550 5.1.1 No such user:p=0.5", "--seed", "5")
    target = f"127.0.0.1:{srv.port}"
    r, err = bench(target, "--mode", "reuse", "--connections", 2, "--messages", 200, rc=1)
    failed = r["transactions_failed"]
    assert 40 < failed < 160 and r["messages"] == 200 - failed, r
    assert f"{failed} failed (transactions and connections), more than --max-failures 0" in err, err
    r, _ = bench(target, "--mode", "reuse", "--connections", 2, "--messages", 200, "--max-failures", 200, rc=0)
    assert r["transactions_failed"] > 0


def test_human_summary_and_no_progress_off_a_terminal(smtpsink, bench_bin):
    srv = smtpsink("--discard")
    p = subprocess.run([str(bench_bin), "--connections", "2", "--messages", "100", f"127.0.0.1:{srv.port}"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    assert p.returncode == 0
    out = p.stdout.decode()
    assert "100 messages in" in out and "latency (us)" in out and "end_of_data" in out, out
    assert p.stderr == b"", p.stderr  # no progress line: stderr is not a terminal


@pytest.mark.parametrize("workers", [1, 2])
def test_sigint_stops_and_reports(smtpsink, bench_bin, workers):
    """SIGINT: no new messages; the ones in flight finish; the report is
    whole (with workers, the parent forwards the stop)."""
    srv = smtpsink("--discard")
    p = subprocess.Popen([str(bench_bin), "--json", "--duration", "60", "--connections", "4", "--workers",
                          str(workers), f"127.0.0.1:{srv.port}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(1.5)
    p.send_signal(signal.SIGINT)
    out, _ = p.communicate(timeout=30)
    assert p.returncode == 0
    r = json.loads(out)
    _, summary = srv.stop()
    assert r["messages"] > 0 and r["messages"] == summary["messages"] and r["elapsed_s"] < 30
    assert r["transactions_failed"] == 0 and r["workers"] == workers


PROGRESS_RE = re.compile(r"^\s*([\d.]+) s\s+(\d+) msg/s\s+(\d+) messages\s+p99 message\s+([\d.]+|-) us\s+(\d+) errors"
                         r"\s+(\d+) open\s*$")


@pytest.mark.parametrize("workers", [1, 2])
def test_progress_line_shows_elapsed_and_p99(smtpsink, bench_bin, workers):
    """--progress: once a second, elapsed seconds, the rate, the messages so
    far and the p99 of the message latency so far (merged over workers)."""
    srv = smtpsink("--discard")
    p = subprocess.run([str(bench_bin), "--json", "--progress", "--rate", "400", "--duration", "3.5",
                        "--connections", "4", "--workers", str(workers), f"127.0.0.1:{srv.port}"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    lines = [ln for ln in p.stderr.decode().replace("\r", "\n").split("\n") if ln.strip()]
    rows = [PROGRESS_RE.match(ln) for ln in lines]
    assert len(rows) >= 3 and all(rows), lines
    elapsed = [float(m.group(1)) for m in rows]
    counts = [int(m.group(3)) for m in rows]
    assert elapsed == sorted(elapsed) and elapsed[0] >= 0.9 and elapsed[-1] <= 5.0, elapsed
    assert counts == sorted(counts) and 0 < counts[-1] <= r["messages"], counts
    p99 = float(rows[-1].group(4))  # the message latency, never above its final maximum
    assert 0 < p99 <= r["latency_us"]["message"]["max"], (p99, r["latency_us"]["message"])


METRIC_RE = re.compile(r'^(smtpsink_bench_[a-z_]+)(?:\{(\w+)="([^"]*)"\})? (\S+)$')


def scrape(port):
    """{(name, label value or None): value} and the text, from /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = resp.read().decode()
    out = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = METRIC_RE.match(line)
        assert m, line
        out[(m.group(1), m.group(3))] = float(m.group(4))
    return out, text


def promtool_quiet(text):
    """promtool check metrics prints nothing on clean text (Debian
    prometheus; tools/test installs it).  None when it is not installed."""
    if shutil.which("promtool") is None:
        return None
    p = subprocess.run(["promtool", "check", "metrics"], input=text.encode(), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=30)
    assert p.returncode == 0 and p.stdout == b"", p.stdout.decode()
    return True


def read_json_report(stream):
    """The --json report from a still-running generator's stdout: it ends
    with a line holding "}" alone."""
    lines = []
    while True:
        line = stream.readline()
        assert line, f"stdout ended before the report: {b''.join(lines)!r}"
        lines.append(line)
        if line == b"}\n":
            return json.loads(b"".join(lines))


@pytest.mark.parametrize("workers", [1, 2])
def test_prometheus_counts_grow_and_match_the_report(smtpsink, bench_bin, workers):
    srv = smtpsink("--discard")
    port = free_port()
    p = subprocess.Popen([str(bench_bin), "--json", "--prometheus", f"127.0.0.1:{port}", "--prometheus-linger", "60",
                          "--rate", "300", "--duration", "3.5", "--connections", "4", "--workers", str(workers),
                          f"127.0.0.1:{srv.port}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        live, texts = [], []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                m, text = scrape(port)
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)  # not listening yet
                continue
            if m[("smtpsink_bench_running", None)] == 0:
                break
            live.append(m)
            texts.append(text)
            time.sleep(0.5)
        else:
            raise AssertionError("the run did not end")
        r = read_json_report(p.stdout)
        final, final_text = scrape(port)
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/other", timeout=5)
        assert e.value.code == 404
    finally:
        p.send_signal(signal.SIGINT)  # ends the linger
        _, err = p.communicate(timeout=30)
    srv.stop()
    assert p.returncode == 0, err
    accepted = [m[("smtpsink_bench_messages_accepted_total", None)] for m in live]
    assert accepted == sorted(accepted) and len({a for a in accepted if a > 0}) >= 2, accepted  # it grew
    assert all(m[("smtpsink_bench_connections_open", None)] <= 4 for m in live)

    def v(name, label=None):
        return final[(f"smtpsink_bench_{name}", label)]

    assert v("messages_accepted_total") == r["messages"] and r["messages"] > accepted[-1] * 0.5
    assert v("messages_sent_total") == r["transactions_started"]
    assert v("messages_failed_total") == r["transactions_failed"] == 0
    assert v("message_bytes_total") == r["message_bytes"]
    assert v("connections_total") == r["sessions"] and v("connections_open") == 0
    assert v("sent_bytes_total") == r["bytes_sent"] and v("received_bytes_total") == r["bytes_received"]
    assert v("target_rate_messages_per_second") == 300
    replies = {label: val for (name, label), val in final.items() if name == "smtpsink_bench_replies_total"}
    assert replies == {k: float(n) for k, n in r["replies"].items()}, (replies, r["replies"])
    errors = {label: val for (name, label), val in final.items() if name == "smtpsink_bench_errors_total"}
    assert errors == {k: float(n) for k, n in r["errors"].items()}, errors
    for hist, step in (("end_of_data_seconds", "end_of_data"), ("message_seconds", "message")):
        count = r["latency_us"][step]["count"]
        assert v(f"{hist}_count") == count == v(f"{hist}_bucket", "+Inf") == r["messages"]
        assert abs(v(f"{hist}_sum") - r["latency_us"][step]["mean"] * count / 1e6) < 1e-3 * count
        buckets = [val for (name, label), val in final.items() if name == f"smtpsink_bench_{hist}_bucket"]
        assert buckets == sorted(buckets), buckets
    if promtool_quiet(texts[-1]) is not None:
        promtool_quiet(final_text)


def test_prometheus_address_in_use(bench_bin):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        p = subprocess.run([str(bench_bin), "--prometheus", f"127.0.0.1:{port}", "--messages", "1",
                            "127.0.0.1:1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    assert p.returncode == 1 and f"--prometheus 127.0.0.1:{port}: cannot listen" in p.stderr.decode(), p.stderr
