"""Real SMTP clients against a running smtpsink, on both backends.

Clients: swaks (plain, --pipeline, AUTH PLAIN, LMTP), curl smtp://, msmtp
(no auth, AUTH PLAIN), Python's smtplib (send_message, SMTPUTF8, AUTH), a raw
socket for BDAT (smtplib has no CHUNKING), Postfix smtp-source (connection
caching with -d, and one connection per message).  Each test checks what the
client itself reports (exit status, the "queued as" reply in its transcript)
and, where it matters, the server's own count in its exit summary.
"""

import email.message
import email.policy
import os
import re
import shutil
import smtplib
import socket
import subprocess
import tempfile

import pytest

from interop_helpers import (
    HOST, MESSAGE, Wire, assert_queued, free_port, full_session, greet, need_tool, transaction)

QUEUED = re.compile(r"250[ -]2\.0\.0 Ok: queued as [\x21-\x7e]{1,20}")
CLIENT_TIMEOUT = 120  # seconds for any one client run


def run(argv, **kw):
    """Run a client; return CompletedProcess with text stdout/stderr."""
    kw.setdefault("timeout", CLIENT_TIMEOUT)
    return subprocess.run(argv, capture_output=True, text=True, errors="replace",
                          stdin=kw.pop("stdin", subprocess.DEVNULL), **kw)


def show(p):
    return "exit %s\n--- stdout\n%s\n--- stderr\n%s" % (p.returncode, p.stdout[-4000:], p.stderr[-4000:])


def write_message(tmp_path, name="msg.eml", body=MESSAGE):
    path = tmp_path / name
    path.write_bytes(body)
    return path


# -- swaks ----------------------------------------------------------------
def swaks(port, *extra):
    return run([need_tool("swaks"), "--server", "%s:%d" % (HOST, port), "--timeout", "60",
                "--helo", "client.example", "--from", "sender@example.com",
                "--to", "rcpt@example.com", "--header", "Subject: swaks interop",
                "--body", "Hello from swaks.\n.leading dot\n"] + list(extra))


def test_greeting_and_ehlo(server):
    srv = server()
    with srv.wire() as w:
        g, e = greet(w)
        assert g.lines[-1] == "220 smtpsink ESMTP smtpsink", g.raw
        keywords = {ln[4:].split(" ")[0].upper() for ln in e.lines[1:]}
        for k in ("PIPELINING", "SIZE", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES",
                  "CHUNKING", "DSN", "AUTH"):
            assert k in keywords, "EHLO does not advertise %s: %r" % (k, e.raw)
        w.cmd("QUIT", 221)
        assert w.read_until_closed(10) == b""


def test_hostname_option(server):
    srv = server("--hostname", "mx.interop.test")
    with srv.wire() as w:
        g = w.expect(220)
        assert g.lines[-1] == "220 mx.interop.test ESMTP smtpsink", g.raw
        w.cmd("QUIT", 221)


def test_swaks_plain(server):
    srv = server()
    p = swaks(srv.port)
    assert p.returncode == 0, show(p)
    assert QUEUED.search(p.stdout), show(p)
    srv.stop()
    assert srv.summary().get("messages") == 1, srv.summary_line()


def test_swaks_pipeline(server):
    srv = server()
    p = swaks(srv.port, "--pipeline")
    assert p.returncode == 0, show(p)
    assert QUEUED.search(p.stdout), show(p)


def test_swaks_auth_plain(server):
    srv = server()
    p = swaks(srv.port, "--auth", "PLAIN", "--auth-user", "alice", "--auth-password", "secret")
    assert p.returncode == 0, show(p)
    assert re.search(r"235 2\.7\.0", p.stdout), show(p)
    assert QUEUED.search(p.stdout), show(p)


def test_swaks_lmtp(server):
    srv = server("--lmtp")
    p = swaks(srv.port, "--protocol", "LMTP", "--to", "one@example.com,two@example.com")
    assert p.returncode == 0, show(p)
    # LMTP: one reply per accepted recipient after the end of data.
    assert len(QUEUED.findall(p.stdout)) == 2, show(p)


