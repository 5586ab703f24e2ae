"""TLS against real clients, on both backends (issue 14).

Clients: Python's smtplib (starttls and SMTP_SSL), openssl s_client
-starttls smtp (TLS 1.3 and 1.2), swaks --tls and --tlsc, curl --ssl-reqd and
smtps://, msmtp with STARTTLS and with implicit TLS.  Protocol checks over a
raw socket wrapped by Python's ssl module: STARTTLS's refusals (501, 503),
the reset after the handshake (RFC 3207 4.2), --require-tls, the command
injection of CVE-2011-0411 (bytes after STARTTLS in the same packet are
dropped, never answered nor decrypted), handshake failure and timeout (no
clear reply, no leak, the server serves on), the tls fault stage (refuse,
fail, delay), resumption from a ticket across shards, certificates from
files, and the TLS facts in message records, session reports and
transcripts.
"""

import re
import socket
import ssl
import smtplib
import subprocess
import time

import pytest

from interop_helpers import HOST, Wire, assert_queued, greet, need_tool, parse_trace, spool_tool, transaction

CLIENT_TIMEOUT = 60
QUEUED = re.compile(r"250[ -]2\.0\.0 Ok: queued as ([\x21-\x7e]{1,20})")
SELF_SIGNED = ("--tls-self-signed", "--hostname", "mx.tls.test")


def client_ctx(**kw):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    for k, v in kw.items():
        setattr(ctx, k, v)
    return ctx


def run(argv, **kw):
    kw.setdefault("timeout", CLIENT_TIMEOUT)
    if "input" not in kw:
        kw.setdefault("stdin", subprocess.DEVNULL)
    return subprocess.run(argv, capture_output=True, text=True, errors="replace", **kw)


def show(p):
    return "exit %s\n--- stdout\n%s\n--- stderr\n%s" % (p.returncode, p.stdout[-3000:], p.stderr[-3000:])


def tls_server(server, tmp_path, *extra, spool=True, implicit=False, **kw):
    """A server with a self-signed certificate; with implicit, a second
    listener speaks implicit TLS (srv.tls_port)."""
    args = list(SELF_SIGNED) + list(extra)
    if spool:
        args += ["--spool", str(tmp_path / "spool")]
    listen = None
    tls_port = None
    if implicit:
        from interop_helpers import free_port
        port, tls_port = free_port(), free_port()
        listen = ["%s:%d" % (HOST, port)]
        args += ["--listen-tls", "%s:%d" % (HOST, tls_port)]
    srv = server(*args, discard=not spool, listen=listen, **kw)
    if implicit:
        srv.port = port
    srv.tls_port = tls_port
    return srv


def starttls_wire(srv, ctx=None, sni="mx.tls.test"):
    """A Wire through EHLO, STARTTLS and the handshake, on TLS."""
    w = srv.wire()
    greet(w)
    w.cmd("STARTTLS", 220)
    tls = (ctx or client_ctx()).wrap_socket(w.sock, server_hostname=sni)
    return Wire(sock=tls, timeout=w.timeout), tls


def ehlo_keywords(reply):
    return {ln[4:].split(" ")[0].upper() for ln in reply.lines[1:]}


def records(srv, tmp_path):
    srv.stop()
    p = spool_tool(tmp_path / "spool", "ls", "--json")
    import json
    return [json.loads(ln) for ln in p.stdout.splitlines() if ln.strip()]


# -- advertising and the protocol ------------------------------------------
def test_starttls_only_with_a_certificate(server, tmp_path):
    plain = server()
    with plain.wire() as w:
        _, e = greet(w)
        assert "STARTTLS" not in ehlo_keywords(e), e.raw
        w.cmd("STARTTLS", 502)
    srv = tls_server(server, tmp_path, spool=False)
    with srv.wire() as w:
        _, e = greet(w)
        assert "STARTTLS" in ehlo_keywords(e), e.raw
        w.cmd("STARTTLS now", 501)
        w.cmd("MAIL FROM:<a@b>", 250)
        r = w.cmd("STARTTLS", 503)
        assert "transaction" in r.text
        w.cmd("RSET", 250)
        w.cmd("QUIT", 221)


