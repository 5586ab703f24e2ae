"""Several nodes' spools read as one (docs/SCALE-OUT.md): `--spool A --spool
B ...` merges by time for ls, export, stats, sessions and the commands that
take one ID; duplicate queue IDs and node IDs shared by two spools are
reported; commands that read one spool refuse several; --remote URL
checks (a node that answers is tested in tests/interop/test_scaleout.py).

spool_gen writes message i of a spool at START + i * STEP (here node A at
T + i ms, node B at T + 0.5 ms + i ms, so the two interleave exactly).
"""

import json
import shutil
import subprocess

from spool_helpers import generate, tool, tool_bin

T_US = 1700000000000000
STEP_US = 1000
N = 300  # per node


def two_nodes(tmp_path, node_b=2, sessions=False):
    extra = ["--sessions"] if sessions else []
    a = generate(tmp_path / "a", "--messages", N, "--shards", 2, "--start-us", T_US, "--step-us", STEP_US,
                 "--node", 1, *extra)
    b = generate(tmp_path / "b", "--messages", N, "--shards", 3, "--start-us", T_US + STEP_US // 2,
                 "--step-us", STEP_US, "--node", node_b, *extra)
    return a, b


def many(spools, *args, check=None):
    """smtpsink-spool --spool S1 --spool S2 ... ARGS"""
    cmd = [tool_bin()]
    for s in spools:
        cmd += ["--spool", str(s)]
    p = subprocess.run(cmd + [str(a) for a in args], capture_output=True, text=True, timeout=120)
    if check is not None:
        assert p.returncode == check, "exit %s (want %s): %s\n%s" % (p.returncode, check, args, p.stderr[-3000:])
    return p


def rows(p):
    return [json.loads(line) for line in p.stdout.splitlines()]


def test_ls_merges_by_time(tmp_path):
    a, b = two_nodes(tmp_path)
    p = many([a, b], "ls", "--json", check=0)
    assert p.stderr == ""
    got = rows(p)
    assert len(got) == 2 * N
    assert len({r["qid"] for r in got}) == 2 * N
    times = [r["received_us"] for r in got]
    assert times == sorted(times, reverse=True)
    assert len(set(times)) == 2 * N  # interleaved exactly: A, B, A, B ...
    # newest first: B's last message, then A's last, ...; each row names its spool
    assert [r["source"] for r in got[:4]] == [str(b), str(a), str(b), str(a)]
    assert got[0]["received_us"] == T_US + STEP_US // 2 + (N - 1) * STEP_US
    assert {r["qid"][9:12] for r in got if r["source"] == str(a)} == {"001"}  # node 1 in base 62
    assert {r["qid"][9:12] for r in got if r["source"] == str(b)} == {"002"}
    # one spool: the rows are as before, without "source"
    one = rows(tool(a, "ls", "--json", check=0, text=True))
    assert len(one) == N and "source" not in one[0]
    assert [r["qid"] for r in one] == [r["qid"] for r in got if r["source"] == str(a)]


def test_ls_limit_and_window_across_spools(tmp_path):
    a, b = two_nodes(tmp_path)
    top = rows(many([a, b], "ls", "--json", "--limit", 5, check=0))
    assert [r["source"] for r in top] == [str(b), str(a), str(b), str(a), str(b)]
    since = T_US + 100 * STEP_US  # A's message 100 (inclusive) ...
    until = T_US + 110 * STEP_US  # ... to A's message 110 (exclusive)
    p = many([a, b], "ls", "--json", "--since", "%d.%06d" % divmod(since, 10**6),
             "--until", "%d.%06d" % divmod(until, 10**6), check=0)
    got = rows(p)
    assert len(got) == 20  # A 100..109 and B 100..109
    assert all(since <= r["received_us"] < until for r in got)


def test_show_and_cat_find_the_id_in_any_spool(tmp_path):
    a, b = two_nodes(tmp_path)
    qid_b = rows(tool(b, "ls", "--json", "--limit", 1, check=0, text=True))[0]["qid"]
    body = tool(b, "cat", qid_b, check=0, text=True).stdout
    assert many([a, b], "cat", qid_b, check=0).stdout == body
    shown = json.loads(many([a, b], "show", "--json", qid_b, check=0).stdout)
    assert shown["qid"] == qid_b and shown["node"] == rows(tool(b, "ls", "--json", "--limit", 1, check=0,
                                                                text=True))[0]["node"]
    assert many([a, b], "text", qid_b, check=0).stdout
    p = many([a, b], "cat", "00000000000001", check=1)
    assert "no message 00000000000001" in p.stderr and "other sources" in p.stderr