# -- curl -----------------------------------------------------------------
def test_curl_smtp(server, tmp_path):
    srv = server()
    msg = write_message(tmp_path)
    p = run([need_tool("curl"), "--silent", "--show-error", "--verbose", "--max-time", "60",
             "smtp://%s:%d/client.example" % (HOST, srv.port),
             "--mail-from", "sender@example.com",
             "--mail-rcpt", "rcpt@example.com", "--mail-rcpt", "other@example.com",
             "--upload-file", str(msg)])
    assert p.returncode == 0, show(p)
    assert QUEUED.search(p.stderr), show(p)


# -- msmtp ----------------------------------------------------------------
def msmtp_config(tmp_path, port, auth):
    """A config file whose one account talks to the server: no TLS, and auth
    off or the given method (with user alice, password secret)."""
    conf = tmp_path / ("msmtprc-" + auth)
    text = ("defaults\n"
            "tls off\n"
            "timeout 60\n"
            "account sink\n"
            "host %s\n"
            "port %d\n"
            "from sender@example.com\n"
            "domain client.example\n" % (HOST, port))
    if auth == "off":
        text += "auth off\n"
    else:
        text += "auth %s\nuser alice\npassword secret\n" % auth
    conf.write_text(text)
    os.chmod(conf, 0o600)  # msmtp refuses a password file others can read
    return conf


def msmtp(tmp_path, args):
    """Run msmtp -v with args, the message on stdin; its transcript goes to
    stdout, so the result's stdout gets stderr appended."""
    with open(write_message(tmp_path), "rb") as msg:
        p = run([need_tool("msmtp"), "-v"] + args + ["--", "rcpt@example.com"], stdin=msg)
    p.stdout += p.stderr
    return p


def test_msmtp_config_file(server, tmp_path):
    srv = server()
    p = msmtp(tmp_path, ["-C", str(msmtp_config(tmp_path, srv.port, "off")), "-a", "sink"])
    assert p.returncode == 0, show(p)
    assert QUEUED.search(p.stdout), show(p)


def test_msmtp_command_line(server, tmp_path):
    """--host (which makes msmtp ignore every config file), --port, --from."""
    srv = server()
    p = msmtp(tmp_path, ["--host=%s" % HOST, "--port=%d" % srv.port, "--from=sender@example.com",
                         "--tls=off", "--auth=off", "--domain=client.example"])
    assert p.returncode == 0, show(p)
    assert QUEUED.search(p.stdout), show(p)


def test_msmtp_auth_plain(server, tmp_path):
    srv = server()
    p = msmtp(tmp_path, ["-C", str(msmtp_config(tmp_path, srv.port, "plain")), "-a", "sink"])
    assert p.returncode == 0, show(p)
    assert re.search(r"--> AUTH PLAIN", p.stdout), show(p)
    assert re.search(r"<-- 235 ", p.stdout), show(p)
    assert QUEUED.search(p.stdout), show(p)


def test_msmtp_auth_plain_command_line(server, tmp_path):
    srv = server()
    p = msmtp(tmp_path, ["--host=%s" % HOST, "--port=%d" % srv.port, "--from=sender@example.com",
                         "--tls=off", "--auth=plain", "--user=alice",
                         "--passwordeval=echo secret"])
    assert p.returncode == 0, show(p)
    assert re.search(r"<-- 235 ", p.stdout), show(p)
    assert QUEUED.search(p.stdout), show(p)


def test_msmtp_auth_rejected(server, tmp_path):
    srv = server("--auth-reject")
    p = msmtp(tmp_path, ["-C", str(msmtp_config(tmp_path, srv.port, "plain")), "-a", "sink"])
    assert p.returncode != 0, show(p)
    assert re.search(r"<-- 535 ", p.stdout), show(p)
    assert not QUEUED.search(p.stdout), show(p)


# -- Python smtplib -------------------------------------------------------
class RecordingSMTP(smtplib.SMTP):
    """smtplib.SMTP that keeps the end-of-data reply of each message."""

    def __init__(self, *a, **kw):
        self.data_replies = []
        super().__init__(*a, **kw)

    def data(self, msg):
        code, text = super().data(msg)
        self.data_replies.append((code, text.decode("utf-8", "replace")))
        return code, text


def assert_smtplib_queued(smtp):
    assert smtp.data_replies, "no DATA reply recorded"
    code, text = smtp.data_replies[-1]
    assert code == 250 and re.fullmatch(r"2\.0\.0 Ok: queued as [\x21-\x7e]{1,20}", text), \
        (code, text)