def test_starttls_resets_the_session(server, tmp_path):
    srv = tls_server(server, tmp_path, "--strict-helo-first", spool=False)
    w, tls = starttls_wire(srv)
    with w:
        assert tls.version() in ("TLSv1.3", "TLSv1.2")
        r = w.cmd("MAIL FROM:<a@b>", 503)  # the EHLO before STARTTLS is forgotten
        assert "HELO/EHLO" in r.text
        e = w.cmd("EHLO client.example", 250)
        assert "STARTTLS" not in ehlo_keywords(e), e.raw
        w.cmd("STARTTLS", 503)
        assert_queued(transaction(w))
        w.cmd("QUIT", 221)


def test_require_tls(server, tmp_path):
    srv = tls_server(server, tmp_path, "--require-tls", spool=False)
    with srv.wire() as w:
        greet(w)
        r = w.cmd("MAIL FROM:<a@b>", 530)
        assert r.lines[-1].startswith("530 5.7.0"), r.raw
    w, _ = starttls_wire(srv)
    with w:
        w.cmd("EHLO client.example", 250)
        assert_queued(transaction(w))


def test_starttls_command_injection_is_dropped(server, tmp_path):
    """CVE-2011-0411: commands sent with STARTTLS in one packet are the
    attacker's plaintext; they are neither answered in clear nor taken as
    if they came over TLS."""
    trace = tmp_path / "trace.txt"
    srv = tls_server(server, tmp_path, "--trace", str(trace), spool=False)
    w = srv.wire()
    greet(w)
    w.send(b"STARTTLS\r\nMAIL FROM:<evil@attacker.example>\r\nRCPT TO:<victim@x.example>\r\n")
    r = w.expect(220)
    assert r.lines == ["220 2.0.0 Ready to start TLS"], r.raw
    w.sock.settimeout(0.5)
    with pytest.raises(socket.timeout):
        extra = w.sock.recv(4096)  # nothing else comes in clear
        pytest.fail("bytes after the 220 in clear: %r" % extra)
    tls = client_ctx().wrap_socket(w.sock, server_hostname="mx.tls.test")
    tw = Wire(sock=tls, timeout=10)
    tw.cmd("EHLO client.example", 250)
    r = tw.cmd("RCPT TO:<victim@x.example>", 503)  # the injected MAIL never ran
    assert "need MAIL" in r.text, r.raw
    tw.cmd("QUIT", 221)
    tw.close()
    srv.stop()
    text = trace.read_text()
    assert re.search(r"\d+ bytes after STARTTLS discarded", text), text
    assert "evil@attacker" not in text


# -- real clients ------------------------------------------------------------
def test_smtplib_starttls_and_smtp_ssl(server, tmp_path):
    srv = tls_server(server, tmp_path, "--shards", "2", implicit=True)
    s = smtplib.SMTP(HOST, srv.port, timeout=CLIENT_TIMEOUT)
    s.ehlo("client.example")
    assert s.has_extn("starttls")
    s.starttls(context=client_ctx())
    s.ehlo("client.example")
    assert not s.has_extn("starttls")
    s.sendmail("a@example.com", ["b@example.com"], b"Subject: over starttls\r\n\r\nbody\r\n")
    s.quit()
    s = smtplib.SMTP_SSL(HOST, srv.tls_port, timeout=CLIENT_TIMEOUT, context=client_ctx())
    s.ehlo("client.example")
    assert not s.has_extn("starttls")
    s.sendmail("a@example.com", ["c@example.com"], b"Subject: implicit tls\r\n\r\nbody\r\n")
    version, cipher = s.sock.version(), s.sock.cipher()[0]
    s.quit()
    recs = records(srv, tmp_path)
    assert len(recs) == 2, recs
    for m in recs:
        assert m["protocol"] == "ESMTPS", m
        assert m["tls"] == "%s %s" % (version, cipher), m
    show_text = spool_tool(tmp_path / "spool", "show", recs[0]["qid"]).stdout
    assert re.search(r"^TLS:\s+TLSv1\.[23] \S+", show_text, re.M), show_text
    sess = spool_tool(tmp_path / "spool", "session", recs[0]["session_id"]).stdout
    assert re.search(r"^TLS:\s+TLSv1\.[23] \S+", sess, re.M), sess
    cat = spool_tool(tmp_path / "spool", "cat", "--envelope", recs[0]["qid"]).stdout
    assert "with ESMTPS id" in cat, cat[:600]
    assert "(using %s with cipher %s)" % (version, cipher) in cat, cat[:600]


