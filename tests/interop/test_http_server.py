"""The HTTP API (http/, issue 13) driven through the real server: curl-like
requests with urllib and raw sockets, mail sent with smtplib.

Owns: what the http/ developer built, end to end - health and info without
a spool, Mailpit's list/search/message/headers/raw/part/view endpoints and
their JSON, read flags and deletions (and the strict DELETE semantics),
the wait long poll (stored, arriving later, since, timeout), SSE and
websocket events (ping/pong, foreign Origin refused), chaos mapped onto
fault rules, session reports, NDJSON streaming, basic auth, security
headers, malformed requests (traversal, CL+TE, big bodies), unix: listeners.
An independent suite written from the issue text lives elsewhere; this one
checks this implementation.

Each test starts its own server on free loopback ports (any_server: io
auto) with a spool in tmp_path.
"""

import base64
import email.message
import hashlib
import json
import os
import smtplib
import socket
import struct
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from interop_helpers import HOST, free_port, spool_tool

SPOOL_ARGS = ("--max-size", "1M", "--segment-size", "8M")
INDEX_TIMEOUT = 20.0  # seconds for the indexer to see a message


def api_server(any_server, tmp_path, *extra, spool=True, http=None):
    """Start a server with the HTTP API; returns (server, base URL)."""
    http = http or "%s:%d" % (HOST, free_port())
    args = list(extra) + ["--http", http]
    if spool:
        args = ["--spool", str(tmp_path / "spool")] + list(SPOOL_ARGS) + args
    srv = any_server(*args, discard=not spool)
    deadline = time.monotonic() + 20
    while not any("HTTP API listening on" in ln for ln in srv.stderr_lines()):
        assert time.monotonic() < deadline, srv.stderr_tail()
        time.sleep(0.02)
    return srv, "http://" + http


class Reply:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)

    def header(self, name):
        return self.headers.get(name)


def call(url, method="GET", body=None, headers=None, timeout=30):
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return Reply(r.status, r.headers, r.read())
    except urllib.error.HTTPError as e:
        return Reply(e.code, e.headers, e.read())


def raw_http(port, data, timeout=5.0):
    """Send raw bytes; read until the peer closes or goes quiet."""
    s = socket.create_connection((HOST, port))
    s.sendall(data)
    s.settimeout(timeout)
    out, closed = b"", False
    try:
        while True:
            d = s.recv(65536)
            if not d:
                closed = True
                break
            out += d
    except socket.timeout:
        pass
    s.close()
    return out, closed


def port_of(base):
    return int(base.rsplit(":", 1)[1])


def open_request(port, path):
    """A connection with one GET sent, its answer not read."""
    s = socket.create_connection((HOST, port))
    s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode())
    return s


def send_mail(srv, subject, to=("alice@example.com",), body="hello world", html=None, attachment=None,
              sender="sender@example.com"):
    m = email.message.EmailMessage()
    m["From"] = "Sender Name <%s>" % sender
    m["To"] = ", ".join(to)
    m["Subject"] = subject
    m["Message-ID"] = "<%s@test.example>" % subject.replace(" ", "-")
    m.set_content(body)
    if html is not None:
        m.add_alternative(html, subtype="html")
    if attachment is not None:
        name, data, ctype = attachment
        maintype, subtype = ctype.split("/")
        m.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    with smtplib.SMTP(srv.host, srv.port, timeout=30) as s:
        s.send_message(m)
    return m


def wait_match(base, query, timeout=INDEX_TIMEOUT):
    r = call(base + "/api/v1/wait?" + urllib.parse.urlencode({"query": query, "timeout": int(timeout)}),
             timeout=timeout + 10)
    assert r.status == 200, (r.status, r.body)
    return r.json()


def assert_json_error(r, status):
    assert r.status == status, (r.status, r.body)
    assert r.header("Content-Type") == "application/json"
    assert isinstance(r.json()["Error"], str) and r.json()["Error"]


# ---- health, info, headers ---------------------------------------------------------------------


