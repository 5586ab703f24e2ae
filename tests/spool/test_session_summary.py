"""`smtpsink-spool sessions --summary` and the filters --fault[=RULE],
--refused, --aborted, --client, --since on a real server's spool, with
fault rules firing; named fault rules in `session ID`; and who closed a
session (client QUIT, client drop, server timeout, fault disconnect): the
transcript's last line and the session report say the same.

The test sends a known set of sessions (see SENT) and checks every total
against it, so a session counted twice, a rule counted under another
name or a closing reason mixed up fails.
"""

import json
import re
import socket
import time

from spool_helpers import HOST, tool

RCPT_RULE = "rcpt:reply=550 5.1.1 No such user:domain=bad.example"
MAIL_RULE = "mail:disconnect:domain=drop.example"
TIMEOUT_S = 1


class Client:
    """A line-at-a-time SMTP client on a raw socket (source: a local address)."""

    def __init__(self, port, source=HOST):
        self.sock = socket.create_connection((HOST, port), timeout=10, source_address=(source, 0))
        self.buf = b""
        self.port = self.sock.getsockname()[1]

    def reply(self):
        """The code of the next reply (None: the server closed)."""
        while True:
            lines = self.buf.split(b"\r\n")
            for i, ln in enumerate(lines[:-1]):
                if len(ln) >= 4 and ln[3:4] == b" ":
                    self.buf = b"\r\n".join(lines[i + 1:])
                    return int(ln[:3])
            data = self.sock.recv(4096)
            if not data:
                return None
            self.buf += data

    def cmd(self, line, want):
        self.sock.sendall(line.encode() + b"\r\n")
        got = self.reply()
        assert got == want, "%s: got %r, want %r" % (line, got, want)

    def greet(self):
        assert self.reply() == 220
        self.cmd("EHLO client.example", 250)

    def message(self, rcpts_ok, rcpts_bad=()):
        self.cmd("MAIL FROM:<s@example.com>", 250)
        for r in rcpts_ok:
            self.cmd("RCPT TO:<%s>" % r, 250)
        for r in rcpts_bad:
            self.cmd("RCPT TO:<%s>" % r, 550)
        self.cmd("DATA", 354)
        self.cmd("Subject: t\r\n\r\nbody\r\n.", 250)

    def quit(self):
        self.cmd("QUIT", 221)
        self.wait_closed()

    def wait_closed(self):
        self.sock.settimeout(10)
        while self.sock.recv(4096):
            pass
        self.sock.close()


def send_all(port):
    """The sessions of SENT; returns {local port: kind}."""
    kinds = {}

    def done(c, kind):
        kinds[c.port] = kind

    for _ in range(3):  # plain: a message, QUIT
        c = Client(port)
        c.greet()
        c.message(["a@example.com"])
        c.quit()
        done(c, "plain")
    for _ in range(2):  # the rcpt rule fires once each; the message still goes
        c = Client(port)
        c.greet()
        c.message(["a@example.com"], ["x@bad.example"])
        c.quit()
        done(c, "rcpt-fault")
    c = Client(port)  # the mail rule drops the connection: no reply at all
    c.greet()
    c.sock.sendall(b"MAIL FROM:<s@drop.example>\r\n")
    assert c.reply() is None
    c.sock.close()
    done(c, "fault-drop")
    c = Client(port)  # an aborted transaction
    c.greet()
    c.cmd("MAIL FROM:<s@example.com>", 250)
    c.cmd("RCPT TO:<a@example.com>", 250)
    c.cmd("RSET", 250)
    c.quit()
    done(c, "aborted")
    c = Client(port)  # the client drops after EHLO
    c.greet()
    c.sock.close()
    done(c, "client-drop")
    c = Client(port)  # the server times out
    c.greet()
    assert c.reply() == 421  # 421 4.4.2 after --timeout
    c.wait_closed()
    done(c, "timeout")
    c = Client(port, source="127.0.0.2")  # another client address
    c.greet()
    c.message(["a@example.com", "b@example.com"])
    c.quit()
    done(c, "other-client")
    time.sleep(0.3)  # the last reports reach the spool
    return kinds


def sessions(spool, *args, check=0):
    p = tool(spool, "sessions", "--json", *args, check=check, text=True)
    return [json.loads(ln) for ln in p.stdout.splitlines()]


def summary(spool, *args):
    p = tool(spool, "sessions", "--summary", "--json", *args, check=0, text=True)
    assert len(p.stdout.splitlines()) == 1, p.stdout
    return json.loads(p.stdout)


def trace_closings(path):
    """{session ID: (by, reason)} from each session's last transcript line."""
    out = {}
    for ln in path.read_text().splitlines():
        m = re.match(r"^\S+ (\S+) -- closed by the (client|server): ([a-z-]+)", ln)
        if m:
            out[m.group(1)] = (m.group(2), m.group(3))
    return out


