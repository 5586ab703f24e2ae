"""Live metrics (issue 15): GET /metrics scraped by a real Prometheus,
--stats lines, --exit-after and --exit-after-time, RuntimeStats.

Owns: that a Prometheus server (Debian's /usr/bin/prometheus) scrapes
/metrics and its query API then agrees with smtpsink-bench's own counts
(messages accepted, recipients, replies by code); that `promtool check
metrics` has nothing to say about a scrape (also with a fault rule whose
text needs escaping); /metrics behind --http-auth; /api/v1/info's
RuntimeStats from the same counters; the --stats lines and the total at
exit; --exit-after N (exit 0 by itself, exactly N messages in the spool,
the rest refused) and --exit-after-time.

Skips (with the reason) only when prometheus/promtool are not installed
(Debian package `prometheus`; tools/test installs it).
"""
import base64
import json
import os
import re
import shutil
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from interop_helpers import HOST, free_port, is_listening, wait_for
from test_faults import bench, build_tool, spool_qids

SCRAPE_TIMEOUT = 60.0


def need(tool):
    p = shutil.which(tool) or ("/usr/bin/" + tool if os.access("/usr/bin/" + tool, os.X_OK) else None)
    if p is None:
        pytest.skip("%s is not installed (Debian package prometheus: apt-get install prometheus)" % tool)
    return p


def http_get(port, path, auth=None, timeout=10.0):
    req = urllib.request.Request("http://%s:%d%s" % (HOST, port, path))
    if auth is not None:
        req.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()


def start_http_server(any_server, tmp_path, *extra):
    """smtpsink with a spool and --http on a free port; .http_port set."""
    hp = free_port()
    srv = any_server("--spool", tmp_path / "spool", "--http", "%s:%d" % (HOST, hp), "--shards", "2", *extra,
                     discard=False)
    wait_for(lambda: is_listening(hp) or not srv.running(), 15, what="the HTTP port to listen")
    assert srv.running(), srv.stderr_tail()
    srv.http_port = hp
    return srv


def promtool_check(text):
    p = subprocess.run([need("promtool"), "check", "metrics"], input=text, capture_output=True, text=True,
                       timeout=60)
    return p.returncode, (p.stdout + p.stderr).strip()


def samples(text, name):
    """{labels text: value} of one metric in an exposition."""
    out = {}
    for ln in text.splitlines():
        m = re.match(r"^%s(\{[^}]*\})? (\S+)$" % re.escape(name), ln)
        if m:
            out[m.group(1) or ""] = float(m.group(2))
    return out