def test_health_info_and_security_headers(any_server, tmp_path):
    srv, base = api_server(any_server, tmp_path)
    for path in ("/livez", "/readyz"):
        r = call(base + path)
        assert r.status == 200 and r.body == b"ok"
    r = call(base + "/api/v1/info")
    info = r.json()
    for key in ("Version", "Database", "DatabaseSize", "Messages", "Unread", "Tags", "RuntimeStats", "Index"):
        assert key in info, info
    assert info["Messages"] == 0
    assert info["RuntimeStats"]["Memory"] > 1 << 20  # the resident set, not a placeholder
    for key in ("Indexed", "Pending", "LagMs", "BodyIndexed", "BodyPending", "BodyLagMs", "CaughtUp"):
        assert key in info["Index"], info
    assert call(base + "/api/v1/webui").json()["ChaosEnabled"] is True
    for path in ("/livez", "/api/v1/info", "/api/v1/messages", "/nowhere", "/api/v1/message/none"):
        r = call(base + path)
        assert r.header("X-Content-Type-Options") == "nosniff", path
        assert r.header("Access-Control-Allow-Origin") is None, path


def test_web_page_files(any_server, tmp_path):
    srv, base = api_server(any_server, tmp_path)
    r = call(base + "/")
    assert r.status == 200 and r.header("Content-Type").startswith("text/html")
    csp = r.header("Content-Security-Policy")
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe" not in csp
    assert r.header("X-Content-Type-Options") == "nosniff"
    etag = r.header("ETag")
    again = call(base + "/", headers={"If-None-Match": etag})
    assert again.status == 304 and again.body == b""
    assert call(base + "/index.html").body == r.body
    assert call(base + "/app.js").header("Content-Type").startswith("text/javascript")
    assert call(base + "/nope.js").status == 404
    assert call(base + "/", method="DELETE").status == 404


def test_discard_serves_health_info_and_empty_lists(any_server, tmp_path):
    srv, base = api_server(any_server, tmp_path, spool=False)
    assert call(base + "/livez").status == 200
    assert call(base + "/readyz").status == 200
    assert call(base + "/api/v1/info").json()["Messages"] == 0
    lst = call(base + "/api/v1/messages").json()
    assert lst["total"] == 0 and lst["messages"] == []
    assert_json_error(call(base + "/api/v1/message/latest"), 404)


def test_cors_only_when_asked(any_server, tmp_path):
    srv, base = api_server(any_server, tmp_path, "--http-cors", "http://app.example")
    r = call(base + "/api/v1/messages")
    assert r.header("Access-Control-Allow-Origin") == "http://app.example"
    r = call(base + "/api/v1/messages", method="OPTIONS")
    assert r.status == 204


# ---- messages ----------------------------------------------------------------------------------


