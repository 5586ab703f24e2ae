"""Fixtures of the spool suite (tests/spool): a capture-mode server per test
and synthetic spools.

Owns: the `server` factory fixture (servers are stopped at teardown and must
exit 0) and `gen_spool` (a spool written by spool_gen through core/'s
encoder, with known times and addresses).  A missing binary fails the tests
rather than skipping them.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from spool_helpers import Server, generate  # noqa: E402


@pytest.fixture
def server(tmp_path):
    started = []

    def start(*extra, spool=None):
        srv = Server(tmp_path, spool or tmp_path / "spool", *extra)
        started.append(srv)
        return srv

    yield start
    codes = [(srv, srv.stop()) for srv in started]
    for srv, code in codes:
        assert code == 0, "smtpsink exited %s:\n%s" % (code, srv.stderr()[-3000:])


# spool_gen's defaults: message i at START_US + i * STEP_US, shard i % 2.
GEN_START_US = 1700000000000000
GEN_STEP_US = 1000


@pytest.fixture
def gen_spool(tmp_path):
    """2 shards, 20000 messages one ms apart from 2023-11-14T22:13:20Z, 1 MiB
    segments (3 sealed + 1 open per shard)."""
    return generate(tmp_path / "gen", "--messages", 20000, "--shards", 2, "--segment-bytes", 1 << 20,
                    "--open-last")
