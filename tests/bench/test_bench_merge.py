"""`smtpsink-bench merge A.json B.json ...` (docs/BENCH-OUTPUT.md "Merging
runs"): the reports of generator processes that loaded one server at the
same time, each from its own source address (--source-addrs), added up.

Exactness: every counter is the sum of the runs'; every histogram's
non-zero counters are the element-wise sum, with count, min, max and sum
exact; a single report merged alone gives back its own percentiles (the
"exact" section loses nothing); merging is associative (a merged report
merges further).  Refused: runs of different modes, reports without
"exact", histograms whose counters are outside the layout or do not add up
to their count, files that are not JSON.
"""

import json
import subprocess

import pytest

N = 400


def merge(bench_bin, *files, rc=0, as_json=True):
    argv = [str(bench_bin), "merge"] + (["--json"] if as_json else []) + [str(f) for f in files]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert p.returncode == rc, f"{argv}: exit {p.returncode}: {p.stderr}"
    return json.loads(p.stdout) if as_json and rc == 0 else p


def pairs(h):
    return dict(zip(h["counts"][0::2], h["counts"][1::2]))


@pytest.fixture
def runs(smtpsink, bench_bin, tmp_path):
    """Reports a and b (two processes at once, 127.0.0.2 and 127.0.0.3) and c
    (another run afterwards), as files."""
    srv = smtpsink("--discard")
    target = f"127.0.0.1:{srv.port}"
    out = {}
    procs = []
    for name, src in (("a", "127.0.0.2"), ("b", "127.0.0.3")):
        out[name] = tmp_path / f"{name}.json"
        with open(out[name], "w") as f:
            procs.append(subprocess.Popen([str(bench_bin), "--json", "--mode", "reuse", "--connections", "4",
                                           "--messages", str(N), "--source-addrs", src, target],
                                          stdout=f, stderr=subprocess.PIPE))
    for p in procs:
        assert p.wait(120) == 0, p.stderr.read()
    out["c"] = tmp_path / "c.json"
    with open(out["c"], "w") as f:
        subprocess.run([str(bench_bin), "--json", "--mode", "reuse", "--connections", "2", "--messages", "100",
                        target], stdout=f, check=True, timeout=120)
    return out


def test_merge_adds_up_exactly(bench_bin, runs):
    a, b = (json.loads(runs[k].read_text()) for k in "ab")
    m = merge(bench_bin, runs["a"], runs["b"])
    for key in ("messages", "message_bytes", "transactions_started", "transactions_failed", "sessions",
                "bytes_sent", "bytes_received", "connections", "workers"):
        assert m[key] == a[key] + b[key], key
    assert m["messages"] == 2 * N
    assert m["replies"] == {c: a["replies"].get(c, 0) + b["replies"].get(c, 0)
                            for c in set(a["replies"]) | set(b["replies"])}
    assert m["errors"] == {k: a["errors"][k] + b["errors"][k] for k in a["errors"]}
    assert m["elapsed_s"] == pytest.approx(max(a["elapsed_s"], b["elapsed_s"]), abs=1e-6)
    assert m["mode"] == "reuse" and m["target"] == a["target"]
    ha, hb, hm = (r["exact"]["histograms"] for r in (a, b, m))
    assert set(hm) == set(ha) | set(hb)
    for step, h in hm.items():
        x, y = ha[step], hb[step]
        assert h["count"] == x["count"] + y["count"] == m["latency_us"][step]["count"]
        assert h["sum_ns"] == x["sum_ns"] + y["sum_ns"]
        assert h["min_ns"] == min(x["min_ns"], y["min_ns"]) and h["max_ns"] == max(x["max_ns"], y["max_ns"])
        px, py = pairs(x), pairs(y)
        assert pairs(h) == {k: px.get(k, 0) + py.get(k, 0) for k in set(px) | set(py)}
        # the report prints one decimal: half its last place, and the
        # binary float of a value like 282.55 may round either way
        assert m["latency_us"][step]["max"] == pytest.approx(h["max_ns"] / 1000, abs=0.05 + 1e-6)


def test_one_report_merged_alone_is_itself(bench_bin, runs):
    a = json.loads(runs["a"].read_text())
    m = merge(bench_bin, runs["a"])
    assert m["latency_us"] == a["latency_us"]
    assert m["exact"]["histograms"] == a["exact"]["histograms"]
    assert m["messages_per_s"] == a["messages_per_s"]


def test_merged_reports_merge_further(bench_bin, runs, tmp_path):
    ab = tmp_path / "ab.json"
    ab.write_text(json.dumps(merge(bench_bin, runs["a"], runs["b"])))
    left = merge(bench_bin, ab, runs["c"])
    flat = merge(bench_bin, runs["a"], runs["b"], runs["c"])
    assert left["exact"] == flat["exact"]
    assert left["latency_us"] == flat["latency_us"]
    assert left["messages"] == 2 * N + 100


def test_human_summary(bench_bin, runs):
    p = merge(bench_bin, runs["a"], runs["b"], as_json=False)
    assert "merge of 2 runs" in p.stdout
    assert f"{2 * N} messages" in p.stdout
    assert "message" in p.stdout and "p99" in p.stdout


def test_refusals(bench_bin, runs, tmp_path):
    a = json.loads(runs["a"].read_text())

    def bad(name, change):
        r = json.loads(json.dumps(a))
        change(r)
        f = tmp_path / name
        f.write_text(json.dumps(r))
        return merge(bench_bin, runs["b"], f, rc=1).stderr

    assert "different modes" in bad("mode.json", lambda r: r.update(mode="connect"))
    assert "run it again" in bad("old.json", lambda r: r.pop("exact"))
    step = next(iter(a["exact"]["histograms"]))
    assert "outside the layout" in bad("index.json", lambda r: r["exact"]["histograms"][step]["counts"].extend(
        [10**6, 1]))
    assert "do not add up" in bad("sum.json", lambda r: r["exact"]["histograms"][step].update(count=1))
    assert "another layout" in bad("layout.json", lambda r: r["exact"]["histograms"][step].update(digits=2))
    junk = tmp_path / "junk.json"
    junk.write_text("not json")
    assert "junk.json" in merge(bench_bin, junk, rc=1).stderr
    assert merge(bench_bin, rc=2, as_json=False).returncode == 2