def test_duplicate_ids_are_reported_not_merged(tmp_path):
    a, _ = two_nodes(tmp_path)
    copy = tmp_path / "copy"
    shutil.copytree(a, copy)
    p = many([a, copy], "ls", "--json", check=0)
    got = rows(p)
    assert len(got) == 2 * N  # each copy listed, from its own spool
    assert sum(1 for r in got if r["source"] == str(copy)) == N
    assert p.stderr.count("is in both") == 5  # SPOOL_WALK_DUP_REPORTS
    assert "%d queue IDs in all were found in more than one spool" % N in p.stderr
    assert p.stderr.count("both hold queue IDs of node 1") == 1
    qid = got[0]["qid"]
    p = many([a, copy], "cat", qid, check=1)
    assert "is in %s and in %s" % (a, copy) in p.stderr
    assert p.stdout == ""


def test_shared_node_id_is_reported(tmp_path):
    a, b = two_nodes(tmp_path, node_b=1)  # both nodes run with --node-id 1
    p = many([a, b], "ls", "--json", check=0)
    assert len(rows(p)) == 2 * N
    assert p.stderr.count("both hold queue IDs of node 1") == 1
    assert str(a) in p.stderr and str(b) in p.stderr
    assert "is in both" not in p.stderr  # different times: no ID repeats here


def test_same_directory_twice_is_refused(tmp_path):
    a, _ = two_nodes(tmp_path)
    p = many([a, tmp_path / "." / "a"], "ls", check=2)
    assert "are the same directory" in p.stderr


def test_stats_export_sessions_over_spools(tmp_path):
    a, b = two_nodes(tmp_path, sessions=True)
    st = json.loads(many([a, b], "stats", "--json", check=0).stdout)
    assert st["messages"] == 2 * N
    assert len(st["shards"]) == 5
    assert {s["spool"] for s in st["shards"]} == {str(a), str(b)}
    one = json.loads(tool(a, "stats", "--json", check=0, text=True).stdout)
    assert "spool" not in one["shards"][0]
    human = many([a, b], "stats", check=0).stdout
    assert "spool %s:" % a in human and "spool %s:" % b in human
    out = tmp_path / "eml"
    many([a, b], "export", "--eml", out, "--quiet", check=0)
    assert len(list(out.glob("*.eml"))) == 2 * N
    sessions = rows(many([a, b], "sessions", "--json", check=0))
    assert len(sessions) == 2 * N


def test_one_spool_commands_refuse_several(tmp_path):
    a, b = two_nodes(tmp_path)
    for cmd in (["verify"], ["prune", "--before", "1d"], ["wait", "--timeout", "1"], ["session", "x"]):
        p = many([a, b], *cmd, check=2)
        assert "reads one spool at a time" in p.stderr, cmd


def test_remote_url_checks(tmp_path):
    a, _ = two_nodes(tmp_path)
    base = [tool_bin(), "--spool", str(a)]
    for url, why in (("ftp://127.0.0.1:1", "only http:// and https://"),
                     ("http://127.0.0.1:1/api", "no path or query"),
                     ("127.0.0.1", "")):
        p = subprocess.run(base + ["--remote", url, "ls"], capture_output=True, text=True, timeout=60)
        assert p.returncode == 2 and "--remote %s" % url in p.stderr and why in p.stderr, p.stderr
    p = subprocess.run(base + ["--remote", "http://127.0.0.1:1", "ls"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 3 and "http://127.0.0.1:1" in p.stderr, p.stderr
    p = subprocess.run(base + ["--remote", "http://127.0.0.1:1", "export", "--eml", tmp_path / "x"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "not --remote nodes" in p.stderr
    p = subprocess.run(base + ["--remote", "http://127.0.0.1:1", "ls", "--from", "x"], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 2 and "--from and --to match the envelope" in p.stderr
    # credentials never show in what is printed
    for url in ("http://user:s3cret@127.0.0.1:1", "ftp://user:s3cret@127.0.0.1:1"):
        p = subprocess.run(base + ["--remote", url, "ls"], capture_output=True, text=True, timeout=60)
        assert p.returncode in (2, 3) and "s3cret" not in p.stderr and "127.0.0.1:1" in p.stderr, p.stderr