def test_summary_filters_and_closings(server, tmp_path):
    trace = tmp_path / "trace.log"
    srv = server("--fault", RCPT_RULE, "--fault", MAIL_RULE, "--timeout", "%ds" % TIMEOUT_S, "--trace", trace)
    kinds = send_all(srv.port)
    assert srv.stop() == 0
    spool = srv.spool
    # the rules' canonical texts, as the server's exit summary names them
    fired = dict(re.findall(r"fault rule '([^']*)' fired (\d+) times", srv.stderr()))
    assert sorted(fired.values()) == ["1", "2"], srv.stderr()
    rcpt_rule = next(r for r in fired if r.startswith("rcpt:"))
    mail_rule = next(r for r in fired if r.startswith("mail:"))

    listed = {s["client"]["port"]: s for s in sessions(spool)}
    assert sorted(kinds) == sorted(listed), (kinds, listed.keys())
    kind_of = {s["id"]: kinds[port] for port, s in listed.items()}

    # session ID names the rules
    for port, s in listed.items():
        if kinds[port] == "rcpt-fault":
            assert s["fault_rules"] == [{"rule": rcpt_rule, "count": 1}] and s["faults_unnamed"] == 0, s
            text = tool(spool, "session", s["id"], check=0, text=True).stdout
            assert re.search(r"^Faults: +1 fired\n +1 x %s$" % re.escape(rcpt_rule), text, re.M), text
        elif kinds[port] == "fault-drop":
            assert s["fault_rules"] == [{"rule": mail_rule, "count": 1}], s
        else:
            assert s["faults"] == 0 and s["fault_rules"] == [], s

    # the totals against what was sent
    t = summary(spool)
    assert t["sessions"] == 10
    assert t["outcomes"]["completed"] == {"transactions": 6, "sessions": 6}, t
    assert t["outcomes"]["refused"] == {"transactions": 0, "sessions": 0}, t
    assert t["outcomes"]["aborted"] == {"transactions": 1, "sessions": 1}, t
    assert t["outcomes"]["none"] == {"sessions": 3}, t  # fault-drop, client-drop, timeout
    assert (t["mail_refused"], t["rcpts_refused"], t["rcpts_accepted"]) == (1, 2, 8), t
    assert t["refused_sessions"] == 3, t
    closed = {(c["by"], c["reason"]): c["sessions"] for c in t["closed"]}
    assert closed == {("client", "quit"): 7, ("client", "disconnect"): 1, ("server", "timeout"): 1,
                      ("server", "fault"): 1}, t
    assert t["faults"] == {"firings": 3, "sessions": 3, "unnamed": 0, "unnamed_sessions": 0,
                           "rules": [{"rule": rcpt_rule, "firings": 2, "sessions": 2},
                                     {"rule": mail_rule, "firings": 1, "sessions": 1}]}, t
    assert t["clients"] == [{"family": "ipv4", "addr": "127.0.0.1", "sessions": 9, "messages": 5},
                            {"family": "ipv4", "addr": "127.0.0.2", "sessions": 1, "messages": 1}], t
    table = tool(spool, "sessions", "--summary", check=0, text=True).stdout
    assert re.search(r"^Sessions: 10, connected ", table, re.M), table
    assert re.search(r"^ +2 +2  %s$" % re.escape(rcpt_rule), table, re.M), table
    assert re.search(r"^server +timeout +1$", table, re.M), table

    # the filters, each against the sessions it must select
    def kinds_of(*args):
        return sorted(kind_of[s["id"]] for s in sessions(spool, *args))

    assert kinds_of("--fault") == ["fault-drop", "rcpt-fault", "rcpt-fault"]
    assert kinds_of("--fault=rcpt:*") == ["rcpt-fault", "rcpt-fault"]
    assert kinds_of("--fault=" + mail_rule) == ["fault-drop"]
    assert kinds_of("--fault=helo:*") == []
    assert kinds_of("--refused") == ["fault-drop", "rcpt-fault", "rcpt-fault"]
    assert kinds_of("--aborted") == ["aborted"]
    assert kinds_of("--client", "127.0.0.2") == ["other-client"]
    assert kinds_of("--since", "10m") == sorted(kinds.values())
    assert kinds_of("--since", "2100-01-01") == []
    assert kinds_of("--fault", "--refused", "--client", "127.0.0.0/8") == ["fault-drop", "rcpt-fault", "rcpt-fault"]
    assert summary(spool, "--fault=rcpt:*")["sessions"] == 2
    assert summary(spool, "--aborted")["outcomes"]["aborted"]["transactions"] == 1
    p = tool(spool, "sessions", "--summary", "--limit", "3", check=2, text=True)
    assert "--limit" in p.stderr

    # who closed: the transcript's last line and the report agree
    closings = trace_closings(trace)
    want = {"plain": ("client", "quit"), "client-drop": ("client", "disconnect"),
            "timeout": ("server", "timeout"), "fault-drop": ("server", "fault")}
    for s in listed.values():
        kind = kind_of[s["id"]]
        assert closings[s["id"]] == (s["closed_by"], s["end_reason"]), (kind, closings[s["id"]], s)
        if kind in want:
            assert closings[s["id"]] == want[kind], (kind, s)
            text = tool(spool, "session", s["id"], check=0, text=True).stdout
            m = re.search(r"^End: +(\S+) \(the (client|server) closed\)$", text, re.M)
            assert m and (m.group(2), m.group(1).lower()) == want[kind], text