def make_message(sender, rcpt, subject="smtplib interop", body="Hello from smtplib.\n",
                 policy=email.policy.SMTP):
    m = email.message.EmailMessage(policy=policy)
    m["From"] = sender
    m["To"] = rcpt
    m["Subject"] = subject
    m.set_content(body)
    return m


def test_smtplib_send_message(server):
    srv = server()
    with RecordingSMTP(HOST, srv.port, local_hostname="client.example", timeout=60) as s:
        refused = s.send_message(make_message("sender@example.com", "rcpt@example.com"))
        assert refused == {}
        assert_smtplib_queued(s)
        # A second message on the same session (RSET between, as smtplib does
        # after an error; here a plain second transaction).
        s.send_message(make_message("sender@example.com", "rcpt2@example.com", subject="second"))
        assert_smtplib_queued(s)
    srv.stop()
    assert srv.summary().get("messages") == 2, srv.summary_line()


def test_smtplib_smtputf8_addresses(server):
    """UTF-8 addresses: smtplib sees SMTPUTF8 in EHLO and adds SMTPUTF8 and
    BODY=8BITMIME to MAIL itself (passing SMTPUTF8 in mail_options as well
    would send it twice, which the server rightly refuses as a duplicate)."""
    srv = server()
    with RecordingSMTP(HOST, srv.port, local_hostname="client.example", timeout=60) as s:
        s.ehlo()
        assert s.has_extn("smtputf8")
        m = make_message("pelé@exämple.org", "用户@例子.测试", subject="Grüße ✉",
                         body="Zoë says héllo ✉\n", policy=email.policy.SMTPUTF8)
        assert s.send_message(m) == {}
        assert_smtplib_queued(s)


def test_smtplib_smtputf8_mail_option(server):
    """mail_options=['SMTPUTF8'] given by the caller, with a UTF-8 address
    (sendmail: smtplib then encodes the commands as UTF-8)."""
    srv = server()
    with RecordingSMTP(HOST, srv.port, local_hostname="client.example", timeout=60) as s:
        body = ("From: <δοκιμή@παράδειγμα.δοκιμή>\r\nTo: <rcpt@example.com>\r\n"
                "Subject: Ünïcödé\r\n\r\nΚαλημέρα\r\n").encode("utf-8")
        refused = s.sendmail("δοκιμή@παράδειγμα.δοκιμή", ["rcpt@example.com"], body,
                             mail_options=["SMTPUTF8", "BODY=8BITMIME"])
        assert refused == {}
        assert_smtplib_queued(s)
    with RecordingSMTP(HOST, srv.port, local_hostname="client.example", timeout=60) as s:
        # send_message with ASCII addresses and mail_options=['SMTPUTF8']:
        # smtplib passes the option through unchanged.
        m = make_message("sender@example.com", "rcpt@example.com", subject="Grüße",
                         body="Ünïcödé body\n", policy=email.policy.SMTPUTF8)
        assert s.send_message(m, mail_options=["SMTPUTF8"]) == {}
        assert_smtplib_queued(s)


def test_smtplib_login(server):
    srv = server()
    with RecordingSMTP(HOST, srv.port, local_hostname="client.example", timeout=60) as s:
        code, _ = s.login("alice", "secret")
        assert code == 235
        s.send_message(make_message("alice@example.com", "rcpt@example.com"))
        assert_smtplib_queued(s)


def test_smtplib_auth_reject(server):
    srv = server("--auth-reject")
    with smtplib.SMTP(HOST, srv.port, local_hostname="client.example", timeout=60) as s:
        try:
            s.login("alice", "secret")
        except smtplib.SMTPAuthenticationError as e:
            assert e.smtp_code == 535
        else:
            raise AssertionError("--auth-reject: login succeeded")


# -- BDAT over a raw socket (smtplib has no CHUNKING) ---------------------
def test_bdat_last(server):
    srv = server()
    with srv.wire() as w:
        _, e = greet(w)
        assert any(ln[4:].upper().startswith("CHUNKING") for ln in e.lines), e.raw
        # Content that would end a DATA transfer is only data under BDAT.
        content = b"Subject: bdat\r\n\r\nline\r\n.\r\nQUIT\r\n"
        w.send(b"MAIL FROM:<sender@example.com>\r\nRCPT TO:<rcpt@example.com>\r\n"
               b"BDAT %d LAST\r\n" % len(content) + content)
        w.expect(250)
        w.expect(250)
        assert_queued(w.reply())
        w.cmd("QUIT", 221)


