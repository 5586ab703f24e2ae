"""Messages sent through real clients come back out of the spool byte for
byte: `cat`, `export --eml`, `export --mbox` (read back with Python's
mailbox, mboxrd quoting undone) and `export --maildir` (mailbox.Maildir);
`show` and `cat --envelope` report the envelope the client gave.

Varied content: plain ASCII, 8-bit with BODY=8BITMIME, SMTPUTF8 addresses,
dot-lines (stuffed by the client, unstuffed by the server), a 20000-byte
line, binary with NUL and bare CR/LF via BDAT (in chunks, and one without a
final line end), 150 recipients, "From " lines that mbox must quote, and a
message sent with swaks.
"""

import json
import mailbox

from spool_helpers import ls_json, send_bdat, send_smtplib, send_swaks, tool, unquote_mboxrd

CRLF = b"\r\n"


def varied_messages(port, tmp_path):
    """Send the corpus; return {qid: (expected body, sender, rcpts)}."""
    sent = {}

    def smtp(sender, rcpts, body, **kw):
        sent[send_smtplib(port, sender, rcpts, body, **kw)] = (body, sender, rcpts)

    smtp("plain@example.com", ["to@example.org"], b"Subject: plain\r\n\r\nhello\r\n")
    smtp("eight@example.com", ["to@example.org"],
         b"Subject: =?iso-8859-1?q?caf=E9?=\r\nContent-Type: text/plain; charset=latin1\r\n\r\n"
         b"caf\xe9 cr\xe8me \xff\xfe\r\n", mail_options=["BODY=8BITMIME"])
    smtp("\u00fcser@\u00e9xample.org", ["\u00e4@\u00e9xample.org"],
         "Subject: \u00fcnicode \u2603\r\n\r\nsnow \u2603\r\n".encode(), mail_options=["SMTPUTF8", "BODY=8BITMIME"])
    smtp("dots@example.com", ["to@example.org"],
         b"Subject: dots\r\n\r\n.\r\n..two\r\n.leading\r\nmiddle . dot\r\n...\r\n")
    smtp("long@example.com", ["to@example.org"], b"Subject: long line\r\n\r\n" + b"x" * 20000 + CRLF + b"end\r\n")
    smtp("mbox@example.com", ["to@example.org"],
         b"Subject: from lines\r\n\r\nFrom the start\r\n>From quoted\r\n>>From twice\r\nnot From here\r\n")
    rcpts = ["r%03d@example.org" % i for i in range(150)]
    smtp("many@example.com", rcpts, b"Subject: many recipients\r\n\r\nto 150\r\n")
    binary = b"Subject: binary\r\n\r\n" + bytes(range(256)) * 8 + b"\nbare lf\rbare cr\x00nul\r\n"
    sent[send_bdat(port, "bdat@example.com", "to@example.org", binary, chunks=3)] = (
        binary, "bdat@example.com", ["to@example.org"])
    no_eol = b"Subject: no final line end\r\n\r\nlast line without CRLF"
    sent[send_bdat(port, "noeol@example.com", "to@example.org", no_eol, chunks=1)] = (
        no_eol, "noeol@example.com", ["to@example.org"])
    data = tmp_path / "swaks.eml"
    data.write_bytes(b"Subject: via swaks\r\nX-Test: 1\r\n\r\nline one\r\n.dot line\r\nlast")
    sent[send_swaks(port, "swaks@example.com", "to@example.org", data)] = (
        data.read_bytes() + CRLF, "swaks@example.com", ["to@example.org"])
    return sent


def ascii_sender(sender):
    """The From_ line's sender: every byte outside 0x21..0x7E as '_'."""
    return "".join(chr(b) if 0x20 < b < 0x7F else "_" for b in sender.encode()) or "MAILER-DAEMON"


def mbox_expected(body, sender):
    """A message as an mbox export holds it: a final line end added when
    missing, and X-Smtpsink-Envelope-From first when the From_ line cannot
    hold the sender exactly (SMTPUTF8)."""
    body = body if body.endswith(b"\n") else body + b"\n"  # mbox cannot keep a missing final EOL
    if ascii_sender(sender) == sender:
        return body
    return b"X-Smtpsink-Envelope-From: <" + sender.encode() + b">\r\n" + body


def check_exports(spool, tmp_path, sent, listed):
    for qid, (body, _, _) in sent.items():
        assert tool(spool, "cat", qid, check=0).stdout == body, qid
    tool(spool, "export", "--eml", tmp_path / "eml", check=0)
    for qid, (body, _, _) in sent.items():
        assert (tmp_path / "eml" / (qid + ".eml")).read_bytes() == body, qid
    # mbox: oldest first, i.e. ls order reversed
    tool(spool, "export", "--mbox", tmp_path / "out.mbox", check=0)
    mb = mailbox.mbox(str(tmp_path / "out.mbox"), create=False)
    got = [unquote_mboxrd(mb.get_bytes(k)) for k in mb.keys()]
    want = [mbox_expected(*sent[m["qid"]][:2]) for m in reversed(listed)]
    assert got == want
    # the From_ lines are ASCII: mailbox parses every message, the SMTPUTF8 one too
    senders = [mb.get_message(k).get_from().split(" ", 1)[0] for k in mb.keys()]
    assert senders == [ascii_sender(sent[m["qid"]][1]) for m in reversed(listed)]
    tool(spool, "export", "--maildir", tmp_path / "md", check=0)
    md = mailbox.Maildir(str(tmp_path / "md"), factory=None, create=False)
    by_qid = {key.split("Q", 1)[1].split(".", 1)[0]: md.get_bytes(key) for key in md.keys()}
    assert by_qid == {qid: body for qid, (body, _, _) in sent.items()}