def test_list_search_message_headers_raw_part_view(any_server, tmp_path):
    srv, base = api_server(any_server, tmp_path)
    send_mail(srv, "first one", to=("bob@example.com",))
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    sent = send_mail(srv, "password reset", to=("alice@example.com",), body="your code is 4242",
                     html="<p>reset <b>now</b><script>alert(1)</script></p>",
                     attachment=("pic.png", png, "image/png"))
    s = wait_match(base, 'subject:"password reset"')
    for key in ("ID", "MessageID", "Read", "From", "To", "Cc", "Bcc", "ReplyTo", "Subject", "Created",
                "Tags", "Size", "Attachments", "Snippet"):
        assert key in s, s
    assert s["From"] == {"Name": "Sender Name", "Address": "sender@example.com"}
    assert s["To"] == [{"Name": "", "Address": "alice@example.com"}]
    assert s["Read"] is False and s["Attachments"] == 1
    assert s["MessageID"] == "password-reset@test.example"
    wait_match(base, "subject:first")

    lst = call(base + "/api/v1/messages").json()
    assert lst["total"] == 2 and lst["unread"] == 2 and lst["count"] == 2 and lst["start"] == 0
    assert [m["Subject"] for m in lst["messages"]] == ["password reset", "first one"]  # newest first
    page = call(base + "/api/v1/messages?start=1&limit=1").json()
    assert [m["Subject"] for m in page["messages"]] == ["first one"] and page["start"] == 1

    found = call(base + "/api/v1/search?query=to:alice@example.com").json()
    assert [m["ID"] for m in found["messages"]] == [s["ID"]]
    assert found["messages_count"] == 1 and found["total"] == 2
    assert call(base + "/api/v1/search?query=4242").json()["messages_count"] == 1

    msg = call(base + "/api/v1/message/" + s["ID"]).json()
    assert "your code is 4242" in msg["Text"]
    assert "<b>now</b>" in msg["HTML"]
    att = msg["Attachments"]
    assert len(att) == 1 and att[0]["FileName"] == "pic.png" and att[0]["ContentType"] == "image/png"
    assert att[0]["Size"] == len(png)
    assert msg["Inline"] == []
    lst = call(base + "/api/v1/messages").json()
    assert lst["unread"] == 1, "reading a message marks it read"
    assert call(base + "/api/v1/message/latest").json()["ID"] == s["ID"]

    hdrs = call(base + "/api/v1/message/%s/headers" % s["ID"]).json()
    assert hdrs["Subject"] == ["password reset"] and hdrs["To"] == ["alice@example.com"]

    raw = call(base + "/api/v1/message/%s/raw" % s["ID"])
    assert raw.status == 200 and b"Subject: password reset" in raw.body
    assert raw.header("Content-Type").startswith("text/plain")
    dl = call(base + "/api/v1/message/%s/raw?dl=1" % s["ID"])
    assert dl.header("Content-Disposition") == 'attachment; filename="%s.eml"' % s["ID"]

    part = call(base + "/api/v1/message/%s/part/%s" % (s["ID"], att[0]["PartID"]))
    assert part.status == 200 and part.body == png
    assert part.header("Content-Type") == "image/png"
    assert part.header("Content-Disposition") == 'attachment; filename="pic.png"'
    assert_json_error(call(base + "/api/v1/message/%s/part/9.9" % s["ID"]), 404)

    view = call(base + "/view/%s.html" % s["ID"])
    csp = view.header("Content-Security-Policy")
    assert "default-src 'none'" in csp and "sandbox" in csp and "script" not in csp
    assert view.header("Content-Type").startswith("text/html") and b"<b>now</b>" in view.body
    txt = call(base + "/view/%s.txt" % s["ID"])
    assert txt.header("Content-Type").startswith("text/plain") and b"4242" in txt.body
    assert sent["Subject"] == "password reset"


def test_ndjson_streams_every_message(any_server, tmp_path):
    srv, base = api_server(any_server, tmp_path)
    for i in range(7):
        send_mail(srv, "bulk %d" % i)
    wait_match(base, 'subject:"bulk 6"')
    deadline = time.monotonic() + INDEX_TIMEOUT
    while call(base + "/api/v1/messages").json()["total"] < 7:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    r = call(base + "/api/v1/messages", headers={"Accept": "application/x-ndjson"})
    assert r.header("Content-Type") == "application/x-ndjson"
    lines = r.body.decode().splitlines()
    assert len(lines) == 7 and all(json.loads(ln)["Subject"].startswith("bulk") for ln in lines)
    r = call(base + "/api/v1/search?query=bulk&format=ndjson&limit=3")
    assert len(r.body.decode().splitlines()) == 3


def test_read_flags_and_strict_delete(any_server, tmp_path):
    srv, base = api_server(any_server, tmp_path)
    for i in range(3):
        send_mail(srv, "mark %d" % i)
    ids = [wait_match(base, 'subject:"mark %d"' % i)["ID"] for i in range(3)]

    assert call(base + "/api/v1/messages", "PUT", json.dumps({"IDs": ids[:2], "Read": True})).body == b"ok"
    assert call(base + "/api/v1/messages").json()["unread"] == 1
    r = call(base + "/api/v1/messages", "PUT", json.dumps({"Search": "subject:mark", "Read": False}))
    assert r.status == 200 and call(base + "/api/v1/messages").json()["unread"] == 3
    assert_json_error(call(base + "/api/v1/messages", "PUT", json.dumps({"IDs": ids, "Search": "x"})), 400)
    assert_json_error(call(base + "/api/v1/messages", "PUT", "{nope"), 400)
    assert call(base + "/api/v1/tags", "PUT", json.dumps({"IDs": [ids[2]], "Tags": ["red", "blue"]})).body == b"ok"
    assert sorted(call(base + "/api/v1/message/" + ids[2]).json()["Tags"]) == ["blue", "red"]
    assert sorted(call(base + "/api/v1/tags").json()) == ["blue", "red"]
    assert_json_error(call(base + "/api/v1/tags", "PUT", json.dumps({"IDs": [ids[2]], "Tags": [""]})), 400)
    call(base + "/api/v1/messages", "PUT", json.dumps({"Read": False}))

    # strict: an undecodable body or no IDs deletes nothing
    for body in ("{nope", json.dumps({"IDs": []}), json.dumps({}), json.dumps({"IDs": ["../x"]}), "[]"):
        assert_json_error(call(base + "/api/v1/messages", "DELETE", body), 400)
        assert call(base + "/api/v1/messages").json()["total"] == 3, body
    assert call(base + "/api/v1/messages", "DELETE", json.dumps({"IDs": [ids[0]]})).body == b"ok"
    assert call(base + "/api/v1/messages").json()["total"] == 2
    assert_json_error(call(base + "/api/v1/message/" + ids[0]), 404)
    assert call(base + "/api/v1/search?query=subject:%22mark%201%22", "DELETE").status == 200
    assert call(base + "/api/v1/messages").json()["total"] == 1
    assert call(base + "/api/v1/messages", "DELETE").body == b"ok"  # empty body: everything
    assert call(base + "/api/v1/messages").json()["total"] == 0