def test_openssl_s_client_tls13_and_tls12(server, tmp_path):
    srv = tls_server(server, tmp_path, spool=False)
    for flag, want in (("-tls1_3", "TLSv1.3"), ("-tls1_2", "TLSv1.2")):
        p = run([need_tool("openssl"), "s_client", "-starttls", "smtp", "-connect", "%s:%d" % (HOST, srv.port),
                 flag, "-servername", "sni.tls.test", "-brief", "-ign_eof"],
                input="EHLO c.example\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n"
                      "Subject: s_client\r\n\r\nhi\r\n.\r\nQUIT\r\n")
        assert p.returncode == 0, show(p)
        assert "Protocol version: %s" % want in p.stderr, show(p)
        assert QUEUED.search(p.stdout), show(p)


def test_swaks_tls_and_tlsc(server, tmp_path):
    srv = tls_server(server, tmp_path, spool=False, implicit=True)
    base = [need_tool("swaks"), "--server", HOST, "--timeout", "30", "--from", "a@example.com",
            "--to", "b@example.com", "--helo", "client.example"]
    p = run(base + ["--port", str(srv.port), "--tls"])
    assert p.returncode == 0 and QUEUED.search(p.stdout), show(p)
    assert "TLS started" in p.stdout, show(p)
    p = run(base + ["--port", str(srv.tls_port), "--tlsc"])
    assert p.returncode == 0 and QUEUED.search(p.stdout), show(p)


def test_curl_ssl_reqd_and_smtps(server, tmp_path):
    srv = tls_server(server, tmp_path, spool=False, implicit=True)
    msg = tmp_path / "m.eml"
    msg.write_bytes(b"Subject: curl tls\r\n\r\nbody\r\n")
    for url, extra in (("smtp://%s:%d" % (HOST, srv.port), ["--ssl-reqd"]),
                       ("smtps://%s:%d" % (HOST, srv.tls_port), [])):
        p = run([need_tool("curl"), "-sS", "-k", "-v", url] + extra +
                ["--mail-from", "a@example.com", "--mail-rcpt", "b@example.com", "-T", str(msg)])
        assert p.returncode == 0, show(p)
        assert QUEUED.search(p.stderr), show(p)


def test_msmtp_starttls_and_implicit(server, tmp_path):
    srv = tls_server(server, tmp_path, spool=False, implicit=True)
    for port, starttls in ((srv.port, "on"), (srv.tls_port, "off")):
        p = run([need_tool("msmtp"), "--host", HOST, "--port", str(port), "--tls=on",
                 "--tls-starttls=%s" % starttls, "--tls-certcheck=off", "--from", "a@example.com",
                 "--auth=off", "-d", "b@example.com"], input="Subject: msmtp tls\n\nbody\n")
        assert p.returncode == 0, show(p)
        assert QUEUED.search(p.stdout + p.stderr), show(p)


# -- failures -----------------------------------------------------------------
def test_handshake_garbage_and_silence(server, tmp_path):
    srv = tls_server(server, tmp_path, "--timeout", "2", spool=True)
    w = srv.wire()
    greet(w)
    w.cmd("STARTTLS", 220)
    w.send(b"this is not a ClientHello\r\n" * 4)
    data = w.read_until_closed(10)
    assert b"\r\n" not in data and not data.startswith(b"5"), data  # no clear reply, perhaps an alert
    w.close()
    w = srv.wire()
    greet(w)
    w.cmd("STARTTLS", 220)
    t0 = time.monotonic()
    data = w.read_until_closed(15)  # the handshake has --timeout
    waited = time.monotonic() - t0
    assert data == b"", data
    assert 1.5 <= waited <= 6, waited
    w.close()
    with srv.wire() as w:  # the server serves on
        greet(w)
        assert_queued(transaction(w))
    srv.stop()
    p = spool_tool(tmp_path / "spool", "sessions", "--json")
    fails = [ln for ln in p.stdout.splitlines() if '"tls":"failed:' in ln]
    assert len(fails) >= 1, p.stdout


