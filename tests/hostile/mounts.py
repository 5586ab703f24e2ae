"""mounts.py - the filesystems the hostile suite mounts: faultfs and tmpfs.

Owns: mounting faultfs (tests/hostile/faultfs.c, a FUSE passthrough that
fails chosen calls) over a source directory and talking to it through its
control file (MOUNTPOINT/.faultfs: settings in, settings and counters out),
mounting a small tmpfs, and unmounting both, lazily when something still
holds the mount, so that no mount outlives its test.

Does not: decide whether a missing capability is a failure: it raises
MountUnavailable with the reason and the fixtures (conftest.py) skip.

Everything is bounded: mounting waits at most MOUNT_TIMEOUT, unmounting at
most UNMOUNT_TIMEOUT before the FUSE daemon is killed.
"""

import os
import shutil
import subprocess
import time

MOUNT_TIMEOUT = 15.0
UNMOUNT_TIMEOUT = 15.0
CONTROL = ".faultfs"


class MountUnavailable(Exception):
    """This machine cannot mount it (the reason)."""


def _mounted(path):
    """Is path a mount point (in this namespace)?"""
    want = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4].replace("\\040", " ") == want for line in f)


def _umount(path):
    """Unmount path; lazily if it is busy.  True once it is gone."""
    for argv in (["umount", path], ["umount", "-l", path]):
        if not _mounted(path):
            return True
        subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=UNMOUNT_TIMEOUT)
    return not _mounted(path)


class FaultFs:
    """A mounted faultfs.  set(**settings) changes what fails; counters()
    reads what was called and failed."""

    def __init__(self, proc, source, mountpoint, log_path):
        self.proc = proc
        self.source = str(source)
        self.mountpoint = str(mountpoint)
        self.control = os.path.join(self.mountpoint, CONTROL)
        self.log_path = log_path

    @staticmethod
    def _check_machine():
        if not os.path.exists("/dev/fuse"):
            raise MountUnavailable("/dev/fuse does not exist (no FUSE in this kernel or container)")
        if not os.access("/dev/fuse", os.R_OK | os.W_OK):
            raise MountUnavailable("/dev/fuse is not readable and writable by this user")
        if os.geteuid() != 0 and shutil.which("fusermount3") is None:
            raise MountUnavailable("not root and no fusermount3 (Debian package fuse3)")

    @classmethod
    def mount(cls, binary, source, mountpoint, seed, settings, log_path):
        cls._check_machine()
        os.makedirs(source, exist_ok=True)
        os.makedirs(mountpoint, exist_ok=True)
        argv = [str(binary), "--seed", str(seed)]
        if settings:
            argv += ["--set", format_settings(settings)]
        argv += [str(source), str(mountpoint), "-f", "-o", "fsname=faultfs,subtype=faultfs"]
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                    start_new_session=True)
        fs = cls(proc, source, mountpoint, log_path)
        deadline = time.monotonic() + MOUNT_TIMEOUT
        while not _mounted(mountpoint):
            if proc.poll() is not None:
                raise MountUnavailable("faultfs exited %d before mounting: %s" % (proc.returncode, fs.log()))
            if time.monotonic() > deadline:
                fs.unmount()
                raise AssertionError("faultfs did not mount %s within %.0f s: %s"
                                     % (mountpoint, MOUNT_TIMEOUT, fs.log()))
            time.sleep(0.02)
        return fs

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")[-2000:]
        except OSError:
            return ""

    def set(self, **settings):
        """Apply settings (fsync_eio=0.2, fail_create=1, match='*.seg', ...)
        in one write: all of them or none."""
        fd = os.open(self.control, os.O_WRONLY)
        try:
            os.write(fd, format_settings(settings).encode())
        finally:
            os.close(fd)

    def counters(self):
        """{key: value} of the control file: OP_calls, OP_failed, the rates."""
        with open(self.control) as f:
            text = f.read()
        out = {}
        for line in text.splitlines():
            k, _, v = line.partition("=")
            try:
                out[k] = float(v) if "." in v or "e" in v else int(v)
            except ValueError:
                out[k] = v
        return out

    def unmount(self):
        """Unmount and stop the daemon; idempotent."""
        ok = _umount(self.mountpoint)
        try:
            self.proc.wait(timeout=UNMOUNT_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if not ok:
            raise AssertionError("could not unmount faultfs at %s" % self.mountpoint)


def format_settings(settings):
    return " ".join("%s=%s" % (k, v) for k, v in settings.items())


class Tmpfs:
    """A tmpfs of a given size."""

    def __init__(self, mountpoint):
        self.mountpoint = str(mountpoint)

    @classmethod
    def mount(cls, mountpoint, size_bytes):
        if os.geteuid() != 0:
            raise MountUnavailable("mounting a tmpfs needs root")
        os.makedirs(mountpoint, exist_ok=True)
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%d,mode=0755" % size_bytes, "tmpfs",
                            str(mountpoint)], capture_output=True, text=True, timeout=MOUNT_TIMEOUT,
                           stdin=subprocess.DEVNULL)
        if p.returncode != 0:
            raise MountUnavailable("mount -t tmpfs failed: %s" % (p.stderr.strip() or p.returncode))
        return cls(mountpoint)

    def unmount(self):
        if not _umount(self.mountpoint):
            raise AssertionError("could not unmount the tmpfs at %s" % self.mountpoint)
