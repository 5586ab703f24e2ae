"""faultfs itself: the disk-fault tests can only trust what it proves here.

  - passthrough is exact: files, directories, symlinks, renames, modes,
    sizes, sparse writes, fallocate, truncation and the bytes themselves are
    the same seen through the mount and in the source directory, and the
    control file is not listed;
  - rate 0 fails nothing (thousands of writes and fsyncs, counted);
  - rates hold roughly: the observed fraction of failed writes and fsyncs
    is within 5 standard deviations of the rate, the errno is the one
    asked for (EIO, ENOSPC), and the counters agree with what the caller
    saw; rates change while mounted;
  - fail_OP=N with match=GLOB fails exactly the next N calls on matching
    files and nothing else;
  - the same seed gives the same sequence of failures.
"""

import errno
import math
import os
import random
import stat

import pytest

WRITES = 3000
FSYNCS = 1000


@pytest.fixture
def mounted(faultfs, tmp_path):
    """A faultfs over tmp_path/src at tmp_path/mnt, failing nothing."""
    return faultfs(tmp_path / "src", tmp_path / "mnt", seed=11)


def tree(root):
    """{relative path: (kind, mode, size, content or link target)}."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            rel = os.path.relpath(p, root)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", stat.S_IMODE(st.st_mode), None, os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", stat.S_IMODE(st.st_mode), None, None)
            else:
                with open(p, "rb") as f:
                    out[rel] = ("file", stat.S_IMODE(st.st_mode), st.st_size, f.read())
    return out


def test_passthrough_is_exact(mounted, tmp_path):
    m = mounted.mountpoint
    rnd = random.Random(5)
    old = os.umask(0o022)
    try:
        os.makedirs(os.path.join(m, "a", "b"))
        os.mkdir(os.path.join(m, "private"), 0o700)
        expected = {}
        for i, size in enumerate((0, 1, 4095, 4096, 131072, 131073, 1 << 20, 3 * (1 << 20) + 17)):
            data = rnd.randbytes(size)
            p = os.path.join(m, "a", "b", "f%d" % i)
            with open(p, "wb") as f:
                f.write(data)
            expected[p] = data
        # sparse writes, fallocate, truncate, fsync, rename, chmod, symlink, unlink
        p = os.path.join(m, "a", "sparse")
        fd = os.open(p, os.O_CREAT | os.O_RDWR, 0o600)
        os.pwrite(fd, b"tail", 1 << 20)
        os.pwrite(fd, b"head", 0)
        os.posix_fallocate(fd, 0, 2 << 20)
        os.fsync(fd)
        os.fdatasync(fd)
        os.close(fd)
        os.truncate(os.path.join(m, "a", "b", "f7"), 1000)
        expected[os.path.join(m, "a", "b", "f7")] = expected[os.path.join(m, "a", "b", "f7")][:1000]
        os.rename(os.path.join(m, "a", "b", "f1"), os.path.join(m, "a", "renamed"))
        os.chmod(os.path.join(m, "a", "renamed"), 0o640)
        os.symlink("b/f2", os.path.join(m, "a", "link"))
        os.unlink(os.path.join(m, "a", "b", "f0"))
        dfd = os.open(os.path.join(m, "a"), os.O_RDONLY | os.O_DIRECTORY)
        os.fsync(dfd)
        os.close(dfd)
    finally:
        os.umask(old)

    through, under = tree(m), tree(mounted.source)
    assert through == under, "the mount and its source differ: %r" % sorted(
        set(through.items()) ^ set(under.items()))[:5]
    assert ".faultfs" not in os.listdir(m), "the control file must not be listed"
    assert under["a/sparse"][2] == 2 << 20 and under["a/sparse"][3][:4] == b"head" and \
        under["a/sparse"][3][1 << 20:(1 << 20) + 4] == b"tail"
    assert under["a/b/f7"][3] == expected[os.path.join(m, "a", "b", "f7")]
    assert under["a/renamed"][1] == 0o640 and under["a/renamed"][3] == expected[os.path.join(m, "a", "b", "f1")]
    assert under["private"][1] == 0o700 and under["a"][1] == 0o755, "modes must pass through the umask as asked"
    assert under["a/link"] == ("link", 0o777, None, "b/f2")
    assert "a/b/f0" not in under
    c = mounted.counters()
    assert c["write_failed"] == 0 and c["fsync_failed"] == 0 and c["fsync_calls"] >= 3, c


def _hammer(path, writes, fsyncs):
    """(writes failed by errno, fsyncs failed by errno) over many calls.
    Each write stays inside one page, so it is one FUSE write request (the
    kernel splits a write that crosses pages, and a failure of its second
    request shows as a short write)."""
    wfail, sfail = {}, {}
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        for i in range(writes):
            try:
                n = os.pwrite(fd, b"x" * 128, (i % 32) * 128)
                assert n == 128, "a write inside one page was cut short: %d bytes" % n
            except OSError as e:
                wfail[e.errno] = wfail.get(e.errno, 0) + 1
        for _ in range(fsyncs):
            try:
                os.fdatasync(fd)
            except OSError as e:
                sfail[e.errno] = sfail.get(e.errno, 0) + 1
    finally:
        os.close(fd)
    return wfail, sfail


def test_rate_zero_fails_nothing(mounted):
    wfail, sfail = _hammer(os.path.join(mounted.mountpoint, "f"), WRITES, FSYNCS)
    assert wfail == {} and sfail == {}, (wfail, sfail)
    c = mounted.counters()
    assert c["write_calls"] >= WRITES and c["fsync_calls"] >= FSYNCS, c
    assert c["write_failed"] == 0 and c["fsync_failed"] == 0, c


def within(observed, n, p, sigmas=5.0):
    sd = math.sqrt(n * p * (1 - p))
    return abs(observed - n * p) <= sigmas * sd + 1


@pytest.mark.parametrize("wrate,srate,err", [(0.02, 0.2, "eio"), (0.3, 0.5, "eio"), (0.1, 0.1, "enospc")])
def test_rates_hold(mounted, wrate, srate, err):
    path = os.path.join(mounted.mountpoint, "f")
    _hammer(path, 10, 10)  # before the change: nothing fails
    before = mounted.counters()
    mounted.set(**{"write_" + err: wrate, "fsync_" + err: srate})
    wfail, sfail = _hammer(path, WRITES, FSYNCS)
    want = errno.EIO if err == "eio" else errno.ENOSPC
    assert set(wfail) <= {want} and set(sfail) <= {want}, (wfail, sfail)
    w, s = wfail.get(want, 0), sfail.get(want, 0)
    assert within(w, WRITES, wrate), "%d of %d writes failed, rate %.2f" % (w, WRITES, wrate)
    assert within(s, FSYNCS, srate), "%d of %d fsyncs failed, rate %.2f" % (s, FSYNCS, srate)
    c = mounted.counters()
    assert c["write_failed"] - before["write_failed"] == w and c["fsync_failed"] - before["fsync_failed"] == s, c
    mounted.set(**{"write_" + err: 0, "fsync_" + err: 0})
    assert _hammer(path, 200, 200) == ({}, {}), "rates set back to 0 must fail nothing"


def test_fail_next_with_match(mounted):
    m = mounted.mountpoint
    mounted.set(fail_create=1, fail_fsync=2, fail_write=1, match="*.seg")
    with open(os.path.join(m, "other.txt"), "wb") as f:  # not matched: never fails
        f.write(b"ok")
        f.flush()
        os.fsync(f.fileno())
    with pytest.raises(OSError) as e:
        os.open(os.path.join(m, "1.seg"), os.O_CREAT | os.O_RDWR | os.O_EXCL, 0o600)
    assert e.value.errno == errno.EIO
    assert not os.path.exists(os.path.join(mounted.source, "1.seg")), "a failed create must create nothing"
    fd = os.open(os.path.join(m, "1.seg"), os.O_CREAT | os.O_RDWR | os.O_EXCL, 0o600)
    try:
        with pytest.raises(OSError):
            os.pwrite(fd, b"first", 0)
        assert os.pwrite(fd, b"second", 0) == 6
        for _ in range(2):
            with pytest.raises(OSError):
                os.fdatasync(fd)
        os.fdatasync(fd)
    finally:
        os.close(fd)
    c = mounted.counters()
    assert (c["create_failed"], c["write_failed"], c["fsync_failed"]) == (1, 1, 2), c
    assert open(os.path.join(mounted.source, "1.seg"), "rb").read() == b"second"


def _pattern(fs, path, n):
    out = []
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        for _ in range(n):
            try:
                os.fdatasync(fd)
                out.append(0)
            except OSError:
                out.append(1)
    finally:
        os.close(fd)
    return out


def test_seed_repeats(faultfs, tmp_path):
    runs = []
    for i, seed in enumerate((42, 42, 43)):
        fs = faultfs(tmp_path / ("src%d" % i), tmp_path / ("mnt%d" % i), seed=seed, fsync_eio=0.5)
        runs.append(_pattern(fs, os.path.join(fs.mountpoint, "f"), 200))
    assert runs[0] == runs[1], "the same seed must fail the same calls"
    assert runs[0] != runs[2], "another seed should fail other calls"
