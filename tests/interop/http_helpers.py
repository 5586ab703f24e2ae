"""What the HTTP API tests share (test_http_api.py): a server with a spool
and its HTTP port, a small HTTP client, raw requests over a socket, and
mail sent with smtplib.

Written from issue 13 and Mailpit's API (field names, paths, semantics),
not from smtpsink's implementation: these tests are the second opinion.

Owns: the api_server fixture factory (smtpsink --spool DIR --http
127.0.0.1:PORT, restartable on the same spool), `Api` (http.client, one
connection per request, every call bounded in time), `raw_http` (exact
bytes over a socket, for malformed requests), `send_mail` (smtplib; returns
the queue ID of the 250 reply, which is the API's message ID) and
`wait_total` (the index is fed asynchronously: a message shows in the API
shortly after its 250).  Does not hold tests.  Standard library only.
"""

import base64
import http.client
import json
import re
import smtplib
import socket
import time
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY

import pytest

import conftest
from interop_helpers import HOST, free_port, is_listening, wait_for
from spool_helpers import launch

HTTP_TIMEOUT = 15.0  # one request on a loaded 2-core machine
INDEX_TIMEOUT = 20.0  # a message's 250 until the API lists it
QUEUED_RE = re.compile(r"queued as ([\x21-\x7e]{1,40})")


class Resp:
    """One HTTP response: status, headers (case-insensitive get), body."""

    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body

    def header(self, name):
        return self.headers.get(name)

    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise AssertionError("not JSON (%s): status %d, body %r" % (e, self.status, self.body[:500]))

    def __repr__(self):
        return "Resp(%d %s, %r)" % (self.status, self.reason, self.body[:300])


class Api:
    """HTTP requests to one server; auth is (user, password) or None."""

    def __init__(self, port, host=HOST, auth=None):
        self.host = host
        self.port = port
        self.auth = auth

    def request(self, method, path, body=None, headers=None, auth=None, timeout=HTTP_TIMEOUT):
        hdrs = dict(headers or {})
        cred = auth if auth is not None else self.auth
        if cred:
            hdrs["Authorization"] = "Basic " + base64.b64encode(("%s:%s" % cred).encode()).decode()
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            body = body.encode()
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=hdrs)
            r = conn.getresponse()
            return Resp(r.status, r.reason, r.headers, r.read())
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def ok_json(self, method, path, body=None, **kw):
        """The JSON of a request that must answer 200 application/json."""
        r = self.request(method, path, body=body, **kw)
        assert r.status == 200, "%s %s: %r" % (method, path, r)
        ctype = r.header("Content-Type") or ""
        assert ctype.startswith("application/json"), "%s %s: Content-Type %r" % (method, path, ctype)
        return r.json()

    def messages(self, start=None, limit=None):
        q = [("start", start), ("limit", limit)]
        qs = "&".join("%s=%s" % (k, v) for k, v in q if v is not None)
        return self.ok_json("GET", "/api/v1/messages" + ("?" + qs if qs else ""))

    def search(self, query, **params):
        from urllib.parse import urlencode
        return self.ok_json("GET", "/api/v1/search?" + urlencode(dict(query=query, **params)))

    def ids(self):
        """IDs of every message, newest first (one page of up to 1000)."""
        return [m["ID"] for m in self.messages(limit=1000)["messages"]]


def assert_json_error(r, statuses, what=""):
    """r is one of statuses (a 4xx/5xx) with a JSON body {"Error": "..."}."""
    assert r.status in statuses, "%s: expected one of %s, got %r" % (what, statuses, r)
    ctype = r.header("Content-Type") or ""
    assert ctype.startswith("application/json"), "%s: error Content-Type %r, body %r" % (what, ctype, r.body)
    err = r.json()
    assert isinstance(err, dict) and isinstance(err.get("Error"), str) and err["Error"], \
        "%s: error body is not {\"Error\": \"...\"}: %r" % (what, r.body)


def raw_http(port, data, timeout=10.0, host=HOST):
    """Send data, read until the server closes or stops sending for
    timeout; return (status or None, everything read, closed)."""
    s = socket.create_connection((host, port), timeout=timeout)
    got = b""
    closed = False
    try:
        s.sendall(data)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            s.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            got += chunk
            if b"\r\n\r\n" in got and not closed:
                s.settimeout(1.0)  # the rest of a response, then see if it closes
                deadline = min(deadline, time.monotonic() + 2.0)
    finally:
        s.close()
    m = re.match(rb"HTTP/1\.[01] (\d{3})", got)
    return (int(m.group(1)) if m else None), got, closed


