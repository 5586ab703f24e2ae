"""smtpsink --config FILE and SIGHUP (issue 16).

Owns: the server started from a config file (keys as the long options,
repeated keys, flags), the command line overriding it key by key (its
--listen replaces the file's listen list), errors naming file and line
(exit 2), the shipped docs/smtpsink.conf.example being valid, and SIGHUP
re-reading the file: a new fault rule acts at once, a changed key that
needs a restart is named and keeps its old value, a file that no longer
parses changes nothing.
"""
import re
import signal
import subprocess
from pathlib import Path

from conftest import REPO
from interop_helpers import free_port, wait_for

EXAMPLE = REPO / "docs" / "smtpsink.conf.example"


def lines_with(srv, text):
    return [ln for ln in srv.stderr_lines() if text in ln]


def hup_until(srv, text, count=1):
    srv.send_signal(signal.SIGHUP)
    wait_for(lambda: len(lines_with(srv, text)) >= count, 10, what="%r in stderr" % text)


def rcpt_reply(srv):
    """The greeting and the RCPT reply of one transaction."""
    with srv.wire() as w:
        greeting = w.expect(220)
        w.cmd("EHLO client.example", 250)
        w.cmd("MAIL FROM:<a@example.com>", 250)
        rcpt = w.cmd("RCPT TO:<b@example.com>")
        w.cmd("QUIT")
        return greeting, rcpt


def test_config_sighup(server, tmp_path):
    conf = tmp_path / "smtpsink.conf"
    # the file's listen would fail (port 1 needs root): the command line's replaces it
    conf.write_text("# a test\nlisten = 127.0.0.1:1\nhostname = one.example\nmax-conns = 1000\n"
                    "no-session-reports\n")
    srv = server("--config", conf)
    assert "127.0.0.1:1 " not in srv.listening_line(), srv.listening_line()
    greeting, rcpt = rcpt_reply(srv)
    assert "one.example" in greeting.text and rcpt.code == 250, (greeting, rcpt)

    conf.write_text("listen = 127.0.0.1:2\nhostname = two.example\nmax-conns = 1000\nno-session-reports\n"
                    "fault = rcpt:reply=550 5.1.1 Reloaded rule\nstats = 1\n")
    hup_until(srv, "smtpsink: SIGHUP: 1 fault rules in force")
    assert lines_with(srv, "SIGHUP: hostname changed: needs a restart"), srv.stderr_tail()
    assert lines_with(srv, "SIGHUP: stats: every 1 s"), srv.stderr_tail()
    # listen is the command line's (the file's does not count); max-conns is the same
    assert not lines_with(srv, "listen changed") and not lines_with(srv, "max-conns"), srv.stderr_tail()
    greeting, rcpt = rcpt_reply(srv)
    assert "one.example" in greeting.text, greeting  # the old value stays until a restart
    assert rcpt.code == 550 and "Reloaded rule" in rcpt.text, rcpt
    wait_for(lambda: lines_with(srv, "smtpsink: stats "), 10, what="a --stats line")

    conf.write_text("hostname = two.example\nlisen = 127.0.0.1:2525\n")
    hup_until(srv, "not reloaded: nothing changed")
    assert lines_with(srv, "%s:2: unknown key \"lisen\"" % conf), srv.stderr_tail()
    greeting, rcpt = rcpt_reply(srv)
    assert rcpt.code == 550, rcpt  # the rule of the last good read stays
    assert srv.running()


def run_server(smtpsink_bin, *args, timeout=30):
    return subprocess.run([smtpsink_bin, *map(str, args)], capture_output=True, text=True, timeout=timeout)


def test_config_errors(smtpsink_bin, tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("discard\n\nlisen = 127.0.0.1:2525\n")
    p = run_server(smtpsink_bin, "--config", conf)
    assert p.returncode == 2 and p.stderr == 'smtpsink: %s:3: unknown key "lisen"\n' % conf, p.stderr
    conf.write_text("discard\nmax-conns = 0\n")
    p = run_server(smtpsink_bin, "--config", conf)
    assert p.returncode == 2 and p.stderr == "smtpsink: %s:2: max-conns = 0: out of range\n" % conf, p.stderr
    p = run_server(smtpsink_bin, "--config", tmp_path / "missing.conf")
    assert p.returncode == 2 and "missing.conf: No such file or directory" in p.stderr, p.stderr


def test_config_example_valid(smtpsink_bin, tmp_path):
    """The shipped example as it is, then with every commented key turned on
    (paths pointed into tmp_path, one of each exclusive pair): both start."""
    port, http = free_port(), free_port()
    common = ["--spool", tmp_path / "spool", "--listen", "127.0.0.1:%d" % port,
              "--http", "127.0.0.1:%d" % http, "--exit-after-time", "1"]
    p = run_server(smtpsink_bin, "--config", EXAMPLE, *common)
    assert p.returncode == 0 and "listening on 127.0.0.1:%d" % port in p.stderr, p.stderr
    text = EXAMPLE.read_text()
    keys = re.findall(r"^#([a-z][a-z0-9-]*)\b", text, re.M)
    assert {"listen", "fault", "trace-client", "stats", "http"} <= set(keys), keys
    assert re.search(r"^spool = /var/spool/smtpsink$", text, re.M), "the package's spool is set"
    on = re.sub(r"^#(?=[a-z])", "", text, flags=re.M)
    on = re.sub(r"^(tls-cert|tls-key|no-http|discard)\b.*$", "", on, flags=re.M)  # need files, or exclude others
    (tmp_path / "faults").write_text("noop:reply=250 2.0.0 ok\n")
    (tmp_path / "auth").write_text("user:password\n")
    all_on = tmp_path / "all.conf"
    all_on.write_text(on)
    p = run_server(smtpsink_bin, "--config", all_on, *common, "--fault-file", tmp_path / "faults",
                   "--http-auth", tmp_path / "auth", "--trace", tmp_path / "trace.log")
    assert p.returncode == 0, p.stderr
