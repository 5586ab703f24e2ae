"""memcg.py - a memory cgroup for one test, on cgroup v1 or v2.

Owns: finding a writable memory controller (v1: a `cgroup` mount with the
`memory` option, e.g. /sys/fs/cgroup/memory; v2: a `cgroup2` mount whose
cgroup.controllers lists `memory`), making a child of this process's own
cgroup there with a hard limit, reading what the kernel says about it (OOM
kills, peak usage, failed charges) and removing it again.

Does not: move anything into it by itself (a server is put in by the shell
wrapper `procs_path` is meant for, so that it is inside before its first
allocation), or judge numbers (the tests do).

v1 files: memory.limit_in_bytes, memory.max_usage_in_bytes,
memory.oom_control (oom_kill N), memory.failcnt.  v2 files: memory.max,
memory.swap.max, memory.peak, memory.events (oom_kill N, max N).  Note that
both count page cache: a server writing its spool fills the cgroup with
file pages, which the kernel reclaims at the limit (no OOM kill for those);
the tests judge the server's own memory by its RSS.
"""

import os
import signal
import time

CGROUP_ROOT_MOUNTS = "/proc/self/mounts"


class MemCgroupUnavailable(Exception):
    """This machine or user cannot make a memory cgroup (the reason)."""


def _mounts():
    with open(CGROUP_ROOT_MOUNTS) as f:
        for line in f:
            dev, mnt, fstype, opts = line.split()[:4]
            yield mnt.replace("\\040", " "), fstype, opts.split(",")


def _own_path(want_v1_controller):
    """This process's cgroup path in the v1 hierarchy holding the
    controller, or (None) in the v2 one."""
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            if want_v1_controller is None and controllers == "":
                return path
            if want_v1_controller is not None and want_v1_controller in controllers.split(","):
                return path
    return None


def _read(path):
    with open(path) as f:
        return f.read()


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)


def _keyed(path):
    """A "key value" per line file (memory.events, memory.oom_control)."""
    out = {}
    for line in _read(path).splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            out[parts[0]] = int(parts[1])
    return out


def _candidates():
    """([(version, parent directory)] where a child cgroup may be made,
    [reasons a mount was passed over])."""
    found, reasons = [], []
    for mnt, fstype, opts in _mounts():
        if fstype == "cgroup" and "memory" in opts:
            found.append((1, os.path.join(mnt, (_own_path("memory") or "/").lstrip("/"))))
        elif fstype == "cgroup2":
            try:
                controllers = _read(os.path.join(mnt, "cgroup.controllers")).split()
            except OSError:
                continue
            if "memory" not in controllers:
                reasons.append("cgroup2 at %s has no memory controller (has: %s)"
                               % (mnt, " ".join(controllers) or "none"))
                continue
            found.append((2, os.path.join(mnt, (_own_path(None) or "/").lstrip("/"))))
    return found, reasons


class MemCgroup:
    """A child memory cgroup with a hard limit."""

    def __init__(self, version, path, limit_bytes):
        self.version = version
        self.path = path
        self.limit_bytes = limit_bytes
        self.procs_path = os.path.join(path, "cgroup.procs")

    @classmethod
    def create(cls, limit_bytes):
        if os.geteuid() != 0:
            raise MemCgroupUnavailable("needs root to make a cgroup")
        tried = []
        found, reasons = _candidates()
        for version, parent in found:
            name = "smtpsink-hostile-%d-%d" % (os.getpid(), time.monotonic_ns() % 1000000)
            path = os.path.join(parent, name)
            try:
                if version == 2:
                    _enable_v2_memory(parent)
                os.mkdir(path)
            except OSError as e:
                tried.append("v%d %s: %s" % (version, parent, e))
                continue
            cg = cls(version, path, limit_bytes)
            try:
                cg._set_limit()
            except OSError as e:
                cg.close()
                tried.append("v%d %s: setting the limit: %s" % (version, path, e))
                continue
            return cg
        raise MemCgroupUnavailable("; ".join(tried + reasons) or "no memory cgroup controller is mounted")

    def _set_limit(self):
        if self.version == 1:
            _write(os.path.join(self.path, "memory.limit_in_bytes"), str(self.limit_bytes))
        else:
            _write(os.path.join(self.path, "memory.max"), str(self.limit_bytes))
            try:
                _write(os.path.join(self.path, "memory.swap.max"), "0")
            except OSError:
                pass  # no swap accounting: nothing to turn off

    def pids(self):
        try:
            return [int(p) for p in _read(self.procs_path).split()]
        except OSError:
            return []

    def oom_kills(self):
        """How many processes the OOM killer killed in this cgroup."""
        if self.version == 1:
            return _keyed(os.path.join(self.path, "memory.oom_control")).get("oom_kill", 0)
        return _keyed(os.path.join(self.path, "memory.events")).get("oom_kill", 0)

    def peak_bytes(self):
        """The cgroup's peak charge (RSS and page cache), or None."""
        name = "memory.max_usage_in_bytes" if self.version == 1 else "memory.peak"
        try:
            return int(_read(os.path.join(self.path, name)))
        except (OSError, ValueError):
            return None

    def limit_hits(self):
        """How often a charge hit the limit (v1 failcnt, v2 events max)."""
        if self.version == 1:
            return int(_read(os.path.join(self.path, "memory.failcnt")))
        return _keyed(os.path.join(self.path, "memory.events")).get("max", 0)

    def close(self):
        """Kill what is left inside (only processes this test put there) and
        remove the cgroup; bounded to a few seconds."""
        deadline = time.monotonic() + 10
        while True:
            pids = self.pids()
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                os.rmdir(self.path)
                return
            except FileNotFoundError:
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)


def _enable_v2_memory(parent):
    """Make sure children of parent get the memory controller."""
    sub = os.path.join(parent, "cgroup.subtree_control")
    if "memory" not in _read(sub).split():
        _write(sub, "+memory")