def make_message(subject="hello", frm="alice@example.com", to=("bob@example.com",), cc=(), bcc=(),
                 reply_to=None, text="Hello there.\n", html=None, attachments=(), inline=(),
                 message_id=None, headers=()):
    """An EmailMessage; attachments: (filename, mimetype, bytes); inline:
    (content_id, mimetype, bytes) related to the HTML part."""
    m = EmailMessage(policy=SMTP_POLICY)
    m["From"] = frm
    m["To"] = ", ".join(to)
    if cc:
        m["Cc"] = ", ".join(cc)
    if bcc:
        m["Bcc"] = ", ".join(bcc)
    if reply_to:
        m["Reply-To"] = reply_to
    m["Subject"] = subject
    m["Message-ID"] = message_id or "<%s@interop.example>" % re.sub(r"\W", "", subject + str(time.time_ns()))
    m["Date"] = "Mon, 07 Dec 2026 21:00:00 +0000"
    for k, v in headers:
        m[k] = v
    m.set_content(text)
    if html is not None:
        m.add_alternative(html, subtype="html")
        for cid, mtype, data in inline:
            main, sub = mtype.split("/")
            m.get_payload()[1].add_related(data, maintype=main, subtype=sub, cid="<%s>" % cid)
    for name, mtype, data in attachments:
        main, sub = mtype.split("/")
        m.add_attachment(data, maintype=main, subtype=sub, filename=name)
    return m


def send_mail(port, msg=None, sender="alice@example.com", rcpts=None, **kw):
    """Send one message (EmailMessage or bytes) with smtplib; return
    (queue ID, the exact bytes the server received as content)."""
    if msg is None:
        msg = make_message(**kw)
    data = msg.as_bytes() if isinstance(msg, EmailMessage) else msg
    if rcpts is None:
        rcpts = ["bob@example.com"]
    with smtplib.SMTP(HOST, port, timeout=60) as s:
        s.ehlo("interop.example")
        code, resp = s.mail(sender)
        assert code == 250, (code, resp)
        for r in rcpts:
            code, resp = s.rcpt(r)
            assert code in (250, 251), (code, resp)
        code, resp = s.data(data)
        assert code == 250, (code, resp)
        m = QUEUED_RE.search(resp.decode("utf-8", "replace"))
        assert m, "no queue ID in %r" % resp
    # smtplib ends the content with CRLF when it does not already
    return m.group(1), data if data.endswith(b"\r\n") else data + b"\r\n"


def wait_total(api, n, timeout=INDEX_TIMEOUT):
    """Wait until the API lists exactly n messages; return the list reply."""
    last = {}

    def check():
        last["r"] = api.messages(limit=1000)
        return last["r"] if last["r"]["total"] == n and len(last["r"]["messages"]) == n else None
    try:
        return wait_for(check, timeout, interval=0.1, what="%d messages in the API" % n)
    except AssertionError:
        raise AssertionError("the API does not list %d messages within %.0f s; last reply: total %s, %d listed"
                             % (n, timeout, last["r"].get("total"), len(last["r"].get("messages", []))))


@pytest.fixture
def api_server(spool_server, tmp_path):
    """Factory: api_server(*extra, spool=DIR, http_port=None, auth=None) ->
    a conftest.Server with .http_port, .spool and .api (an Api).

    smtpsink runs with --spool (default tmp_path/spool) and --http
    127.0.0.1:<free port>; it counts as started once both ports listen.
    Stopped at teardown by spool_server's factory (SIGTERM, exit 0)."""
    def start(*extra, spool=None, http_port=None, auth=None):
        spool = spool or tmp_path / "spool"
        hp = http_port or free_port()
        srv = spool_server(spool, "--http", "%s:%d" % (HOST, hp), *extra, io="epoll")
        wait_for(lambda: is_listening(hp) or not srv.running(), conftest.START_TIMEOUT,
                 what="the HTTP port %d to listen" % hp)
        assert srv.running(), "smtpsink exited: %s" % srv.stderr_tail()
        srv.http_port = hp
        srv.spool = spool
        srv.api = Api(hp, auth=auth)
        return srv
    return start
