"""Session reports in the spool tool, on a synthetic spool written by
spool_gen --sessions through core/'s encoders: message listing commands
skip session records, `sessions` with --client, --quirk, --since/--until,
--json, `session ID`, and the session link of `show`.

spool_gen --sessions: message i (shard i % 2, received 1700000000 s + i ms)
comes with a session report written just before it, connected 1 us
earlier, naming message i as its one message; client 10.1.2.3 when
i % 5 == 0, else 127.0.0.1; a HELO without a name when i % 7 == 0
(helo-no-name); an aborted transaction (ended by RSET) and a 10 s idle gap
when i % 3 == 1 (rset-for-data).
"""

import json
import re

import pytest

from conftest import GEN_START_US, GEN_STEP_US
from spool_helpers import generate, ls_json, tool

N = 2000


@pytest.fixture
def sess_spool(tmp_path):
    return generate(tmp_path / "sess", "--messages", N, "--shards", 2, "--segment-bytes", 1 << 20, "--open-last",
                    "--sessions")


def sessions_json(spool, *args):
    p = tool(spool, "sessions", "--json", *args, check=0, text=True)
    return [json.loads(line) for line in p.stdout.splitlines()]


def number(s):
    """The message number i of a session (its connect time)."""
    return (s["connect_us"] + 1 - GEN_START_US) // GEN_STEP_US


def test_message_commands_skip_sessions(sess_spool, tmp_path):
    listed = ls_json(sess_spool, "--no-subject")
    assert len(listed) == N and all(m["session_id"] for m in listed)
    s = json.loads(tool(sess_spool, "stats", "--json", check=0).stdout)
    assert s["messages"] == N
    out = tool(sess_spool, "verify", check=0, text=True).stdout
    assert "%d record(s): clean" % (2 * N) in out
    tool(sess_spool, "export", "--eml", tmp_path / "eml", "--quiet", check=0)
    assert len(list((tmp_path / "eml").iterdir())) == N
    sid = listed[0]["session_id"]
    for cmd in ("show", "cat"):
        p = tool(sess_spool, cmd, sid, check=1, text=True)
        assert "is a session, not a message" in p.stderr
    # a --since window: old session entries do not end a shard's walk
    assert len(ls_json(sess_spool, "--since", "1700000001", "--no-subject")) == N // 2


def test_sessions_list(sess_spool):
    listed = sessions_json(sess_spool)
    assert [number(s) for s in listed] == list(range(N - 1, -1, -1))  # newest first
    s = next(x for x in listed if number(x) == 1)  # aborted + gap
    assert s["quirks"] == ["rset-for-data"] and s["aborted"] == 1 and s["completed"] == 1
    assert s["aborts"] == [{"at_us": 100, "rcpts": 1, "rcpts_refused": 0, "data": False, "reason": "rset"}]
    assert s["gaps"] == [{"at_us": 50, "len_us": 10000000, "in_txn": False, "after": "EHLO"}]
    assert s["verbs"] == {"EHLO": 1, "MAIL": 2, "RCPT": 2, "DATA": 1, "RSET": 1, "QUIT": 1}
    assert s["end_reason"] == "quit" and s["closed_by"] == "client" and s["duration_us"] == 501
    assert s["client"] == {"family": "ipv4", "addr": "127.0.0.1", "port": 40001} and s["helo_verb"] == "EHLO"
    by_qid = {m["qid"]: m for m in ls_json(sess_spool, "--no-subject")}
    for x in listed:
        (qid,) = x["messages"]
        assert by_qid[qid]["session_id"] == x["id"]
    human = tool(sess_spool, "sessions", "--limit", 2, check=0, text=True).stdout.splitlines()
    assert len(human) == 2 and human[0].startswith(listed[0]["id"] + " 2023-11-14T22:13:21Z")
    assert human[0].split()[-2:] == ["1/0/1", "rset-for-data"]  # message 1999
    assert human[1].split()[-2:] == ["1/0/0", "-"]  # message 1998: nothing odd