# ---- wait, events ------------------------------------------------------------------------------


def test_wait_stored_arriving_since_and_timeout(any_server, tmp_path):
    srv, base = api_server(any_server, tmp_path)
    send_mail(srv, "early bird", to=("carol@example.com",))
    first = wait_match(base, "to:carol@example.com")
    assert first["Subject"] == "early bird"

    got = {}

    def waiter():
        t0 = time.monotonic()
        got["r"] = call(base + "/api/v1/wait?query=subject:later&timeout=30", timeout=60)
        got["s"] = time.monotonic() - t0

    th = threading.Thread(target=waiter)
    th.start()
    time.sleep(1.0)
    assert th.is_alive(), "the long poll answered before the mail existed"
    send_mail(srv, "later arrival", attachment=ATTACHMENT)
    th.join(40)
    assert got["r"].status == 200 and got["r"].json()["Subject"] == "later arrival"
    assert_listed_as(base, got["r"].json())
    assert got["s"] < 15, got["s"]

    # since=ID: only what was indexed after that message
    r = call(base + "/api/v1/wait?query=to:carol@example.com&timeout=1&since=" + first["ID"])
    assert_json_error(r, 408)
    # since=an RFC 3339 time: mail received at or after it
    past = call(base + "/api/v1/wait?query=to:carol@example.com&timeout=1&since=2000-01-01T00:00:00Z")
    assert past.status == 200 and past.json()["ID"] == first["ID"]
    r = call(base + "/api/v1/wait?query=to:carol@example.com&timeout=1&since=2999-01-01")
    assert_json_error(r, 408)
    t0 = time.monotonic()
    r = call(base + "/api/v1/wait?query=subject:never&timeout=1")
    assert_json_error(r, 408)
    assert 0.9 < time.monotonic() - t0 < 5
    assert_json_error(call(base + "/api/v1/wait?timeout=abc"), 400)
    assert_json_error(call(base + "/api/v1/wait?query=before:nonsense"), 400)
    assert_json_error(call(base + "/api/v1/wait?since=not-a-time!"), 400)
    assert_json_error(call(base + "/api/v1/wait?since=00000000000000"), 404)


ATTACHMENT = ("notes.txt", b"attached text\n", "text/plain")


def assert_listed_as(base, summary):
    """An event's (or the long poll's) summary is the one the message list
    shows once the index is complete: snippet and attachment count too,
    although the indexer's body phase comes after the event."""
    assert summary["Attachments"] == 1 and summary["Snippet"] == "hello world", summary
    deadline = time.monotonic() + INDEX_TIMEOUT
    while True:
        listed = [m for m in call(base + "/api/v1/messages").json()["messages"] if m["ID"] == summary["ID"]]
        if listed == [summary] or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert listed == [summary], (listed, summary)


