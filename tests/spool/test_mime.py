"""The MIME commands of smtpsink-spool (issue 13): text, html, parts and
part, on mail built by Python's email package (the MIME a real client
writes: multipart/mixed > [multipart/alternative > [text/plain,
multipart/related > [text/html, inline image by Content-ID]], an
attachment with an RFC 2231 file name]) and sent through a real server.

Terminal safety: a body printed to a terminal (a pty here) has its
controls replaced, a pipe gets the decoded bytes; `part` refuses to write
to a terminal and writes exact bytes to a pipe or --output/-o FILE.
"""

import json
import os
import pty
import subprocess
from email.message import EmailMessage

from spool_helpers import send_smtplib, tool, tool_bin

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\x1b[31m\n"
PDF_NAME = "r\u00e9sum\u00e9 na\u00efve.pdf"
TEXT = "Caf\u00e9 price: 5 \u20ac\nsecond\tline \x1b[31mred\n"


def rich_message():
    msg = EmailMessage()
    msg["From"] = "Ren\u00e9 <rene@example.fr>"
    msg["To"] = "alice@example.org"
    msg["Subject"] = "Pictures \u2603"
    msg.set_content(TEXT, charset="utf-8", cte="quoted-printable")
    msg.add_alternative("<html><body><p>Caf\u00e9 <img src=\"cid:logo@example\"></p></body></html>",
                        subtype="html", charset="iso-8859-1")
    html = msg.get_payload()[1]
    html.add_related(PNG, "image", "png", cid="<logo@example>", disposition="inline")
    msg.add_attachment(PDF, "application", "pdf", filename=PDF_NAME)
    return msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))


def send(srv, body):
    return send_smtplib(srv.port, "s@example.com", ["r@example.org"], body)


def on_pty(spool, *args):
    """Run the tool with stdout on a pty; returns (exit code, output, stderr)."""
    master, slave = pty.openpty()
    p = subprocess.Popen([tool_bin(), "--spool", str(spool)] + [str(a) for a in args], stdout=slave,
                         stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO once the child closed its side
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    err = p.stderr.read()
    p.stderr.close()
    return p.wait(timeout=60), out.replace(b"\r\n", b"\n"), err


def test_text_html_parts_and_part(server, tmp_path):
    srv = server("--shards", "1")
    qid = send(srv, rich_message())
    text = tool(srv.spool, "text", qid, check=0).stdout
    assert text == TEXT.encode()  # QP decoded, UTF-8, line ends LF, controls kept on a pipe
    html = tool(srv.spool, "html", qid, check=0).stdout
    assert html == "<html><body><p>Caf\u00e9 <img src=\"cid:logo@example\"></p></body></html>\n".encode()
    rows = [json.loads(ln) for ln in tool(srv.spool, "parts", "--json", qid, check=0).stdout.splitlines()]
    assert rows == [
        {"part_id": "2", "kind": "attachment", "content_type": "application/pdf", "file_name": PDF_NAME,
         "content_id": "", "size": len(PDF)},
        {"part_id": "1.2.2", "kind": "inline", "content_type": "image/png", "file_name": "",
         "content_id": "logo@example", "size": len(PNG)},
    ]
    table = tool(srv.spool, "parts", qid, check=0, text=True).stdout.splitlines()
    assert table[0].split()[:4] == ["PART", "KIND", "TYPE", "SIZE"]
    assert table[1].split()[:4] == ["2", "attachment", "application/pdf", str(len(PDF))]
    assert table[1].endswith(PDF_NAME) and table[2].endswith("logo@example")
    assert tool(srv.spool, "part", qid, "2", check=0).stdout == PDF
    assert tool(srv.spool, "part", qid, "1.2.2", check=0).stdout == PNG
    out = tmp_path / "out.pdf"
    assert tool(srv.spool, "part", "-o", out, qid, "2", check=0).stdout == b""
    assert out.read_bytes() == PDF
    out2 = tmp_path / "out2.png"
    tool(srv.spool, "part", qid, "1.2.2", "--output", out2, check=0)
    assert out2.read_bytes() == PNG


def test_errors(server):
    srv = server("--shards", "1")
    qid = send(srv, rich_message())
    p = tool(srv.spool, "part", qid, "9", check=1, text=True)
    assert "no part 9" in p.stderr and p.stdout == ""
    assert "no part 1" in tool(srv.spool, "part", qid, "1", check=1, text=True).stderr  # a multipart
    assert "which message?" in tool(srv.spool, "part", qid, check=2, text=True).stderr
    assert "which message?" in tool(srv.spool, "text", check=2, text=True).stderr
    tool(srv.spool, "parts", "AAAAAAAAAAAAAA", check=2)  # not a queue ID
    plain = send(srv, b"Subject: plain\r\n\r\nonly text\r\n")
    assert tool(srv.spool, "text", plain, check=0).stdout == b"only text\n"
    assert "has no text/html body" in tool(srv.spool, "html", plain, check=1, text=True).stderr
    assert tool(srv.spool, "parts", "--json", plain, check=0).stdout == b""
    for cmd in ("text", "html", "parts", "part"):
        assert tool(srv.spool, cmd, "--help", check=0, text=True).stdout.startswith("usage:")
    assert "part [options] ID N" in tool(srv.spool, "part", "--help", check=0, text=True).stdout


def test_terminal(server):
    srv = server("--shards", "1")
    body = ("Subject: ctl\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
            "Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
            "csi =9B31m esc =1B[2J tab\there\r\n"
            "--b\r\nContent-Type: application/octet-stream\r\n"
            "Content-Disposition: attachment; filename*=utf-8''x%1B%5D0%3Btitle%07%C2%9B.bin\r\n\r\n"
            "\x1b]0;pwned\x07\r\n--b--\r\n").encode()
    qid = send(srv, body)
    piped = tool(srv.spool, "text", qid, check=0).stdout
    assert piped == "csi \u009b31m esc \x1b[2J tab\there\n".encode()  # a pipe gets the text as decoded
    code, out, _ = on_pty(srv.spool, "text", qid)
    assert code == 0 and out == b"csi ?31m esc ?[2J tab\there\n"
    code, out, _ = on_pty(srv.spool, "parts", qid)
    assert code == 0 and b"\x1b" not in out and b"x?]0;title??.bin" in out
    code, out, err = on_pty(srv.spool, "part", qid, "2")
    assert code == 2 and out == b"" and b"terminal" in err
    assert tool(srv.spool, "part", qid, "2", check=0).stdout == b"\x1b]0;pwned\x07"