def test_sessions_filters(sess_spool):
    cases = [
        (["--client", "10.0.0.0/8"], lambda i: i % 5 == 0),
        (["--client", "127.0.0.1"], lambda i: i % 5 != 0),
        (["--client", "2001:db8::/32"], lambda i: False),
        (["--quirk", "helo-no-name"], lambda i: i % 7 == 0),
        (["--quirk", "rset-for-data", "--client", "10.1.2.3/32"], lambda i: i % 3 == 1 and i % 5 == 0),
        (["--quirk", "pregreet"], lambda i: False),
        (["--since", "2023-11-14T22:13:21Z"], lambda i: i > 1000),  # connected 1 us before its message
        (["--until", "2023-11-14T22:13:20.5Z"], lambda i: i <= 500),
    ]
    for args, pred in cases:
        want = [i for i in range(N - 1, -1, -1) if pred(i)]
        assert [number(s) for s in sessions_json(sess_spool, *args)] == want, args
    every = [s["id"] for s in sessions_json(sess_spool)]
    for limit in (5, 700):  # the newest N, though only 2N rows are ever held
        assert [s["id"] for s in sessions_json(sess_spool, "--limit", limit)] == every[:limit], limit
    p = tool(sess_spool, "sessions", "--quirk", "nonsense", check=2, text=True)
    assert "no such quirk" in p.stderr and "rset-for-data" in p.stderr and "helo-no-name" in p.stderr
    p = tool(sess_spool, "sessions", "--client", "10.0.0.1/8", check=2, text=True)
    assert p.stderr.startswith("smtpsink-spool: sessions: --client")


def test_session_report_and_show_link(sess_spool):
    listed = sessions_json(sess_spool)
    s = next(x for x in listed if number(x) == 14)  # HELO without a name
    out = tool(sess_spool, "session", s["id"], check=0, text=True).stdout
    assert "Session:       %s\n" % s["id"] in out
    assert "HELO:          HELO (no name)" in out and "Quirks:        helo-no-name" in out
    assert "Transactions:  1 completed, 0 refused, 0 aborted" in out
    assert "End:           QUIT (the client closed)" in out and "Messages:      %s\n" % s["messages"][0] in out
    a = next(x for x in listed if number(x) == 4)
    out = tool(sess_spool, "session", a["id"], check=0, text=True).stdout
    assert "aborted at +0.000s: MAIL, 1 RCPT (0 refused), no DATA, ended by RSET" in out
    assert "idle 10.0s at +0.0s after EHLO" in out and "Client:        127.0.0.1:40004" in out
    assert json.loads(tool(sess_spool, "session", a["id"], "--json", check=0).stdout) == a
    qid = a["messages"][0]
    shown = tool(sess_spool, "show", qid, check=0, text=True).stdout
    assert "Session:     %s (smtpsink-spool session %s)" % (a["id"], a["id"]) in shown
    assert json.loads(tool(sess_spool, "show", qid, "--json", check=0).stdout)["session_id"] == a["id"]
    p = tool(sess_spool, "session", qid, check=1, text=True)
    assert "it is a message" in p.stderr
    tool(sess_spool, "session", "not-an-id", check=2)


def test_independent_reader_agrees(sess_spool):
    """tests/interop/spoolfmt.py, written from docs/SPOOL-FORMAT.md, reads
    the same sessions as the tool and leaves them out of the messages."""
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "interop"))
    import spoolfmt
    assert len(spoolfmt.read_spool(str(sess_spool))) == N
    assert spoolfmt.verify(str(sess_spool), live=True) == []
    mine = {s["id"]: s for s in spoolfmt.read_sessions(str(sess_spool))}
    listed = sessions_json(sess_spool)
    assert set(mine) == {s["id"] for s in listed}
    keys = ("connect_us", "end_us", "helo", "helo_verb", "quirks", "end_reason", "closed_by", "verbs", "aborts",
            "gaps", "messages", "bytes_in", "bytes_out", "completed", "refused", "aborted", "gaps_total")
    for s in listed:
        assert {k: mine[s["id"]][k] for k in keys} == {k: s[k] for k in keys}
        assert mine[s["id"]]["client"]["addr"] == s["client"]["addr"]


def test_prune_counts_messages_as_stats_does(tmp_path):
    """Session reports are not messages: what prune says it deletes is what
    stats stops counting (prune counted session records too)."""
    spool = generate(tmp_path / "big", "--messages", N, "--shards", 2, "--segment-bytes", 1 << 20, "--body-bytes",
                     2000, "--open-last", "--sessions")  # ~3 segments a shard

    def messages():
        return json.loads(tool(spool, "stats", "--json", check=0).stdout)["messages"]

    def counted(out):
        per_segment = sum(int(m) for m in re.findall(r"^(?:would delete|deleted) \S+ and \.idx: (\d+) messages", out,
                                                     re.M))
        total = int(re.search(r"^prune: (?:would delete|deleted) \d+ segment\(s\), (\d+) messages", out, re.M).group(1))
        assert per_segment == total, out
        return total

    before = messages()
    would = counted(tool(spool, "prune", "--before", "now", "--dry-run", check=0, text=True).stdout)
    gone = counted(tool(spool, "prune", "--before", "now", check=0, text=True).stdout)
    assert before == N and 0 < gone == would == before - messages()