def test_sse_events(any_server, tmp_path):
    srv, base = api_server(any_server, tmp_path)
    port = port_of(base)
    s = open_request(port, "/api/events")
    s.settimeout(INDEX_TIMEOUT)
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += s.recv(4096)
    assert b"text/event-stream" in buf.split(b"\r\n\r\n")[0]
    send_mail(srv, "streamed", attachment=ATTACHMENT)
    while b'"Type":"new"' not in buf:
        d = s.recv(4096)
        assert d, buf
        buf += d
    line = [ln for ln in buf.split(b"\n") if ln.startswith(b"data: ")][0]
    ev = json.loads(line[6:])
    assert ev["Type"] == "new" and ev["Data"]["Subject"] == "streamed"
    assert_listed_as(base, ev["Data"])
    s.close()


def ws_connect(port, origin=None):
    key = base64.b64encode(os.urandom(16)).decode()
    req = ("GET /api/events HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n" % (HOST, port, key))
    if origin:
        req += "Origin: %s\r\n" % origin
    s = socket.create_connection((HOST, port))
    s.sendall((req + "\r\n").encode())
    s.settimeout(INDEX_TIMEOUT)
    head = b""
    while b"\r\n\r\n" not in head:
        d = s.recv(1)
        assert d, head
        head += d
    return s, head.decode(), key


def ws_send(s, opcode, payload):
    mask = os.urandom(4)
    n = len(payload)
    hdr = bytes([0x80 | opcode]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack(">H", n))
    s.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))


def ws_recv(s):
    def exact(n):
        out = b""
        while len(out) < n:
            d = s.recv(n - len(out))
            assert d, "websocket closed"
            out += d
        return out
    b0, b1 = exact(2)
    n = b1 & 0x7f
    if n == 126:
        n = struct.unpack(">H", exact(2))[0]
    elif n == 127:
        n = struct.unpack(">Q", exact(8))[0]
    return b0 & 0x0f, exact(n)


def test_websocket_events(any_server, tmp_path):
    srv, base = api_server(any_server, tmp_path)
    port = port_of(base)
    s, head, key = ws_connect(port, origin="http://%s:%d" % (HOST, port))
    assert head.startswith("HTTP/1.1 101"), head
    accept = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
    assert "Sec-WebSocket-Accept: %s" % accept.decode() in head
    ws_send(s, 0x9, b"hi")
    assert ws_recv(s) == (0xa, b"hi")
    send_mail(srv, "over websocket", attachment=ATTACHMENT)
    op, data = ws_recv(s)
    while op != 0x1:
        op, data = ws_recv(s)
    ev = json.loads(data)
    assert ev["Type"] == "new" and ev["Data"]["Subject"] == "over websocket"
    assert_listed_as(base, ev["Data"])
    ws_send(s, 0x8, b"\x03\xe8")
    assert ws_recv(s)[0] == 0x8
    s.close()
    s, head, _ = ws_connect(port, origin="http://evil.example")
    assert head.startswith("HTTP/1.1 403"), head
    s.close()


# ---- chaos, sessions ---------------------------------------------------------------------------


def test_chaos_maps_onto_fault_rules(any_server, tmp_path):
    srv, base = api_server(any_server, tmp_path)
    default = call(base + "/api/v1/chaos").json()
    assert default == {"Sender": {"ErrorCode": 451, "Probability": 0},
                       "Recipient": {"ErrorCode": 451, "Probability": 0},
                       "Authentication": {"ErrorCode": 535, "Probability": 0}}
    r = call(base + "/api/v1/chaos", "PUT", json.dumps({"Recipient": {"ErrorCode": 550, "Probability": 100}}))
    assert r.json()["Recipient"] == {"ErrorCode": 550, "Probability": 100}
    with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
        send_mail(srv, "refused by chaos")
    assert list(e.value.recipients.values())[0][0] == 550
    assert_json_error(call(base + "/api/v1/chaos", "PUT", json.dumps({"Sender": {"ErrorCode": 200}})), 400)
    assert_json_error(call(base + "/api/v1/chaos", "PUT",
                           json.dumps({"Sender": {"ErrorCode": 451, "Probability": 101}})), 400)
    assert call(base + "/api/v1/chaos").json()["Recipient"]["Probability"] == 100  # unchanged by refusals
    call(base + "/api/v1/chaos", "PUT", "{}")
    send_mail(srv, "accepted again")


