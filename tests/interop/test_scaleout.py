"""Scale-out past one machine (docs/SCALE-OUT.md): two smtpsink nodes
(--node-id 1 and 2, a spool each, --proxy-from 127.0.0.1) behind a real
HAProxy on loopback running tests/interop/scaleout/haproxy.cfg as it is
(mode tcp, balance roundrobin, send-proxy-v2).

N messages go through HAProxy, each on its own connection, from two client
addresses (127.0.0.2 and 127.0.0.3).  Then `smtpsink-spool --spool A
--spool B ls --json` must list every message exactly once, both nodes must
have taken some, and each message's client address must be the real
client's (the PROXY header's), not HAProxy's 127.0.0.1.  The same listing
with node 2 read through its HTTP API (--remote, with basic auth) instead
of its spool; cat of a message on the remote node; the Prometheus config
of the doc passes promtool and each node's /metrics counts its messages.
"""

import base64
import json
import os
import re
import shutil
import smtplib
import subprocess
import urllib.request
from pathlib import Path

import pytest

from interop_helpers import HOST, HAProxy, free_port, is_listening, need_tool, spool_tool_path, wait_for

HERE = Path(__file__).resolve().parent / "scaleout"
N = 40
CLIENTS = ("127.0.0.2", "127.0.0.3")
AUTH = ("reader", "s3cret")


@pytest.fixture
def haproxy_lb(tmp_path):
    """haproxy_lb(node_ports) -> the front port; scaleout/haproxy.cfg, stopped at the end."""
    procs = []

    def start(node_ports):
        front = free_port()
        env = dict(os.environ, SMTP_BIND="%s:%d" % (HOST, front),
                   SINK_NODE1="%s:%d" % (HOST, node_ports[0]), SINK_NODE2="%s:%d" % (HOST, node_ports[1]))
        procs.append(HAProxy(HERE / "haproxy.cfg", tmp_path / "haproxy.log", (front,), env=env))
        return front

    yield start
    for proc in procs:
        proc.stop()


def start_node(any_server, tmp_path, node_id, auth_file=None):
    spool, hp = tmp_path / ("spool%d" % node_id), free_port()
    extra = ["--node-id", node_id, "--spool", spool, "--proxy-from", "127.0.0.1", "--http", "%s:%d" % (HOST, hp)]
    if auth_file:
        extra += ["--http-auth", auth_file]
    srv = any_server(*extra, discard=False)
    wait_for(lambda: is_listening(hp) or not srv.running(), 20, what="node %d's HTTP port" % node_id)
    srv.spool, srv.http_port = spool, hp
    return srv


def send_through(front, i):
    """Message i from CLIENTS[i % 2], on its own connection: (queue ID, client address)."""
    src = CLIENTS[i % len(CLIENTS)]
    with smtplib.SMTP(HOST, front, local_hostname="client.example", timeout=30, source_address=(src, 0)) as s:
        s.ehlo()
        s.mail("sender%d@example.com" % i)
        s.rcpt("rcpt@example.com")
        code, resp = s.data(b"Subject: scale-out %d\r\n\r\nthrough haproxy\r\n" % i)
    assert code == 250, resp
    return resp.decode().rsplit(" ", 1)[-1], src


def spool_cli(*args, check=0):
    p = subprocess.run([spool_tool_path()] + [str(a) for a in args], capture_output=True, text=True, timeout=60)
    assert p.returncode == check, "%s: exit %d\n%s" % (args, p.returncode, p.stderr[-3000:])
    return p


def http_get(port, path, auth=None):
    req = urllib.request.Request("http://%s:%d%s" % (HOST, port, path))
    if auth:
        req.add_header("Authorization", "Basic " + base64.b64encode(("%s:%s" % auth).encode()).decode())
    with urllib.request.urlopen(req, timeout=15) as r:
        return r.read()