def test_bdat_chunks(server):
    srv = server()
    with srv.wire() as w:
        greet(w)
        w.cmd("MAIL FROM:<sender@example.com> BODY=BINARYMIME", 250)
        w.cmd("RCPT TO:<rcpt@example.com>", 250)
        chunk = b"Subject: chunks\r\n\r\n" + bytes(range(256)) * 4
        for _ in range(3):
            w.send(b"BDAT %d\r\n" % len(chunk) + chunk)
            r = w.expect(250)
            assert "%d octets" % len(chunk) in r.lines[-1], r.raw
        w.send(b"BDAT 0 LAST\r\n")
        assert_queued(w.reply())
        w.cmd("QUIT", 221)
    srv.stop()
    assert srv.summary().get("messages") == 1, srv.summary_line()


def test_pipelined_transactions_one_write(server):
    """Ten pipelined transactions in one write (RFC 2920), RSET between."""
    srv = server()
    with srv.wire() as w:
        greet(w)
        one = (b"RSET\r\nMAIL FROM:<s@example.com>\r\nRCPT TO:<r@example.com>\r\nDATA\r\n"
               + MESSAGE + b".\r\n")
        w.send(one * 10 + b"QUIT\r\n")
        for _ in range(10):
            w.expect(250)
            w.expect(250)
            w.expect(250)
            w.expect(354)
            assert_queued(w.reply())
        w.expect(221)
        assert w.read_until_closed(10) == b""
    srv.stop()
    assert srv.summary().get("messages") == 10, srv.summary_line()


@pytest.fixture
def sock_path():
    """A unix socket path short enough for sun_path (108 bytes)."""
    d = tempfile.mkdtemp(prefix="smtpsink-")
    yield os.path.join(d, "sock")
    shutil.rmtree(d, ignore_errors=True)


def test_unix_socket(server, sock_path):
    srv = server(listen=["unix:" + sock_path])
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(sock_path)
    with Wire(sock=s) as w:
        greet(w)
        assert_queued(transaction(w))
        w.cmd("QUIT", 221)
    srv.stop()
    assert srv.summary().get("messages") == 1, srv.summary_line()


def test_two_listen_addresses(server):
    p1, p2 = free_port(), free_port("127.0.0.2")
    srv = server(listen=["127.0.0.1:%d" % p1, "127.0.0.2:%d" % p2])
    full_session("127.0.0.1", p1)
    full_session("127.0.0.2", p2)
    srv.stop()
    assert srv.summary().get("messages") == 2, srv.summary_line()


# -- Postfix smtp-source --------------------------------------------------
def test_smtp_source_connection_caching(server):
    """smtp-source -s 100 -m 10000 -d: 100 sessions, 10,000 messages, each
    session sending message after message (RSET, MAIL, RCPT, DATA)."""
    srv = server()
    p = run([need_tool("smtp-source"), "-s", "100", "-m", "10000", "-d",
             "%s:%d" % (HOST, srv.port)], timeout=300)
    assert p.returncode == 0, show(p)
    srv.stop()
    summary = srv.summary()
    assert summary.get("messages") == 10000, srv.summary_line()
    assert summary.get("connections") == 100, srv.summary_line()


def test_smtp_source_connection_per_message(server):
    srv = server()
    p = run([need_tool("smtp-source"), "-s", "20", "-m", "2000",
             "%s:%d" % (HOST, srv.port)], timeout=300)
    assert p.returncode == 0, show(p)
    srv.stop()
    summary = srv.summary()
    assert summary.get("messages") == 2000, srv.summary_line()
    assert summary.get("connections") == 2000, srv.summary_line()


def test_smtp_source_unix_socket(server, sock_path):
    srv = server(listen=["unix:" + sock_path])
    p = run([need_tool("smtp-source"), "-s", "10", "-m", "1000", "-d", "unix:" + sock_path],
            timeout=300)
    assert p.returncode == 0, show(p)
    srv.stop()
    assert srv.summary().get("messages") == 1000, srv.summary_line()
