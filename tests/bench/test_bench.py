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
    metrics` finds nothing to say (when installed); a port in use is refused;
  - TLS (issue 14) against smtpsink --tls-self-signed: --starttls and --tls
    in connect, reuse and pipeline modes on both backends accept every
    message, with a handshake per connection, and the spool's records carry
    the TLS facts (smtpsink-spool ls --json); --tls-resume resumes every
    handshake but each connection slot's first (TLS 1.3 and 1.2); a server
    whose handshakes fail (--fault tls:fail) or never answer gives handshake
    failures of their kind; --tls-protocols and --tls-sni reach the server;
    the summary's TLS row, the progress line's hs/s and the TLS metrics;
    bad TLS options are refused.
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

from contextlib import contextmanager

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
               "closed_by_server", "io_error", "tls_handshake"]


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


@contextmanager
def silent_server():
    """A listener that accepts and never says a word; yields its target."""
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
        yield f"127.0.0.1:{lst.getsockname()[1]}"
    finally:
        stop.set()
        t.join()
        for s in held:
            s.close()
        lst.close()


def test_timeout_on_a_silent_server(bench):
    """A server that accepts and never speaks: every session times out."""
    with silent_server() as target:
        t0 = time.monotonic()
        r, _ = bench(target, "--connections", 4, "--messages", 10, "--timeout", 1, rc=1)
        assert time.monotonic() - t0 < 10
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


# -- TLS (issue 14) ------------------------------------------------------------
TLS_SERVER = ("--tls-self-signed", "--hostname", "mx.bench.test")


def tls_sink(smtpsink, *args):
    """smtpsink with a self-signed certificate: STARTTLS on srv.port,
    implicit TLS on srv.tls_port."""
    tls_port = free_port()
    srv = smtpsink(*TLS_SERVER, "--listen-tls", f"127.0.0.1:{tls_port}", *args)
    srv.tls_port = tls_port
    return srv


def tls_target(srv, tls):
    return f"127.0.0.1:{srv.port if tls == 'starttls' else srv.tls_port}"


def check_tls_replies(r, tls):
    """STARTTLS: a second 220 and a second EHLO per session; implicit TLS:
    neither.  A handshake latency per session either way."""
    sessions = r["sessions"]
    lat = r["latency_us"]
    replies = {int(k): v for k, v in r["replies"].items()}
    assert lat["tls_handshake"]["count"] == sessions, lat
    if tls == "starttls":
        assert replies[220] == 2 * sessions and lat["starttls"]["count"] == sessions, (replies, lat)
        assert lat["ehlo"]["count"] == 2 * sessions, lat
    else:
        assert replies[220] == sessions and "starttls" not in lat and lat["ehlo"]["count"] == sessions, lat


@pytest.mark.parametrize("io", ["uring", "epoll"])
@pytest.mark.parametrize("tls", ["starttls", "tls"])
@pytest.mark.parametrize("mode", ["connect", "reuse", "pipeline"])
def test_tls_every_message_accepted(smtpsink, bench, spool_ls, tmp_path, io, tls, mode):
    """Sizes up to 100 kB: a write larger than one send of records is
    sealed and sent in pieces."""
    n = 60 if mode == "connect" else 300
    spool = tmp_path / "spool"
    srv = tls_sink(smtpsink, "--spool", str(spool), "--sync", "none", "--no-http")
    r, _ = bench(tls_target(srv, tls), f"--{tls}", "--io", io, "--mode", mode, "--connections", 4, "--messages", n,
                 "--size", "300-100000", "--seed", 11)
    _, summary = srv.stop()
    no_errors(r)
    assert r["messages"] == n and r["transactions_started"] == n and r["transactions_failed"] == 0
    assert r["sessions"] == (n if mode == "connect" else 4)
    assert r["tls"] == {"mode": "starttls" if tls == "starttls" else "implicit", "resume": False,
                        "handshakes": r["sessions"], "handshakes_per_s": r["tls"]["handshakes_per_s"],
                        "full": r["sessions"], "resumed": 0, "failed": 0}, r["tls"]
    assert r["tls"]["handshakes_per_s"] > 0
    check_tls_replies(r, tls)
    assert summary == {"connections": r["sessions"], "messages": n}, summary
    records = spool_ls(spool)
    assert len(records) == n and sum(rec["size"] for rec in records) == r["message_bytes"]
    for rec in records:
        assert rec["tls"].startswith("TLSv1.3 TLS_") and rec["protocol"] == "ESMTPS", rec


@pytest.mark.parametrize("protocols", ["TLSv1.3", "TLSv1.2"])
@pytest.mark.parametrize("tls", ["starttls", "tls"])
@pytest.mark.parametrize("connections", [2, 4])
def test_tls_resume(smtpsink, bench, tls, protocols, connections):
    """Connect mode, two workers: only each connection slot's first
    handshake is full (with one connection per worker: the worker's first);
    every later one resumes from a ticket the worker was given."""
    n = 80
    srv = tls_sink(smtpsink, "--discard")
    r, _ = bench(tls_target(srv, tls), f"--{tls}", "--tls-resume", "--tls-protocols", protocols, "--mode", "connect",
                 "--connections", connections, "--workers", 2, "--messages", n)
    _, summary = srv.stop()
    no_errors(r)
    t = r["tls"]
    assert r["messages"] == n and summary["messages"] == n
    assert t["handshakes"] == r["sessions"] == n and t["failed"] == 0, t
    assert t["resumed"] == t["handshakes"] - connections and t["full"] == connections, t
    # without --tls-resume nothing resumes
    r, _ = bench(tls_target(srv := tls_sink(smtpsink, "--discard"), tls), f"--{tls}", "--tls-protocols", protocols,
                 "--mode", "connect", "--connections", connections, "--workers", 2, "--messages", 20)
    srv.stop()
    assert r["tls"]["resumed"] == 0 and r["tls"]["full"] == 20, r["tls"]


@pytest.mark.parametrize("io", ["uring", "epoll"])
@pytest.mark.parametrize("tls", ["starttls", "tls"])
def test_tls_handshake_failures(smtpsink, bench, io, tls):
    """--fault tls:fail: every ClientHello gets a handshake_failure alert.
    Connect mode: each message fails with its handshake; reuse mode: each
    session, and no transaction starts."""
    srv = tls_sink(smtpsink, "--discard", "--fault", "tls:fail")
    target = tls_target(srv, tls)
    r, err = bench(target, f"--{tls}", "--io", io, "--mode", "connect", "--connections", 3, "--messages", 12, rc=1)
    assert r["errors"] == {k: 12 if k == "tls_handshake" else 0 for k in ERROR_KINDS}, r["errors"]
    assert r["tls"]["failed"] == 12 and r["tls"]["handshakes"] == 0 and r["sessions"] == 12
    assert r["transactions_failed"] == 12 and r["messages"] == 0
    assert "TLS handshake failed: " in err and "alert handshake failure" in err, err
    assert "12 failed (transactions and connections)" in err, err
    r, err = bench(target, f"--{tls}", "--io", io, "--mode", "reuse", "--connections", 3, "--messages", 12, rc=1)
    srv.stop()
    assert r["errors"]["tls_handshake"] == 3 and r["tls"]["failed"] == 3 and r["transactions_started"] == 0
    assert "no transaction could be started" in err, err


def test_tls_handshake_timeout(bench):
    """A server that never answers the ClientHello: the handshake times
    out; a timeout, and a failed handshake."""
    with silent_server() as target:
        r, _ = bench(target, "--tls", "--connections", 3, "--messages", 6, "--timeout", 1, rc=1)
    assert r["errors"]["timeout"] == 3 and r["errors"]["tls_handshake"] == 0
    assert r["tls"]["failed"] == 3 and r["tls"]["handshakes"] == 0 and r["sessions"] == 3


def test_tls_no_starttls_offered(smtpsink, bench):
    """--starttls against a server without a certificate: STARTTLS is not
    in the EHLO reply, so the sessions QUIT in clear (extension_missing)."""
    srv = smtpsink("--discard")
    r, _ = bench(f"127.0.0.1:{srv.port}", "--starttls", "--connections", 2, "--messages", 4, rc=1)
    srv.stop()
    assert r["errors"]["extension_missing"] == 2 and r["tls"]["handshakes"] == 0 and r["tls"]["failed"] == 0
    assert r["transactions_started"] == 0


def test_tls_protocols_and_sni(smtpsink, bench, spool_ls, tmp_path):
    spool = tmp_path / "spool"
    srv = tls_sink(smtpsink, "--spool", str(spool), "--sync", "none", "--no-http")
    r, _ = bench(tls_target(srv, "starttls"), "--starttls", "--tls-protocols", "TLSv1.2", "--tls-sni", "mx.sni.test",
                 "--tls-ciphers", "ECDHE-ECDSA-AES128-GCM-SHA256", "--connections", 2, "--messages", 10)
    srv.stop()
    no_errors(r)
    records = spool_ls(spool)
    assert len(records) == 10
    for rec in records:
        assert rec["tls"] == "TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256" and rec["tls_sni"] == "mx.sni.test", rec


@pytest.mark.parametrize("args,why", [
    (["--starttls", "--tls"], "--starttls or --tls, not both"),
    (["--tls-resume"], "need --starttls or --tls"),
    (["--tls", "--tls-protocols", "SSLv3"], "--tls-protocols takes TLSv1.2 and/or TLSv1.3"),
    (["--tls", "--tls-ciphers", "NO-SUCH-CIPHER"], "TLS: --tls-ciphers"),
])
def test_tls_bad_options(bench_bin, args, why):
    p = subprocess.run([str(bench_bin), *args, "127.0.0.1:1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30)
    assert p.returncode == 2 and why in p.stderr.decode(), p.stderr


TLS_PROGRESS_RE = re.compile(r"^\s*([\d.]+) s\s+(\d+) msg/s\s+(\d+) messages\s+p99 message\s+([\d.]+|-) us"
                             r"\s+(\d+) errors\s+(\d+) open\s+(\d+) hs/s\s*$")


def test_tls_summary_and_progress(smtpsink, bench_bin):
    """The summary's TLS row, the tls_handshake latency row, and the
    handshake rate on the progress line."""
    srv = tls_sink(smtpsink, "--discard")
    p = subprocess.run([str(bench_bin), "--progress", "--tls", "--tls-resume", "--mode", "connect", "--rate", "100",
                        "--duration", "2.5", "--connections", "4", tls_target(srv, "tls")],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    srv.stop()
    assert p.returncode == 0, p.stderr
    out = p.stdout.decode()
    m = re.search(r"\n  TLS \(implicit, --tls-resume\): (\d+) handshakes \(([\d.]+)/s\): (\d+) full, (\d+) resumed, "
                  r"0 failed\n", out)
    assert m, out
    handshakes, full, resumed = int(m.group(1)), int(m.group(3)), int(m.group(4))
    # open loop: a slot connects when a message is due, so at 100/s the
    # first ticket is usually back before a second slot is needed
    assert handshakes == full + resumed and 1 <= full <= 4 and 200 <= handshakes <= 260, out
    assert re.search(r"\n  tls_handshake +%d " % handshakes, out), out
    lines = [ln for ln in p.stderr.decode().replace("\r", "\n").split("\n") if ln.strip()]
    rows = [TLS_PROGRESS_RE.match(ln) for ln in lines]
    assert len(rows) >= 2 and all(rows), lines
    assert 50 <= int(rows[-1].group(7)) <= 150, lines  # about --rate 100: one handshake per message


def test_tls_prometheus(smtpsink, bench_bin):
    """The final metrics: handshakes by result and the handshake latency
    histogram equal the JSON report."""
    srv = tls_sink(smtpsink, "--discard")
    port = free_port()
    p = subprocess.Popen([str(bench_bin), "--json", "--prometheus", f"127.0.0.1:{port}", "--prometheus-linger", "60",
                          "--starttls", "--tls-resume", "--mode", "connect", "--connections", "3", "--messages", "60",
                          tls_target(srv, "starttls")], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        r = read_json_report(p.stdout)
        deadline = time.monotonic() + 30
        final, text = scrape(port)
        while final[("smtpsink_bench_running", None)] != 0 and time.monotonic() < deadline:
            time.sleep(0.05)  # the final counts are published right after the report
            final, text = scrape(port)
    finally:
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=30)
    srv.stop()
    assert p.returncode == 0, err
    t = r["tls"]
    assert final[("smtpsink_bench_running", None)] == 0
    assert final[("smtpsink_bench_tls_handshakes_total", "ok")] == t["full"] == 3
    assert final[("smtpsink_bench_tls_handshakes_total", "resumed")] == t["resumed"] == 57
    assert final[("smtpsink_bench_tls_handshakes_total", "failed")] == t["failed"] == 0
    assert final[("smtpsink_bench_errors_total", "tls_handshake")] == 0
    lat = r["latency_us"]["tls_handshake"]
    assert final[("smtpsink_bench_tls_handshake_seconds_count", None)] == lat["count"] == 60
    assert final[("smtpsink_bench_tls_handshake_seconds_bucket", "+Inf")] == 60
    assert abs(final[("smtpsink_bench_tls_handshake_seconds_sum", None)] - lat["mean"] * 60 / 1e6) < 1e-3 * 60
    promtool_quiet(text)