def test_session_report_by_id(any_server, tmp_path):
    srv, base = api_server(any_server, tmp_path)
    send_mail(srv, "with a session")
    deadline = time.monotonic() + INDEX_TIMEOUT
    while True:
        out = spool_tool(tmp_path / "spool", "sessions", "--json", check=None).stdout.strip()
        if out:
            break
        assert time.monotonic() < deadline
        time.sleep(0.1)
    sid = json.loads(out.splitlines()[0])["id"]
    r = call(base + "/api/v1/session/" + sid)
    assert r.status == 200 and r.json()["id"] == sid
    assert r.json() == json.loads(spool_tool(tmp_path / "spool", "session", sid, "--json").stdout)
    assert_json_error(call(base + "/api/v1/session/00000000000000"), 404)
    # the message names its session: the web page's timeline follows it
    msg = call(base + "/api/v1/message/latest").json()
    assert msg["SessionID"] == sid


# ---- bad input, auth, listeners ----------------------------------------------------------------


def test_bad_requests(any_server, tmp_path):
    srv, base = api_server(any_server, tmp_path)
    port = port_of(base)
    assert_json_error(call(base + "/api/v1/message/ABCDEFGHIJKLMN"), 404)
    for path in ("/api/v1/message/..", "/api/v1/message/a.b/raw", "/api/v1/message/x/part/..",
                 "/view/..%2f..%2fetc.html"):
        r = call(base + path)
        assert r.status in (400, 404), path
    assert_json_error(call(base + "/api/v1/search?query=larger:lots"), 400)
    assert call(base + "/api/v1/search?query=larger:lots").json()["Error"].startswith("search: ")
    assert_json_error(call(base + "/api/v1/search?query="), 400)
    assert_json_error(call(base + "/api/v1/messages", "POST", "{}"), 405)
    out, closed = raw_http(port, b"PUT /api/v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                                 b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400") and closed, out
    r = call(base + "/api/v1/messages", "PUT", b"x" * (1024 * 1024 + 1))
    assert_json_error(r, 413)
    out, closed = raw_http(port, b"GET /api/v1/search?query=" + b"a" * 200000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 414") or out.startswith(b"HTTP/1.1 431"), out[:100]
    assert call(base + "/livez").status == 200


TARGET_MAX = 32768  # http_server.c HTTP_TARGET_MAX: path and query, as decoded
HEADERS_MAX = 65536  # HTTP_HEADERS_MAX: "name: value" CRLF per field
DAEMON_MAX = 256 * 1024  # HTTP_CONN_MEMORY: past this libmicrohttpd refuses by itself


def raw_status(out):
    """(status, headers text, body) of one raw HTTP/1.1 reply."""
    head, _, body = out.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), head.decode("latin-1").lower(), body


