"""The packaging files that need no package build: the seccomp profile for
containers and the systemd unit.

Owns: packaging/seccomp-io_uring.json is what packaging/seccomp_profile.py
makes from this machine's systemd (so the container and the unit allow the
same calls), it allows the three io_uring calls and refuses by default
with EPERM, and it keeps out what Docker's default profile keeps from an
unprivileged container; packaging/smtpsink.service passes `systemd-analyze
verify` with ExecStart pointed at the built server (the installed one is
verified by test_package.py).  A missing systemd-analyze skips, printed.
"""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import smtpsink_path

REPO = Path(__file__).resolve().parents[2]
PROFILE = REPO / "packaging" / "seccomp-io_uring.json"
UNIT = REPO / "packaging" / "smtpsink.service"
URING = {"io_uring_setup", "io_uring_enter", "io_uring_register"}


def needs_systemd_analyze():
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed: nothing to compare with")


def test_seccomp_profile_is_current():
    needs_systemd_analyze()
    p = subprocess.run([str(REPO / "packaging" / "seccomp_profile.py"), "--check"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr


def test_seccomp_profile_allows_io_uring_and_little_else():
    prof = json.loads(PROFILE.read_text())
    assert prof["defaultAction"] == "SCMP_ACT_ERRNO" and prof["defaultErrnoRet"] == 1
    (rule,) = prof["syscalls"]
    assert rule["action"] == "SCMP_ACT_ALLOW"
    names = set(rule["names"])
    assert URING <= names
    for refused in ("keyctl", "add_key", "unshare", "setns", "mount", "ptrace", "bpf", "init_module", "reboot"):
        assert refused not in names, refused


def test_unit_verifies(tmp_path):
    needs_systemd_analyze()
    text = UNIT.read_text()
    assert "SystemCallFilter=@system-service io_uring_setup io_uring_enter io_uring_register" in text
    assert re.search(r"^Type=notify$", text, re.M)
    unit = tmp_path / "smtpsink.service"
    # the built server in place of /usr/sbin/smtpsink; the man pages are not installed here
    unit.write_text(text.replace("/usr/sbin/smtpsink", str(smtpsink_path()))
                    .replace("Documentation=", "#Documentation="))
    p = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    assert p.returncode == 0 and not (p.stdout + p.stderr).strip(), p.stdout + p.stderr
