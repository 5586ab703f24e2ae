"""Fixtures of the hostile-load suite (tests/hostile/, suite 'hostile').

Owns: reusing the interop suite's fixtures (tests/interop/conftest.py is
loaded under the name `interop_conftest`, and its fixtures and hooks are
re-exported here: `server`, `any_server`, `backend`, `smtpsink_bin`,
`figures`; tests/interop/spool_helpers.py's `spool_server` too), and the
fixtures only this suite needs, each of which undoes what it made even when
the test fails:
  - `flood`: client processes (flood.py) holding hundreds of sessions;
  - `memcg`: a memory cgroup (v1 or v2) to run a server in;
  - `faultfs`: the fault-injecting FUSE filesystem mounted over a directory;
  - `tmpfs`: a small tmpfs mount;
  - `tools`: the paths of smtpsink-spool, smtpsink-bench and faultfs.

Does not: build anything.  A missing server or tool fails (as in the interop
suite); what the machine lacks (root, /dev/fuse, a memory cgroup controller,
libfuse3 at build time) skips the tests that need it, with the reason
printed by -ra.
"""

import importlib.util
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
INTEROP = HERE.parent / "interop"
sys.path.insert(0, str(INTEROP))
sys.path.insert(0, str(HERE))


def _load_interop_conftest():
    """tests/interop/conftest.py as module `interop_conftest` (both files are
    named conftest.py, so a plain import would find this one)."""
    name = "interop_conftest"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, INTEROP / "conftest.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


_interop = _load_interop_conftest()

# Re-exported: fixtures and hooks of the interop suite, and what
# tests/interop/spool_helpers.py reads from "conftest" (Server, START_TIMEOUT,
# BACKEND_WORD, http_off_unless_asked) so that its helpers can be imported from here.
from interop_conftest import (  # noqa: E402,F401
    BACKEND_WORD, START_TIMEOUT, Server, any_server, backend, figures, http_off_unless_asked,
    pytest_generate_tests, pytest_report_header, pytest_terminal_summary, server, smtpsink_bin)
from spool_helpers import spool_server  # noqa: E402,F401

import hostile_helpers as hh  # noqa: E402
from memcg import MemCgroup, MemCgroupUnavailable  # noqa: E402
from mounts import FaultFs, MountUnavailable, Tmpfs  # noqa: E402


def pytest_configure(config):
    _interop.pytest_configure(config)
    config.addinivalue_line("markers", "slow: takes more than 20 s")


@pytest.fixture(scope="session")
def tools():
    """Paths of the tools beside the server: spool, bench, faultfs (None
    when libfuse3 was not found at build time)."""
    return hh.tool_paths()


@pytest.fixture
def flood():
    """Factory: flood(port, mode, count, **options) -> hh.Flood, a running
    flood.py process; every one is stopped at teardown."""
    started = []

    def start(port, mode, count, **kw):
        f = hh.Flood(port, mode, count, **kw)
        started.append(f)
        return f

    yield start
    for f in started:
        f.kill()


@pytest.fixture
def memcg():
    """Factory: memcg(limit_bytes) -> MemCgroup; skips when this machine has
    no usable memory cgroup (with the reason).  Removed at teardown, after
    killing whatever is still in it."""
    made = []

    def make(limit_bytes):
        try:
            cg = MemCgroup.create(limit_bytes)
        except MemCgroupUnavailable as e:
            pytest.skip("no memory cgroup: %s" % e)
        made.append(cg)
        return cg

    yield make
    for cg in made:
        cg.close()


def _mount_factory(what, do_mount):
    """Generator behind the mount fixtures: yields mount(*args, **kw), which
    returns do_mount(index, *args, **kw) or skips with the reason it could
    not mount; unmounts everything at teardown, last mounted first."""
    mounted = []

    def mount(*args, **kw):
        try:
            m = do_mount(len(mounted), *args, **kw)
        except MountUnavailable as e:
            pytest.skip("cannot mount %s here: %s" % (what, e))
        mounted.append(m)
        return m

    yield mount
    for m in reversed(mounted):
        m.unmount()


@pytest.fixture
def faultfs(tools, tmp_path):
    """Factory: faultfs(source, mountpoint, seed=1, **settings) -> FaultFs,
    mounted; skips without libfuse3 (build) or /dev/fuse.  Unmounted at
    teardown (the servers on it must be stopped first: request `faultfs`
    before `server` so that its teardown runs after theirs)."""
    def do_mount(index, source, mountpoint, seed=1, **settings):
        if tools["faultfs"] is None:
            pytest.skip("faultfs was not built: libfuse3 (Debian libfuse3-dev) was not found when meson "
                        "configured this build")
        return FaultFs.mount(tools["faultfs"], source, mountpoint, seed, settings,
                             tmp_path / ("faultfs-%d.log" % index))

    yield from _mount_factory("faultfs", do_mount)


@pytest.fixture
def tmpfs():
    """Factory: tmpfs(mountpoint, size_bytes) -> Tmpfs; skips without root or
    mount permission.  Unmounted at teardown."""
    yield from _mount_factory("a tmpfs", lambda index, mountpoint, size_bytes: Tmpfs.mount(mountpoint, size_bytes))