class Prometheus:
    """/usr/bin/prometheus scraping one target (or several: more=[(port,
    auth), ...], a job each) every second."""

    def __init__(self, tmp_path, target_port, auth=None, more=()):
        self.port = free_port()
        cfg = tmp_path / "prometheus.yml"
        job = ["scrape_configs:"]
        for i, (port, creds) in enumerate([(target_port, auth)] + list(more)):
            job += ["  - job_name: smtpsink%s" % ("" if i == 0 else "-%d" % i), "    scrape_interval: 1s",
                    "    metrics_path: /metrics", "    static_configs:",
                    "      - targets: ['%s:%d']" % (HOST, port)]
            if creds is not None:
                user, pw = creds.split(":", 1)
                job += ["    basic_auth:", "      username: %s" % user, "      password: %s" % pw]
        cfg.write_text("global:\n  scrape_interval: 1s\n" + "\n".join(job) + "\n")
        self.log = open(tmp_path / "prometheus.log", "wb")
        self.proc = subprocess.Popen([need("prometheus"), "--config.file", str(cfg),
                                      "--storage.tsdb.path", str(tmp_path / "tsdb"),
                                      "--web.listen-address", "%s:%d" % (HOST, self.port)],
                                     stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        wait_for(lambda: self.ready() or self.proc.poll() is not None, SCRAPE_TIMEOUT,
                 what="prometheus to be ready")
        assert self.proc.poll() is None, "prometheus exited: %s" % self.log_text()

    def log_text(self):
        self.log.flush()
        return open(self.log.name, errors="replace").read()[-3000:]

    def ready(self):
        try:
            return http_get(self.port, "/-/ready", timeout=2)[0] == 200
        except OSError:
            return False

    def query(self, expr):
        """{labels: value} of an instant query's vector."""
        st, _, body = http_get(self.port, "/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
        assert st == 200, body
        res = json.loads(body)["data"]["result"]
        return {json.dumps(r["metric"], sort_keys=True): float(r["value"][1]) for r in res}

    def value(self, expr):
        v = self.query(expr)
        return next(iter(v.values())) if len(v) == 1 else None

    def wait_value(self, expr, want):
        last = {}

        def check():
            last["v"] = self.value(expr)
            return last["v"] == want
        try:
            wait_for(check, SCRAPE_TIMEOUT, interval=0.5, what=expr)
        except AssertionError:
            raise AssertionError("prometheus: %s is %s, expected %s; its log:\n%s"
                                 % (expr, last.get("v"), want, self.log_text()))

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@pytest.fixture
def prometheus(tmp_path):
    started = []

    def start(target_port, auth=None):
        p = Prometheus(tmp_path, target_port, auth=auth)
        started.append(p)
        return p
    yield start
    for p in started:
        p.stop()


def test_prometheus_agrees_with_bench(any_server, prometheus, tmp_path):
    need("prometheus")
    srv = start_http_server(any_server, tmp_path)
    prom = prometheus(srv.http_port)
    res = bench(srv.port, "--messages", "300", "--connections", "6", "--rcpts", "2", "--size", "2000")
    assert res["messages"] == 300 and res["transactions_failed"] == 0, res
    prom.wait_value("sum(smtpsink_messages_accepted_total)", 300.0)
    prom.wait_value("sum(smtpsink_connections_total)", float(res["sessions"]))
    assert prom.value("sum(smtpsink_recipients_total)") == 600.0
    assert prom.value("sum(smtpsink_messages_refused_total)") == 0.0
    assert prom.value("up") == 1.0
    replies = {json.loads(k)["code"]: v for k, v in prom.query("smtpsink_replies_total").items()}
    assert replies == {str(code): float(n) for code, n in res["replies"].items()}, (replies, res["replies"])
    cmds = {json.loads(k)["verb"]: v for k, v in prom.query("smtpsink_commands_total").items()}
    assert cmds["MAIL"] == 300.0 and cmds["RCPT"] == 600.0 and cmds["DATA"] == 300.0, cmds
    # with --sync group every message waited for a sync: the histogram has them all
    assert prom.value("sum(smtpsink_end_of_data_to_reply_seconds_count)") == 300.0
    assert prom.value("sum(smtpsink_fsync_seconds_count)") >= 1.0
    assert prom.value("sum(smtpsink_sessions_open)") == 0.0
    # the shard label: one series per shard
    assert len(prom.query("smtpsink_connections_total")) == 2
    st, _, body = http_get(srv.http_port, "/api/v1/info")
    stats = json.loads(body)["RuntimeStats"]
    assert stats["SMTPAccepted"] == 300 and stats["SMTPRejected"] == 0, stats
    assert stats["SMTPAcceptedSize"] == res["message_bytes"], (stats, res["message_bytes"])


def test_promtool_finds_nothing(any_server, tmp_path):
    need("promtool")
    rule = 'rcpt:reply=550 5.1.1 No "such" user \\ here:p=0.5'
    srv = start_http_server(any_server, tmp_path, "--fault", rule, "--seed", "7")
    res = bench(srv.port, "--messages", "40", "--connections", "2")
    st, ctype, text = http_get(srv.http_port, "/metrics")
    assert st == 200 and ctype.startswith("text/plain; version=0.0.4"), (st, ctype)
    rc, out = promtool_check(text)
    assert rc == 0 and out == "", "promtool check metrics said:\n%s\n--- the text:\n%s" % (out, text)
    fired = samples(text, "smtpsink_faults_fired_total")
    assert list(fired) == ['{rule="rcpt:reply=550 5.1.1 No \\"such\\" user \\\\ here:p=0.5"}'], fired
    assert next(iter(fired.values())) == res["replies"].get(550, 0) > 0, (fired, res["replies"])
    assert samples(text, "smtpsink_replies_total")['{code="550"}'] == res["replies"][550]


def test_metrics_behind_auth(any_server, tmp_path):
    auth = tmp_path / "auth"
    auth.write_text("prom:secret\n")
    srv = start_http_server(any_server, tmp_path, "--http-auth", auth)
    assert http_get(srv.http_port, "/metrics")[0] == 401
    st, _, text = http_get(srv.http_port, "/metrics", auth="prom:secret")
    assert st == 200 and "# TYPE smtpsink_messages_accepted_total counter" in text


def test_messages_deleted(any_server, tmp_path):
    srv = start_http_server(any_server, tmp_path)
    bench(srv.port, "--messages", "5", "--connections", "1")

    def listed():
        return json.loads(http_get(srv.http_port, "/api/v1/messages")[2])["total"] == 5
    wait_for(listed, 30, what="the index to list 5 messages")
    req = urllib.request.Request("http://%s:%d/api/v1/messages" % (HOST, srv.http_port), method="DELETE")
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200
    stats = json.loads(http_get(srv.http_port, "/api/v1/info")[2])["RuntimeStats"]
    assert stats["MessagesDeleted"] == 5 and stats["SMTPAccepted"] == 5, stats


STATS_RE = re.compile(r"^smtpsink: stats (\d+\.\d)s: (\d+\.\d) conn/s, (\d+\.\d) msg/s, (\d+) open, "
                      r"replies 2xx=(\d+) 3xx=(\d+) 4xx=(\d+) 5xx=(\d+), p99 end-of-data (-|\d+\.\d{3} ms)$")
TOTAL_RE = re.compile(r"^smtpsink: stats total (\d+\.\d)s: (\d+) connections, (\d+) messages \((\d+\.\d) msg/s\), "
                      r"replies 2xx=(\d+) 3xx=(\d+) 4xx=(\d+) 5xx=(\d+), p99 end-of-data (-|\d+\.\d{3} ms)$")


def test_stats_lines(any_server):
    srv = any_server("--stats", "1")
    res = bench(srv.port, "--messages", "200", "--connections", "4")
    wait_for(lambda: sum(1 for ln in srv.stderr_lines() if STATS_RE.match(ln)) >= 2, 15,
             what="two --stats lines")
    assert srv.stop() == 0
    lines = srv.stderr_lines()
    interval = [STATS_RE.match(ln) for ln in lines if ln.startswith("smtpsink: stats ") and "total" not in ln]
    assert interval and all(interval), "\n".join(lines)
    # the intervals add up to the run: replies of class 2xx, messages
    assert sum(int(m.group(5)) for m in interval) <= sum(n for c, n in res["replies"].items() if c // 100 == 2)
    totals = [TOTAL_RE.match(ln) for ln in lines if ln.startswith("smtpsink: stats total")]
    assert len(totals) == 1 and totals[0], "\n".join(lines)
    t = totals[0]
    assert int(t.group(2)) == res["sessions"] and int(t.group(3)) == 200, t.group(0)
    assert int(t.group(5)) == sum(n for c, n in res["replies"].items() if c // 100 == 2), (t.group(0), res)
    assert int(t.group(6)) == res["replies"][354] and t.group(9) != "-", t.group(0)


def test_exit_after(any_server, tmp_path):
    spool = tmp_path / "spool"
    srv = any_server("--spool", spool, "--exit-after", "7", discard=False)
    p = subprocess.run([build_tool("SMTPSINK_BENCH_BIN", "bench/smtpsink-bench"), "--json", "--no-progress",
                        "--messages", "30", "--connections", "3", "--max-failures", "1000000",
                        "--timeout", "10", "%s:%d" % (HOST, srv.port)], capture_output=True, text=True, timeout=120)
    assert srv.wait(timeout=30) == 0, srv.stderr_tail()  # no signal from us: it stopped by itself
    assert any("--exit-after 7: that many messages accepted" in ln for ln in srv.stderr_lines()), srv.stderr_tail()
    assert srv.summary()["messages"] == 7, srv.summary_line()
    assert len(spool_qids(str(spool))) == 7
    res = json.loads(p.stdout)
    assert res["replies"].get("250", 0) >= 7 and res["messages"] <= 7, res


def test_exit_after_time(any_server):
    t0 = time.monotonic()
    srv = any_server("--exit-after-time", "1")
    assert srv.wait(timeout=20) == 0, srv.stderr_tail()
    assert 0.9 <= time.monotonic() - t0 < 15
    assert any("--exit-after-time 1 s: shutting down" in ln for ln in srv.stderr_lines()), srv.stderr_tail()
    srv.summary_line()