def test_long_targets_and_headers(any_server, tmp_path):
    """Over-long request targets and header fields get JSON errors on
    /api/ (414, 431: limit-1 and limit pass, limit+1 does not) and a
    close; far past them the daemon refuses by itself, and closes."""
    srv, base = api_server(any_server, tmp_path)
    port = port_of(base)
    prefix = "/api/v1/messages?limit=50&pad="
    for extra, status in ((-1, 200), (0, 200), (1, 414)):
        r = call(base + prefix + "a" * (TARGET_MAX - len(prefix) + extra))
        if status == 200:
            assert r.status == 200, (extra, r.status, r.body[:200])
        else:
            assert_json_error(r, 414)
    fixed = len("Host") + len("x") + 4 + len("Connection") + len("close") + 4 + len("X-Pad") + 4
    for extra, status in ((-1, 200), (0, 200), (1, 431)):
        pad = b"p" * (HEADERS_MAX - fixed + extra)
        out, closed = raw_http(port, b"GET /api/v1/messages HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                     b"X-Pad: " + pad + b"\r\n\r\n")
        code, headers, body = raw_status(out)
        assert code == status and closed, (extra, out[:300])
        if status != 200:
            assert "content-type: application/json" in headers and json.loads(body)["Error"], out[:300]
    out, closed = raw_http(port, b"GET /api/v1/search?query=" + b"a" * 200000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    code, headers, body = raw_status(out)
    assert code == 414 and "connection: close" in headers and closed, out[:300]
    assert json.loads(body)["Error"], body
    out, closed = raw_http(port, b"GET /api/v1/search?query=" + b"a" * DAEMON_MAX + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert raw_status(out)[0] in (414, 431) and closed, out[:300]
    assert call(base + "/livez").status == 200


def test_basic_auth(any_server, tmp_path):
    auth = tmp_path / "auth"
    auth.write_text("# who\nalice:s3cr:et\n")
    srv, base = api_server(any_server, tmp_path, "--http-auth", str(auth))
    r = call(base + "/api/v1/messages")
    assert_json_error(r, 401)
    assert r.header("WWW-Authenticate").startswith("Basic")
    good = {"Authorization": "Basic " + base64.b64encode(b"alice:s3cr:et").decode()}
    bad = {"Authorization": "Basic " + base64.b64encode(b"alice:s3cr").decode()}
    assert call(base + "/api/v1/messages", headers=good).status == 200
    assert call(base + "/api/v1/messages", headers=bad).status == 401
    assert call(base + "/livez").status == 200 and call(base + "/readyz").status == 200
    assert call(base + "/no/such/path").status == 401  # nothing is told apart without credentials


def test_unix_listener_and_live_path_refused(any_server, tmp_path):
    path = str(tmp_path / "http.sock")
    srv, _ = api_server(any_server, tmp_path, http="unix:" + path)
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.sendall(b"GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    s.settimeout(10)
    out = b""
    while True:
        d = s.recv(4096)
        if not d:
            break
        out += d
    assert out.startswith(b"HTTP/1.1 200") and out.endswith(b"ok")
    second = any_server("--spool", str(tmp_path / "spool2"), *SPOOL_ARGS, "--http", "unix:" + path,
                        discard=False, wait=False, check_exit=False)
    assert second.wait(20) == 1
    assert "in use" in second.stderr()


def test_http_off_and_bad_options(any_server, smtpsink_bin, tmp_path):
    srv = any_server("--spool", str(tmp_path / "spool"), *SPOOL_ARGS, "--no-http", discard=False)
    time.sleep(0.3)
    assert not any("HTTP API" in ln for ln in srv.stderr_lines())
    import subprocess
    for args, why in ((["--no-http", "--http", "127.0.0.1:1"], "--no-http"),
                      (["--http", "127.0.0.1:99999"], "--http"),
                      (["--http", "unix:"], "--http")):
        p = subprocess.run([smtpsink_bin, "--discard"] + args, capture_output=True, text=True, timeout=30)
        assert p.returncode == 2 and why in p.stderr, (args, p.stderr)
    auth = tmp_path / "bad-auth"
    auth.write_text("no colon here\n")
    p = subprocess.run([smtpsink_bin, "--discard", "--listen", "%s:%d" % (HOST, free_port()), "--http",
                        "%s:%d" % (HOST, free_port()), "--http-auth", str(auth)],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and "line 1: expected user:password" in p.stderr, p.stderr


def test_shutdown_with_waiting_requests_and_streams(any_server, tmp_path):
    """Long polls, SSE streams and websockets held open at SIGTERM: the
    server still exits 0 at once (every suspended request is resumed
    before the daemon stops), the polls answered 503."""
    srv, base = api_server(any_server, tmp_path)
    port = port_of(base)
    socks = []
    for _ in range(3):
        socks += [open_request(port, "/api/v1/wait?timeout=300"), open_request(port, "/api/events"),
                  ws_connect(port)[0]]
    time.sleep(1.0)
    t0 = time.monotonic()
    assert srv.stop() == 0
    assert time.monotonic() - t0 < 5
    socks[0].settimeout(5)
    assert socks[0].recv(4096).startswith(b"HTTP/1.1 503")
    for s in socks:
        s.close()


def test_many_keepalive_connections(any_server, tmp_path):
    """A load test's worth of idle keep-alive clients (1,000 here) does not
    keep another client out."""
    srv, base = api_server(any_server, tmp_path)
    port = port_of(base)
    idle = [open_request(port, "/livez") for _ in range(1000)]
    for s in idle:
        s.settimeout(10)
        assert s.recv(4096).startswith(b"HTTP/1.1 200")
    assert call(base + "/api/v1/messages").status == 200
    for s in idle:
        s.close()
