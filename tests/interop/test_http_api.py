"""The HTTP API (issue 13) from outside: Mailpit's paths, field names and
semantics, and the points where the issue is stricter than Mailpit.

Written from the issue and Mailpit's API (server/apiv1, internal/storage),
not from smtpsink's code.  Every test starts its own server with a spool
and an HTTP port (http_helpers.api_server), sends mail with smtplib and
reads it back over HTTP.  Marks by area: api_info, api_list, api_message,
api_search, api_delete, api_read, api_persist, api_errors, api_security,
api_auth, api_wait, api_events, api_chaos, api_client (the npm client
mailpit-api, driven by mailpit_client/check.cjs); all are marked http.
"""

import http.client
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import pytest

from http_helpers import (  # noqa: F401  (fixtures are used by name)
    api_server, assert_json_error, make_message, raw_http, send_mail, wait_total)
from interop_helpers import HOST, wait_for
from spool_helpers import kill9, spool_server  # noqa: F401

pytestmark = pytest.mark.http

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 8 + b"\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
SUMMARY_FIELDS = {"ID", "MessageID", "Read", "From", "To", "Cc", "Bcc", "ReplyTo", "Subject", "Created", "Size",
                  "Snippet", "Attachments", "Tags"}
LIST_FIELDS = {"total", "unread", "count", "messages_count", "messages_unread", "start", "tags", "messages"}