def test_two_nodes_behind_haproxy(any_server, haproxy_lb, tmp_path):
    auth_file = tmp_path / "http-auth"
    auth_file.write_text("%s:%s\n" % AUTH)
    nodes = [start_node(any_server, tmp_path, 1), start_node(any_server, tmp_path, 2, auth_file)]
    front = haproxy_lb([n.port for n in nodes])
    sent = dict(send_through(front, i) for i in range(N))
    assert len(sent) == N

    rows = [json.loads(ln) for ln in spool_cli("--spool", nodes[0].spool, "--spool", nodes[1].spool,
                                               "ls", "--json").stdout.splitlines()]
    assert sorted(r["qid"] for r in rows) == sorted(sent)  # every message exactly once
    by_node = {str(n.spool): [r for r in rows if r["source"] == str(n.spool)] for n in nodes}
    assert all(len(v) >= N // 4 for v in by_node.values()), {k: len(v) for k, v in by_node.items()}
    for node_id, node in enumerate(nodes, 1):
        assert {r["node"] for r in by_node[str(node.spool)]} == {node_id}
    assert {r["qid"]: r["client"]["addr"] for r in rows} == sent  # the real clients', not haproxy's
    times = [r["received_us"] for r in rows]
    assert times == sorted(times, reverse=True)

    # node 2 through its HTTP API instead of its spool, merged with node 1's spool
    remote = "http://%s:%s@%s:%d" % (AUTH + (HOST, nodes[1].http_port))
    on_2 = {r["qid"] for r in by_node[str(nodes[1].spool)]}
    wait_for(lambda: len(json.loads(http_get(nodes[1].http_port, "/api/v1/messages", AUTH))["messages"])
             == len(on_2), 20, what="node 2's index")
    mixed = [json.loads(ln) for ln in spool_cli("--spool", nodes[0].spool, "--remote", remote,
                                                "ls", "--json").stdout.splitlines()]
    assert sorted(r["qid"] for r in mixed) == sorted(sent)
    assert {r["qid"] for r in mixed if r["source"] == "http://%s:%d" % (HOST, nodes[1].http_port)} == on_2
    assert [r["qid"] for r in mixed] == [r["qid"] for r in rows]  # the same merge order
    qid = sorted(on_2)[0]
    local = spool_cli("--spool", nodes[1].spool, "cat", qid).stdout
    assert spool_cli("--spool", nodes[0].spool, "--remote", remote, "cat", qid).stdout == local
    shown = json.loads(spool_cli("--remote", remote, "show", "--json", qid).stdout)
    assert shown["node"] == 2 and {"name": "Subject", "value": "scale-out %d" % int(
        [r for r in rows if r["qid"] == qid][0]["subject"].split()[-1])} in shown["headers"]
    p = spool_cli("--remote", "http://%s:%d" % (HOST, nodes[1].http_port), "ls", check=3)
    assert "HTTP 401" in p.stderr

    # Prometheus: the doc's config passes promtool; each node counts its own messages
    prom = tmp_path / "prom"
    prom.mkdir()
    shutil.copy(HERE / "prometheus.yml", prom)
    (prom / "nodes.json").write_text(json.dumps([{"targets": ["%s:%d" % (HOST, n.http_port) for n in nodes]}]))
    p = subprocess.run([need_tool("promtool"), "check", "config", str(prom / "prometheus.yml")],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    for node, auth in zip(nodes, (None, AUTH)):
        text = http_get(node.http_port, "/metrics", auth).decode()
        total = sum(float(ln.split()[-1]) for ln in text.splitlines()
                    if ln.startswith("smtpsink_messages_accepted_total"))
        assert total == len(by_node[str(node.spool)])
    # and a real Prometheus scraping both nodes (node 2 behind basic auth):
    # each instance's count, and the cluster's sum
    from test_metrics import Prometheus  # noqa: E402 (the metrics tests' runner)
    prom_dir = tmp_path / "prom-run"
    prom_dir.mkdir()
    p = Prometheus(prom_dir, nodes[0].http_port, more=[(nodes[1].http_port, "%s:%s" % AUTH)])
    try:
        for node in nodes:
            p.wait_value('sum(smtpsink_messages_accepted_total{instance="%s:%d"})' % (HOST, node.http_port),
                         float(len(by_node[str(node.spool)])))
        p.wait_value("sum(smtpsink_messages_accepted_total)", float(len(rows)))
    finally:
        p.stop()


def test_doc_shows_the_files_the_test_runs():
    """docs/SCALE-OUT.md's copy of each scaleout/ file (after its
    "<!-- file: PATH -->" marker) is that file, byte for byte."""
    doc = (HERE.parents[2] / "docs" / "SCALE-OUT.md").read_text()
    shown = re.findall(r"<!-- file: (\S+) -->\n```\n(.*?)```\n", doc, re.S)
    assert sorted(p for p, _ in shown) == sorted("tests/interop/scaleout/" + f.name for f in HERE.iterdir())
    for path, text in shown:
        assert text == (HERE.parents[2] / path).read_text(), path