def test_cat_and_export_are_byte_exact(server, tmp_path):
    srv = server("--shards", "2")
    sent = varied_messages(srv.port, tmp_path)
    listed = ls_json(srv.spool)
    assert sorted(m["qid"] for m in listed) == sorted(sent)
    for m in listed:
        body, sender, rcpts = sent[m["qid"]]
        assert m["mail_from"] == sender and [r["addr"] for r in m["rcpts"]] == rcpts
        assert m["size"] == len(body) and m["rcpt_count"] == len(rcpts)
    check_exports(srv.spool, tmp_path, sent, listed)
    srv.stop()  # sealed segments too (their index may not verify: read by scanning)
    check_exports(srv.spool, tmp_path / "after", sent, listed)


def test_flags_subjects_and_json(server, tmp_path):
    srv = server("--shards", "1")
    sent = varied_messages(srv.port, tmp_path)
    by_subject = {m["subject"]: m for m in ls_json(srv.spool)}
    assert "café" in by_subject  # RFC 2047, ISO-8859-1 -> UTF-8
    assert "8bit" in by_subject["café"]["flags"]
    assert "\u00fcnicode \u2603" in by_subject
    assert "smtputf8" in by_subject["\u00fcnicode \u2603"]["flags"]
    assert "long_line" in by_subject["long line"]["flags"]
    binary = by_subject["binary"]
    assert {"bdat", "nul", "bare_lf", "bare_cr"} <= set(binary["flags"])
    assert binary["client"] == {"family": "ipv4", "addr": "127.0.0.1", "port": binary["client"]["port"]}
    assert binary["helo"] == "bdat.example" and binary["protocol"] == "ESMTP"
    assert binary["mail_params"] == "BODY=BINARYMIME"
    assert len(sent) == len(by_subject)


def test_show_and_envelope(server, tmp_path):
    srv = server("--shards", "1")
    qid = send_smtplib(srv.port, "env@example.com", ["a@example.org", "b@example.org"],
                       b"Subject: folded\r\n  subject line\r\nX-Other: 1\r\n\r\nbody\r\n",
                       mail_options=["BODY=8BITMIME"], rcpt_options=["NOTIFY=NEVER"])
    out = tool(srv.spool, "show", qid, check=0, text=True).stdout
    assert "Queue ID:    %s" % qid in out and "<env@example.com> BODY=8BITMIME" in out
    assert "<b@example.org> NOTIFY=NEVER" in out and "Subject:     folded  subject line" in out
    shown = json.loads(tool(srv.spool, "show", "--json", qid, check=0).stdout)
    assert shown["headers"][0] == {"name": "Subject", "value": "folded  subject line"}
    assert shown["rcpts"][1] == {"addr": "b@example.org", "params": "NOTIFY=NEVER"}
    env = tool(srv.spool, "cat", "--envelope", qid, check=0).stdout
    head, body = env.split(b"Subject: folded", 1)
    assert head.startswith(b"X-Client-Addr: 127.0.0.1\r\nX-Client-Proto: ESMTP\r\nX-Helo-Args: client.example\r\n"
                           b"X-Mail-Args: <env@example.com> BODY=8BITMIME\r\n"
                           b"X-Rcpt-Args: <a@example.org> NOTIFY=NEVER\r\n"
                           b"X-Rcpt-Args: <b@example.org> NOTIFY=NEVER\r\n"
                           b"Received: from client.example ([127.0.0.1])\r\n\tby smtpsink (smtpsink) with ESMTP id "
                           + qid.encode() + b";\r\n\t")
    assert b"Subject: folded" + body == tool(srv.spool, "cat", qid, check=0).stdout


def test_json_escapes_any_bytes(server):
    srv = server("--shards", "1")
    subject = b"bad \xff\xfe ctl\x01 tab\t quote\" back\\ sep\xe2\x80\xa8 ok \xc3\xa9 overlong \xc0\xaf"
    send_smtplib(srv.port, "j@example.com", ["j@example.org"], b"Subject: " + subject + b"\r\n\r\nx\r\n",
                 mail_options=["BODY=8BITMIME"])
    raw = tool(srv.spool, "ls", "--json", check=0).stdout
    raw.decode("utf-8")  # always valid UTF-8
    assert b"\\u00ff\\u00fe" in raw and b"\\u0001" in raw and b"\\u2028" in raw and b"\xc3\xa9" in raw
    m = json.loads(raw)
    assert m["subject"] == "bad \u00ff\u00fe ctl\x01 tab\t quote\" back\\ sep\u2028 ok \u00e9 overlong \u00c0\u00af"
    human = tool(srv.spool, "ls", check=0).stdout
    assert b"\x01" not in human and b"ctl? tab? quote" in human  # controls never reach a terminal