def parse_time(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def check_address(a, what):
    assert isinstance(a, dict) and isinstance(a.get("Name"), str) and isinstance(a.get("Address"), str), \
        "%s is not {Name, Address}: %r" % (what, a)


# -- info and lists -------------------------------------------------------------
@pytest.mark.api_info
def test_info_counts_messages_and_unread(api_server):
    srv = api_server()
    for i in range(2):
        send_mail(srv.port, subject="info %d" % i)
    wait_total(srv.api, 2)
    info = srv.api.ok_json("GET", "/api/v1/info")
    assert isinstance(info.get("Version"), str) and info["Version"], info
    assert info.get("Messages") == 2 and info.get("Unread") == 2, info
    first = srv.api.ids()[0]
    srv.api.ok_json("GET", "/api/v1/message/" + first)
    info = srv.api.ok_json("GET", "/api/v1/info")
    assert info.get("Messages") == 2 and info.get("Unread") == 1, info


@pytest.mark.api_list
def test_list_fields_and_newest_first(api_server):
    srv = api_server()
    t0 = datetime.now(timezone.utc) - timedelta(seconds=2)
    sent = []
    sent.append(send_mail(srv.port, subject="first", frm='"Alice A" <alice@example.com>',
                          to=('"Bob B" <bob@example.com>', "carol@example.com"), cc=("dave@example.com",),
                          reply_to="replies@example.com", text="Snippet text of the first one.\n",
                          message_id="<first-msg@interop.example>"))
    sent.append(send_mail(srv.port, subject="second", attachments=[("report.pdf", "application/pdf", PDF)]))
    sent.append(send_mail(srv.port, subject="third"))
    t1 = datetime.now(timezone.utc) + timedelta(seconds=2)
    lst = wait_total(srv.api, 3)
    assert LIST_FIELDS <= set(lst), "missing list fields: %s" % (LIST_FIELDS - set(lst))
    assert (lst["total"], lst["unread"], lst["count"], lst["messages_count"], lst["messages_unread"],
            lst["start"]) == (3, 3, 3, 3, 3, 0), lst
    assert isinstance(lst["tags"], list)
    assert [m["ID"] for m in lst["messages"]] == [q for q, _ in reversed(sent)], "not newest first"
    for m in lst["messages"]:
        assert SUMMARY_FIELDS <= set(m), "summary lacks %s" % (SUMMARY_FIELDS - set(m))
        check_address(m["From"], "From")
        for k in ("To", "Cc", "Bcc", "ReplyTo", "Tags"):
            assert isinstance(m[k], list), "%s must be a list (never null): %r" % (k, m[k])
        assert m["Read"] is False
        assert isinstance(m["Size"], int) and isinstance(m["Attachments"], int) and isinstance(m["Snippet"], str)
        assert t0 <= parse_time(m["Created"]) <= t1, "Created %r is not RFC 3339 at send time" % m["Created"]
    first, second = lst["messages"][2], lst["messages"][1]
    assert first["From"] == {"Name": "Alice A", "Address": "alice@example.com"}
    assert first["To"] == [{"Name": "Bob B", "Address": "bob@example.com"},
                           {"Name": "", "Address": "carol@example.com"}]
    assert [a["Address"] for a in first["Cc"]] == ["dave@example.com"]
    assert [a["Address"] for a in first["ReplyTo"]] == ["replies@example.com"]
    assert first["MessageID"] == "first-msg@interop.example", "Mailpit's MessageID has no angle brackets"
    assert first["Subject"] == "first" and "Snippet text of the first one." in first["Snippet"]
    assert first["Size"] == len(sent[0][1]), "Size is the message's size in bytes"
    assert (first["Attachments"], second["Attachments"]) == (0, 1)


@pytest.mark.api_list
def test_list_paging(api_server):
    srv = api_server()
    ids = [send_mail(srv.port, subject="page %d" % i)[0] for i in range(5)]
    wait_total(srv.api, 5)
    newest = list(reversed(ids))
    for start, limit in ((0, 2), (2, 2), (4, 2), (5, 2), (10, 3), (1, 3)):
        page = srv.api.messages(start=start, limit=limit)
        assert [m["ID"] for m in page["messages"]] == newest[start:start + limit], (start, limit)
        assert page["start"] == start and page["count"] == len(page["messages"])
        assert page["total"] == 5 and page["messages_count"] == 5
    assert len(srv.api.messages()["messages"]) == 5, "the default page (50) holds all five"


# -- one message --------------------------------------------------------------
def rich_message():
    return make_message(subject="Password reset", frm="Service <noreply@example.com>", to=("alice@example.com",),
                        text="Reset it here: https://example.com/reset\n",
                        html="<html><body><p>Reset <b>here</b></p><img src=\"cid:logo@x\"></body></html>\n",
                        inline=[("logo@x", "image/png", PNG)],
                        attachments=[("report.pdf", "application/pdf", PDF)],
                        headers=[("X-Test", "one"), ("X-Test", "two")])


@pytest.fixture
def rich(api_server):
    """A server holding rich_message(); returns (srv, its ID, its bytes)."""
    srv = api_server()
    qid, sent = send_mail(srv.port, rich_message())
    wait_total(srv.api, 1)
    return srv, qid, sent


@pytest.mark.api_message
def test_message_full_and_latest(rich):
    srv, qid, _ = rich
    for ref in (qid, "latest"):
        m = srv.api.ok_json("GET", "/api/v1/message/" + ref)
        assert m["ID"] == qid and m["Subject"] == "Password reset"
        check_address(m["From"], "From")
        assert m["From"]["Address"] == "noreply@example.com"
        assert "https://example.com/reset" in m["Text"] and "<b>here</b>" in m["HTML"]
        assert [a["FileName"] for a in m["Attachments"]] == ["report.pdf"]
        att = m["Attachments"][0]
        assert att["ContentType"] == "application/pdf" and att["Size"] == len(PDF), att
        assert isinstance(att["PartID"], str) and att["PartID"]
        assert [i["ContentID"] for i in m["Inline"]] == ["logo@x"], m["Inline"]
        assert m["Inline"][0]["ContentType"] == "image/png" and m["Inline"][0]["Size"] == len(PNG)
    for part, want in ((att["PartID"], PDF), (m["Inline"][0]["PartID"], PNG)):
        r = srv.api.get("/api/v1/message/%s/part/%s" % (qid, part))
        assert r.status == 200 and r.body == want, r
        assert (r.header("Content-Disposition") or "").lower().startswith("attachment"), \
            "a part must be served as an attachment: %r" % r.header("Content-Disposition")
        assert r.header("X-Content-Type-Options") == "nosniff"


@pytest.mark.api_message
def test_headers_and_raw(rich):
    srv, qid, sent = rich
    for ref in (qid, "latest"):
        h = srv.api.ok_json("GET", "/api/v1/message/%s/headers" % ref)
        lower = {k.lower(): v for k, v in h.items()}
        assert lower["subject"] == ["Password reset"], h
        assert lower["x-test"] == ["one", "two"], "a repeated header is a list of its values: %r" % h
        assert all(isinstance(v, list) for v in h.values())
        r = srv.api.get("/api/v1/message/%s/raw" % ref)
        assert r.status == 200 and r.body == sent, "raw must be the message exactly as received"
        assert (r.header("Content-Type") or "").startswith("text/plain")


@pytest.mark.api_message
def test_view_html_and_txt(rich):
    srv, qid, _ = rich
    r = srv.api.get("/view/%s.html" % qid)
    assert r.status == 200 and b"<b>here</b>" in r.body, r
    r = srv.api.get("/view/%s.txt" % qid)
    assert r.status == 200 and b"https://example.com/reset" in r.body, r
    assert (r.header("Content-Type") or "").startswith("text/plain")


# -- read flags ---------------------------------------------------------------
def read_flags(api):
    return {m["ID"]: m["Read"] for m in api.messages(limit=1000)["messages"]}


@pytest.mark.api_read
def test_reading_marks_read_and_put_sets_flags(api_server):
    srv = api_server()
    a, b, c = (send_mail(srv.port, subject="r%d" % i)[0] for i in range(3))
    wait_total(srv.api, 3)
    srv.api.ok_json("GET", "/api/v1/message/" + a)
    assert read_flags(srv.api) == {a: True, b: False, c: False}
    assert srv.api.messages()["unread"] == 2
    r = srv.api.request("PUT", "/api/v1/messages", {"IDs": [b], "Read": True})
    assert r.status == 200, r
    assert read_flags(srv.api) == {a: True, b: True, c: False}
    r = srv.api.request("PUT", "/api/v1/messages", {"IDs": [a, b], "Read": False})
    assert r.status == 200, r
    assert read_flags(srv.api) == {a: False, b: False, c: False}
    # Mailpit: neither IDs nor Search sets every message
    assert srv.api.request("PUT", "/api/v1/messages", {"Read": True}).status == 200
    assert read_flags(srv.api) == {a: True, b: True, c: True}
    assert srv.api.messages()["unread"] == 0
    assert_json_error(srv.api.request("PUT", "/api/v1/messages", b"{not json"), (400,), "PUT bad JSON")


# -- search ---------------------------------------------------------------------
@pytest.fixture
def corpus(api_server):
    """A server holding five messages built to tell search semantics apart;
    returns (srv, {name: ID})."""
    srv = api_server()
    ids = {}
    ids["reset"] = send_mail(srv.port, make_message(
        subject="Password reset", frm="alice@example.com", to=("bob@example.com",),
        text="Click here to reset your password.\n", message_id="<reset-1@ex.example>",
        attachments=[("a.pdf", "application/pdf", PDF)]))[0]
    ids["report"] = send_mail(srv.port, make_message(
        subject="Weekly report 100% done", frm="carol@example.org", to=("dave@example.org",),
        cc=("erin@example.net",), text="The numbers for week 42 are *final* now.\n",
        message_id="<report-2@ex.example>"))[0]
    ids["lunch"] = send_mail(srv.port, make_message(
        subject="Lunch?", frm="alice@example.com", to=("frank@example.net",), bcc=("grace@example.com",),
        text="Shall we meet at noon?\n" + "filler line to make this one large\n" * 1500,
        message_id="<lunch-3@ex.example>"))[0]
    ids["under"] = send_mail(srv.port, make_message(
        subject="a_b code", frm="heidi@example.com", to=("ivan@example.com",),
        text="snake_case and fifty%off\n", message_id="<under-4@ex.example>"))[0]
    ids["plain"] = send_mail(srv.port, make_message(
        subject="axb code", frm="judy@example.com", to=("ivan@example.com",),
        text="snakeXcase and fifty percent off\n", message_id="<plain-5@ex.example>"))[0]
    wait_total(srv.api, 5)
    return srv, ids


def found(srv, ids, query, total=5):
    """The names of the messages a search returns, checking the reply."""
    r = srv.api.search(query, limit=1000)
    names = {v: k for k, v in ids.items()}
    got = [names.get(m["ID"], m["ID"]) for m in r["messages"]]
    assert r["messages_count"] == len(got) and r["total"] == total, (query, r)
    return set(got)


SEARCHES = [
    ("to:bob@example.com", {"reset"}),
    ("TO:BOB", {"reset"}),
    ("from:alice", {"reset", "lunch"}),
    ("From:alice@example.com", {"reset", "lunch"}),
    ("cc:erin", {"report"}),
    ("bcc:grace@example.com", {"lunch"}),
    ("subject:password", {"reset"}),
    ("subject:\"weekly report\"", {"report"}),
    ("message-id:report-2@ex.example", {"report"}),
    ("has:attachment", {"reset"}),
    ("-has:attachment", {"report", "lunch", "under", "plain"}),
    ("reset", {"reset"}),
    ("noon", {"lunch"}),
    ("\"meet at noon\"", {"lunch"}),
    ("\"noon at meet\"", set()),
    ("from:alice reset", {"reset"}),
    ("from:alice -reset", {"lunch"}),
    ("from:alice !reset", {"lunch"}),
    ("-from:alice", {"report", "under", "plain"}),
    ("-\"meet at noon\" from:alice", {"reset"}),
    ("is:unread", {"reset", "report", "lunch", "under", "plain"}),
    ("is:read", set()),
    ("larger:20k", {"lunch"}),
    ("smaller:20k", {"reset", "report", "under", "plain"}),
    ("larger:1M", set()),
    ("after:2000-01-01", {"reset", "report", "lunch", "under", "plain"}),
    ("before:2000-01-01", set()),
    # literal text: never LIKE wildcards, FTS operators or column filters
    ("100%", {"report"}),
    ("fifty%off", {"under"}),
    ("snake_case", {"under"}),
    ("a_b", {"under"}),
    ("fin*", set()),
    ("*final*", {"report"}),
    ("reset OR noon", set()),
    ("reset AND", set()),
    ("NEAR(reset", set()),
    ("NEAR(reset noon)", set()),
    ("subject:reset*", set()),
    ("body:reset", set()),
    ("subject:\"col:x\"", set()),
    ("pass\"word", set()),
    ("to:bob%", set()),
]


@pytest.mark.api_search
@pytest.mark.parametrize("query,want", SEARCHES, ids=[q for q, _ in SEARCHES])
def test_search(corpus, query, want):
    srv, ids = corpus
    assert found(srv, ids, query) == want


@pytest.mark.api_search
def test_search_dates_read_flags_and_paging(corpus):
    srv, ids = corpus
    now = datetime.now(timezone.utc)
    every = set(ids)
    tomorrow = (now + timedelta(days=1)).strftime("%Y-%m-%d")
    hour_ago = (now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    later = (now + timedelta(hours=1)).astimezone(timezone(timedelta(hours=-5))).isoformat(timespec="seconds")
    assert found(srv, ids, "before:" + tomorrow) == every
    assert found(srv, ids, "after:" + tomorrow) == set()
    assert found(srv, ids, "after:" + hour_ago) == every
    assert found(srv, ids, "before:" + hour_ago) == set()
    assert found(srv, ids, "after:" + later) == set(), "an RFC 3339 offset must be honoured"
    srv.api.ok_json("GET", "/api/v1/message/" + ids["reset"])
    assert found(srv, ids, "is:read") == {"reset"}
    assert found(srv, ids, "-is:unread") == {"reset"}
    assert found(srv, ids, "!is:read") == every - {"reset"}
    r = srv.api.search("code", start=1, limit=1)
    assert r["messages_count"] == 2 and len(r["messages"]) == 1 and r["start"] == 1, r
    assert r["messages"][0]["ID"] == ids["under"], "newest first: page 2 of 'code' is the older one"
    assert r["messages_unread"] == 2 and r["unread"] == 4, r


BAD_QUERIES = ["before:yesterday", "after:2024-13-01", "before:2024-02-30", "after:2024-01-01T25:00:00Z",
               "larger:12XB", "smaller:abc", "larger:99999999999999999999", "larger:", "is:sideways",
               "subject:\"unterminated"]


@pytest.mark.api_search
@pytest.mark.parametrize("query", BAD_QUERIES)
def test_search_bad_query_is_400(corpus, query):
    srv, _ = corpus
    r = srv.api.get("/api/v1/search?query=" + quote(query))
    assert_json_error(r, (400,), query)
    r = srv.api.request("DELETE", "/api/v1/search?query=" + quote(query))
    assert_json_error(r, (400,), "DELETE " + query)
    assert len(srv.api.ids()) == 5, "a refused DELETE search deleted messages"


# -- deleting -------------------------------------------------------------------
@pytest.mark.api_delete
def test_delete_search(corpus):
    srv, ids = corpus
    r = srv.api.request("DELETE", "/api/v1/search?query=" + quote("from:alice"))
    assert r.status == 200, r
    assert set(srv.api.ids()) == {ids["report"], ids["under"], ids["plain"]}
    for gone in (ids["reset"], ids["lunch"]):
        assert_json_error(srv.api.get("/api/v1/message/" + gone), (404,), "deleted message")
        assert_json_error(srv.api.get("/api/v1/message/%s/raw" % gone), (404,), "deleted raw")
    assert found(srv, ids, "from:alice", total=3) == set()


@pytest.mark.api_delete
def test_delete_messages_by_id_refusals_and_all(api_server):
    srv = api_server()
    a, b, c = (send_mail(srv.port, subject="d%d" % i)[0] for i in range(3))
    wait_total(srv.api, 3)
    r = srv.api.request("DELETE", "/api/v1/messages", {"IDs": [c]})
    assert r.status == 200, r
    assert set(srv.api.ids()) == {a, b}
    assert srv.api.ok_json("GET", "/api/v1/message/latest")["ID"] == b, "latest skips a deleted message"
    for path in ("/api/v1/message/%s/headers" % c, "/api/v1/message/%s/raw" % c, "/api/v1/message/%s/part/1" % c):
        assert_json_error(srv.api.get(path), (404,), "deleted: " + path)
    assert srv.api.get("/view/%s.html" % c).status == 404, "a deleted message is never served again"
    # stricter than Mailpit: these delete nothing
    for body in (b'{"IDs":[]}', b"{", b"not json", b'{"IDs":"x"}', b"[1,2]"):
        r = srv.api.request("DELETE", "/api/v1/messages", body, headers={"Content-Type": "application/json"})
        assert_json_error(r, (400,), "DELETE body %r" % body)
        assert set(srv.api.ids()) == {a, b}, "DELETE with body %r deleted messages" % body
    r = srv.api.request("DELETE", "/api/v1/messages")
    assert r.status == 200, r
    assert srv.api.ids() == [] and srv.api.messages()["total"] == 0
    assert_json_error(srv.api.get("/api/v1/message/latest"), (404,), "latest of an empty mailbox")


# -- restart and rebuild ---------------------------------------------------------
@pytest.mark.api_persist
def test_read_and_deleted_survive_restart_and_rebuild(api_server, tmp_path):
    srv = api_server()
    a, b, c = (send_mail(srv.port, subject="p%d" % i)[0] for i in range(3))
    wait_total(srv.api, 3)
    assert srv.api.request("PUT", "/api/v1/messages", {"IDs": [a], "Read": True}).status == 200
    assert srv.api.request("DELETE", "/api/v1/messages", {"IDs": [b]}).status == 200
    kill9(srv)  # an acknowledged mark must already be durable
    for rebuild in (False, True):
        srv = api_server(spool=srv.spool)
        wait_total(srv.api, 2)
        assert read_flags(srv.api) == {a: True, c: False}, "rebuild=%s" % rebuild
        assert_json_error(srv.api.get("/api/v1/message/" + b), (404,), "deleted message after restart")
        srv.stop()
        srv.assert_clean_exit()
        shutil.rmtree(srv.spool / "index", ignore_errors=True)  # the next start rebuilds it


# -- errors and hostile requests -------------------------------------------------
@pytest.mark.api_errors
def test_unknown_ids_and_paths_are_json_404(api_server):
    srv = api_server()
    qid, _ = send_mail(srv.port)
    wait_total(srv.api, 1)
    for path in ("/api/v1/message/NOSUCHID", "/api/v1/message/NOSUCHID/headers", "/api/v1/message/NOSUCHID/raw",
                 "/api/v1/message/NOSUCHID/part/1", "/api/v1/message/%s/part/9.9" % qid, "/api/v1/nothing"):
        assert_json_error(srv.api.get(path), (404,), path)


TRAVERSALS = ["..", "%2e%2e", "..%2f..%2fetc%2fpasswd", "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "..%2findex%2fmail.sqlite",
              "..%2fmarks%2fmarks.log", "%00", "a%2fb", "....//....//etc//passwd"]


@pytest.mark.api_errors
@pytest.mark.parametrize("seg", TRAVERSALS)
def test_path_traversal_in_ids_and_parts(api_server, seg):
    srv = api_server()
    qid, _ = send_mail(srv.port)
    wait_total(srv.api, 1)
    for path in ("/api/v1/message/%s" % seg, "/api/v1/message/%s/raw" % seg, "/api/v1/message/%s/headers" % seg,
                 "/api/v1/message/%s/part/%s" % (qid, seg), "/api/v1/message/%s/part/1" % seg,
                 "/view/%s.html" % seg):
        r = srv.api.get(path)
        assert 400 <= r.status < 500, "%s: %r" % (path, r)
        assert b"root:" not in r.body and b"SQLite format" not in r.body, path
        if path.startswith("/api/"):
            assert_json_error(r, (400, 404), path)


@pytest.mark.api_errors
def test_huge_query_string_and_malformed_requests(api_server):
    srv = api_server()
    send_mail(srv.port)
    wait_total(srv.api, 1)
    r = srv.api.get("/api/v1/search?query=" + "a" * 5000)
    assert_json_error(r, (400, 413, 414), "a query longer than the parser takes")
    status, got, _ = raw_http(srv.http_port, b"GET /api/v1/search?query=" + b"x" * 200000 + b" HTTP/1.1\r\n"
                              b"Host: a\r\n\r\n")
    assert status is not None and 400 <= status < 500, got[:300]
    status, got, _ = raw_http(srv.http_port, b"GET /api/v1/info HTTP/1.1\r\nHost: a\r\nX-Big: " + b"y" * 200000 +
                              b"\r\n\r\n")
    assert status is not None and 400 <= status < 500, got[:300]
    status, got, _ = raw_http(srv.http_port, b"GARBAGE\r\n\r\n")
    assert status == 400 or status is None, got[:300]
    assert srv.api.ok_json("GET", "/api/v1/info")["Messages"] == 1, "the server still answers"


@pytest.mark.api_errors
def test_slow_and_idle_clients_do_not_block_others(api_server):
    srv = api_server()
    idle = []
    try:
        for i in range(200):
            s = socket.create_connection((HOST, srv.http_port), timeout=10)
            if i % 2:
                s.sendall(b"GET /api/v1/info HTTP/1.1\r\nHost: a\r\nX-Slow: ")  # never finished
            idle.append(s)
        t = time.monotonic()
        assert srv.api.get("/api/v1/info").status == 200
        assert time.monotonic() - t < 2, "200 idle or half-sent connections slowed a request"
    finally:
        for s in idle:
            s.close()


@pytest.mark.api_errors
def test_conflicting_length_and_chunked_is_400_and_close(api_server):
    srv = api_server()
    send_mail(srv.port)
    wait_total(srv.api, 1)
    req = (b"DELETE /api/v1/messages HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
           b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
    status, got, closed = raw_http(srv.http_port, req)
    assert status == 400, got[:300]
    assert closed, "the connection must be closed after a conflicting framing (RFC 9112 6.3)"
    assert srv.api.messages()["total"] == 1, "the smuggled DELETE ran"


# -- headers that keep captured content off the API's origin ---------------------
@pytest.mark.api_security
def test_nosniff_everywhere_csp_on_view_no_cors(rich):
    srv, qid, _ = rich
    part = srv.api.ok_json("GET", "/api/v1/message/" + qid)["Attachments"][0]["PartID"]
    paths = ["/", "/livez", "/readyz", "/api/v1/info", "/api/v1/messages", "/api/v1/search?query=reset",
             "/api/v1/message/" + qid, "/api/v1/message/%s/headers" % qid, "/api/v1/message/%s/raw" % qid,
             "/api/v1/message/%s/part/%s" % (qid, part), "/view/%s.html" % qid, "/view/%s.txt" % qid,
             "/api/v1/message/NOSUCH", "/api/v1/search?query=before:x"]
    for p in paths:
        r = srv.api.get(p, headers={"Origin": "http://evil.example"})
        assert r.header("X-Content-Type-Options") == "nosniff", "%s: %r" % (p, r)
        assert r.header("Access-Control-Allow-Origin") is None, "%s grants CORS by default" % p
    r = srv.api.request("OPTIONS", "/api/v1/messages", headers={
        "Origin": "http://evil.example", "Access-Control-Request-Method": "DELETE"})
    assert r.header("Access-Control-Allow-Origin") is None, "a preflight grants CORS by default: %r" % r
    csp = srv.api.get("/view/%s.html" % qid).header("Content-Security-Policy") or ""
    directives = {d.split()[0].lower(): d.split()[1:] for d in csp.split(";") if d.strip()}
    assert "sandbox" in directives, "the view's CSP has no sandbox: %r" % csp
    scripts = directives.get("script-src", directives.get("default-src"))
    assert scripts == ["'none'"], "the view's CSP must allow no script: %r" % csp


@pytest.mark.api_security
def test_cors_only_for_the_configured_origin(api_server):
    srv = api_server("--http-cors", "http://app.example")
    r = srv.api.get("/api/v1/messages", headers={"Origin": "http://app.example"})
    assert r.status == 200 and r.header("Access-Control-Allow-Origin") == "http://app.example", r.headers
    r = srv.api.get("/api/v1/messages", headers={"Origin": "http://evil.example"})
    assert r.header("Access-Control-Allow-Origin") in (None, "http://app.example"), r.headers


# -- basic auth -------------------------------------------------------------------
@pytest.mark.api_auth
def test_basic_auth(api_server, tmp_path):
    auth_file = tmp_path / "http-auth"
    auth_file.write_text("tester:s3cret word\nother:pw\n")
    srv = api_server("--http-auth", str(auth_file))
    for p in ("/api/v1/info", "/api/v1/messages", "/", "/api/v1/message/latest"):
        r = srv.api.get(p)
        assert r.status == 401, "%s without credentials: %r" % (p, r)
        assert (r.header("WWW-Authenticate") or "").lower().startswith("basic"), r.headers
        assert srv.api.get(p, auth=("tester", "wrong")).status == 401, p
        assert srv.api.get(p, auth=("nobody", "s3cret word")).status == 401, p
    assert srv.api.get("/api/v1/info", auth=("tester", "s3cret word")).status == 200
    assert srv.api.get("/api/v1/info", auth=("other", "pw")).status == 200
    for p in ("/livez", "/readyz"):
        assert srv.api.get(p).status == 200, "%s must not need auth" % p


# -- long poll ---------------------------------------------------------------------
@pytest.mark.api_wait
def test_wait_returns_right_after_the_250(api_server):
    srv = api_server()
    out = {}

    def poll():
        out["r"] = srv.api.get("/api/v1/wait?query=%s&timeout=20" % quote("subject:ping-42"), timeout=40)
        out["t"] = time.monotonic()
    th = threading.Thread(target=poll)
    th.start()
    time.sleep(1.0)
    send_mail(srv.port, subject="not this one")
    qid, _ = send_mail(srv.port, subject="ping-42")
    t250 = time.monotonic()
    th.join(40)
    assert "r" in out, "the long poll did not return"
    assert out["r"].status == 200, out["r"]
    assert out["r"].json()["ID"] == qid
    assert out["t"] - t250 < 1.5, "the wait answered %.2f s after the 250" % (out["t"] - t250)
    t = time.monotonic()
    r = srv.api.get("/api/v1/wait?query=%s&timeout=20" % quote("subject:ping-42"))
    assert r.status == 200 and r.json()["ID"] == qid and time.monotonic() - t < 2, "already stored: at once"


@pytest.mark.api_wait
def test_wait_timeout_since_and_bad_values(api_server):
    srv = api_server()
    qid, _ = send_mail(srv.port, subject="old one")
    wait_total(srv.api, 1)
    t = time.monotonic()
    r = srv.api.get("/api/v1/wait?query=%s&timeout=1" % quote("subject:never"))
    took = time.monotonic() - t
    assert_json_error(r, (408,), "wait timeout")
    assert 0.8 <= took < 5, "timeout=1 answered after %.2f s" % took
    r = srv.api.get("/api/v1/wait?query=%s&timeout=1&since=%s" % (quote("subject:old"), qid))
    assert_json_error(r, (408,), "since= excludes what is already stored")
    after_old = (datetime.now(timezone.utc) + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    r = srv.api.get("/api/v1/wait?query=%s&timeout=1&since=%s" % (quote("subject:old"), quote(after_old)))
    assert_json_error(r, (408,), "since=RFC3339 excludes what was stored before it")
    r = srv.api.get("/api/v1/wait?query=%s&timeout=1&since=%s" % (quote("subject:old"), "2000-01-01T00:00:00Z"))
    assert r.status == 200 and r.json()["ID"] == qid, r
    for bad in ("timeout=abc", "timeout=-1", "query=before:xyz&timeout=1"):
        q = bad if "query=" in bad else "query=x&" + bad
        assert_json_error(srv.api.get("/api/v1/wait?" + q), (400,), bad)


# -- live events ---------------------------------------------------------------------
def read_until(sock, marker, timeout):
    buf = b""
    deadline = time.monotonic() + timeout
    while marker not in buf and time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        buf += chunk
    return buf


def dechunk(data):
    """The payload of HTTP/1.1 chunks in data, up to the first incomplete one."""
    out = b""
    while True:
        line, sep, rest = data.partition(b"\r\n")
        if not sep:
            return out
        size = int(line.split(b";")[0].strip() or b"0", 16)
        if size == 0 or len(rest) < size + 2:
            return out + (rest[:size] if size else b"")
        out += rest[:size]
        data = rest[size + 2:]


@pytest.mark.api_events
def test_events_as_server_sent_events(api_server):
    srv = api_server()
    s = socket.create_connection((HOST, srv.http_port), timeout=10)
    try:
        s.sendall(b"GET /api/events HTTP/1.1\r\nHost: a\r\nAccept: text/event-stream\r\n\r\n")
        head = read_until(s, b"\r\n\r\n", 10)
        assert head.startswith(b"HTTP/1.1 200"), head[:300]
        assert b"text/event-stream" in head.split(b"\r\n\r\n")[0].lower(), head[:300]
        qid, _ = send_mail(srv.port, subject="live one")
        got = head.split(b"\r\n\r\n", 1)[1] + read_until(s, qid.encode(), 10)
        if b"transfer-encoding: chunked" in head.split(b"\r\n\r\n")[0].lower():
            got = dechunk(got)
        events = [json.loads(ln[5:]) for ln in got.replace(b"\r\n", b"\n").split(b"\n")
                  if ln.startswith(b"data:") and ln[5:].strip().startswith(b"{")]
        new = [e for e in events if e.get("Type") == "new"]
        assert new and new[-1]["Data"]["ID"] == qid and new[-1]["Data"]["Subject"] == "live one", got[-500:]
    finally:
        s.close()


def ws_handshake(port, origin):
    s = socket.create_connection((HOST, port), timeout=10)
    s.sendall(("GET /api/events HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: %s\r\n\r\n"
               % (HOST, port, origin)).encode())
    return s, read_until(s, b"\r\n\r\n", 10)


@pytest.mark.api_events
def test_events_websocket_origin(api_server):
    srv = api_server()
    s, head = ws_handshake(srv.http_port, "http://evil.example")
    s.close()
    assert head.startswith(b"HTTP/1.1 403"), "a foreign Origin must be refused: %r" % head[:300]
    s, head = ws_handshake(srv.http_port, "http://%s:%d" % (HOST, srv.http_port))
    try:
        assert head.startswith(b"HTTP/1.1 101"), head[:300]
        assert b"s3pplmbitxaq9kygzzhzrbk+xoo=" in head.lower(), "bad Sec-WebSocket-Accept: %r" % head
        qid, _ = send_mail(srv.port, subject="ws one")
        buf = head.split(b"\r\n\r\n", 1)[1] + read_until(s, qid.encode(), 10)
        frames = []
        while len(buf) >= 2:
            n, off = buf[1] & 0x7F, 2
            if n == 126:
                n, off = int.from_bytes(buf[2:4], "big"), 4
            elif n == 127:
                n, off = int.from_bytes(buf[2:10], "big"), 10
            if len(buf) < off + n:
                break
            if buf[0] & 0x0F == 1:
                frames.append(json.loads(buf[off:off + n]))
            buf = buf[off + n:]
        new = [f for f in frames if f.get("Type") == "new"]
        assert new and new[-1]["Data"]["ID"] == qid, frames
    finally:
        s.close()


# -- chaos -------------------------------------------------------------------------
@pytest.mark.api_chaos
def test_chaos_sender_trigger(api_server):
    srv = api_server()
    cur = srv.api.ok_json("GET", "/api/v1/chaos")
    for k in ("Sender", "Recipient", "Authentication"):
        assert set(cur[k]) >= {"ErrorCode", "Probability"}, cur
    new = srv.api.ok_json("PUT", "/api/v1/chaos", {"Sender": {"ErrorCode": 451, "Probability": 100}})
    assert new["Sender"] == {"ErrorCode": 451, "Probability": 100}, new
    import smtplib
    with smtplib.SMTP(HOST, srv.port, timeout=30) as c:
        c.ehlo("x")
        assert c.mail("a@example.com")[0] == 451
    srv.api.ok_json("PUT", "/api/v1/chaos", {"Sender": {"ErrorCode": 451, "Probability": 0}})
    send_mail(srv.port)


@pytest.mark.api_info
def test_livez_readyz_and_keep_alive(api_server):
    srv = api_server()
    assert srv.api.get("/livez").status == 200 and srv.api.get("/readyz").status == 200
    conn = http.client.HTTPConnection(HOST, srv.http_port, timeout=15)
    try:
        for i in range(50):  # one HTTP/1.1 connection, kept alive
            conn.request("GET", "/api/v1/messages" if i % 2 else "/api/v1/info")
            r = conn.getresponse()
            r.read()
            assert r.status == 200 and not r.will_close, "request %d: %d, will_close=%s" % (i, r.status, r.will_close)
    finally:
        conn.close()


@pytest.mark.api_info
def test_http_on_a_unix_socket(spool_server, tmp_path):
    path = tmp_path / "http.sock"
    srv = spool_server(tmp_path / "spool", "--http", "unix:%s" % path, io="epoll")
    wait_for(lambda: path.exists() or not srv.running(), 20, what="the HTTP unix socket")
    qid, _ = send_mail(srv.port)
    for req, want in ((b"GET /livez HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", None),
                      (b"GET /api/v1/message/latest HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", qid)):
        def answer():
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(10)
            s.connect(str(path))
            s.sendall(req)
            got = read_until(s, b"\x00never", 10)
            s.close()
            return got if want is None or want.encode() in got else None
        got = wait_for(answer, 20, interval=0.2, what="an answer over the unix socket")
        assert got.startswith(b"HTTP/1.1 200"), got[:300]


# -- the npm client, unchanged ------------------------------------------------------
def mailpit_api_modules():
    """node_modules holding mailpit-api: MAILPIT_API_MODULES (tools/test sets
    it), else tools/lib/setup.sh's cache directory.  Fails, never skips."""
    d = os.environ.get("MAILPIT_API_MODULES") or os.path.join(
        os.environ.get("MAILPIT_CLIENT_CACHE") or os.path.join(
            os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "smtpsink", "mailpit_client"),
        "node_modules")
    if not os.path.isfile(os.path.join(d, "mailpit-api", "package.json")):
        pytest.fail("the npm package mailpit-api is not installed in %s: run tools/test, or "
                    "bash -c 'source tools/lib/setup.sh; setup_mailpit_client .'" % d, pytrace=False)
    return d


@pytest.mark.api_client
def test_mailpit_api_npm_client(api_server, tmp_path):
    modules = mailpit_api_modules()
    auth_file = tmp_path / "http-auth"
    auth_file.write_text("client:pa55\n")
    srv = api_server("--http-auth", str(auth_file), auth=("client", "pa55"))
    rich, raw = send_mail(srv.port, make_message(subject="Client rich", text="rich body text\n",
                                                 html="<p>a <b>rich</b> one</p>\n",
                                                 attachments=[("report.pdf", "application/pdf", PDF)]))
    two = send_mail(srv.port, subject="Client two", frm="bob@example.com")[0]
    three = send_mail(srv.port, subject="Client three")[0]
    wait_total(srv.api, 3)
    facts = {"ids": {"rich": rich, "two": two, "three": three}, "pdf_length": len(PDF), "raw_length": len(raw)}
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mailpit_client", "check.cjs")
    env = dict(os.environ, MAILPIT_API_MODULES=modules, MAILPIT_URL="http://%s:%d" % (HOST, srv.http_port),
               MAILPIT_USER="client", MAILPIT_PASSWORD="pa55")
    p = subprocess.run(["node", script, json.dumps(facts)], capture_output=True, text=True, timeout=120, env=env,
                       stdin=subprocess.DEVNULL)
    assert p.returncode == 0 and "all steps passed" in p.stdout, \
        "mailpit-api client failed (exit %d):\n%s\n%s" % (p.returncode, p.stdout[-4000:], p.stderr[-2000:])