def test_fault_stage_tls(server, tmp_path):
    srv = tls_server(server, tmp_path, "--fault", "tls:reply=454 4.7.0 TLS not available:client=127.0.0.1",
                     spool=False)
    with srv.wire() as w:
        greet(w)
        r = w.cmd("STARTTLS", 454)
        assert r.lines == ["454 4.7.0 TLS not available"], r.raw
        assert_queued(transaction(w))  # the session goes on in clear
    srv = tls_server(server, tmp_path, "--fault", "tls:fail", spool=False)
    w = srv.wire()
    greet(w)
    w.cmd("STARTTLS", 220)
    with pytest.raises(ssl.SSLError) as e:
        client_ctx().wrap_socket(w.sock, server_hostname="mx.tls.test")
    assert "HANDSHAKE_FAILURE" in str(e.value).upper() or "alert" in str(e.value).lower(), e.value
    srv = tls_server(server, tmp_path, "--fault", "tls:delay=800ms", spool=False)
    with srv.wire() as w:
        greet(w)
        t0 = time.monotonic()
        w.cmd("STARTTLS", 220)
        assert time.monotonic() - t0 >= 0.7
        tls = client_ctx().wrap_socket(w.sock, server_hostname="mx.tls.test")
        tw = Wire(sock=tls)
        tw.cmd("EHLO c.example", 250)
        tw.cmd("QUIT", 221)


def test_implicit_tls_fault_fail(server, tmp_path):
    srv = tls_server(server, tmp_path, "--fault", "tls:fail", spool=False, implicit=True)
    raw = socket.create_connection((HOST, srv.tls_port), timeout=10)
    with pytest.raises(ssl.SSLError):
        client_ctx().wrap_socket(raw, server_hostname="mx.tls.test")
    raw.close()
    with srv.wire() as w:  # the clear listener does STARTTLS, which fails too
        greet(w)
        w.cmd("STARTTLS", 220)
        with pytest.raises(ssl.SSLError):
            client_ctx().wrap_socket(w.sock, server_hostname="mx.tls.test")


# -- keys and resumption ----------------------------------------------------
def test_resumption_across_shards(server, tmp_path):
    srv = tls_server(server, tmp_path, "--shards", "2", spool=False, implicit=True)
    ctx = client_ctx(maximum_version=ssl.TLSVersion.TLSv1_2)  # TLS 1.2 hands the session over at once
    first = ctx.wrap_socket(socket.create_connection((HOST, srv.tls_port), timeout=10),
                            server_hostname="mx.tls.test")
    Wire(sock=first).expect(220)
    session = first.session
    first.close()
    resumed = 0
    for _ in range(8):  # several connections: the kernel spreads them over both shards
        s = ctx.wrap_socket(socket.create_connection((HOST, srv.tls_port), timeout=10),
                            server_hostname="mx.tls.test", session=session)
        Wire(sock=s).expect(220)
        resumed += s.session_reused
        s.close()
    assert resumed == 8, resumed


def test_certificate_from_files(server, tmp_path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    p = run([need_tool("openssl"), "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=files.tls.test"])
    assert p.returncode == 0, show(p)
    srv = server("--tls-cert", str(cert), "--tls-key", str(key))
    w, tls = starttls_wire(srv)
    with w:
        der = tls.getpeercert(binary_form=True)
        assert der == ssl.PEM_cert_to_DER_cert(cert.read_text()), "the server did not present cert.pem"
        w.cmd("QUIT", 221)
    other = tmp_path / "other.pem"
    run([need_tool("openssl"), "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(other)])
    bad = server("--tls-cert", str(cert), "--tls-key", str(other), wait=False, check_exit=False)
    assert bad.wait(timeout=10) != 0
    assert "does not match" in bad.stderr(), bad.stderr()
