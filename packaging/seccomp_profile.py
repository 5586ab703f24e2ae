#!/usr/bin/python3
"""packaging/seccomp_profile.py - the container's opt-in seccomp profile,
packaging/seccomp-io_uring.json, made from the systemd unit's filter.

Owns: one system call policy for both ways of running smtpsink.  The unit
(packaging/smtpsink.service) allows systemd's @system-service set plus
io_uring_setup/enter/register; the profile allows the same set, less what
Docker's own default profile refuses to an unprivileged container (the
keyring calls, namespaces by unshare/setns, reading other processes'
memory), and refuses everything else with EPERM, as Docker's default
profile does.  EPERM, not a kill: a call the profile lacks fails the way
io_uring_setup fails under Docker's default profile, and smtpsink falls
back (docs/CONTAINER.md).

Usage: packaging/seccomp_profile.py            print the profile (JSON)
       packaging/seccomp_profile.py --check    exit 1 if the committed file differs
Needs systemd-analyze (the groups are systemd's, resolved on this machine:
systemd 252 on Debian 12).
"""

import json
import subprocess
import sys
from pathlib import Path

PROFILE = Path(__file__).resolve().parent / "seccomp-io_uring.json"
BASE_GROUP = "@system-service"
# What Docker's default profile keeps from an unprivileged container.
DROP = {"@keyring", "unshare", "setns", "process_vm_readv", "process_vm_writev"}
ADD = ("io_uring_setup", "io_uring_enter", "io_uring_register")
ARCH_MAP = [
    {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
    {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
]
EPERM = 1


def groups():
    """systemd's syscall groups: name -> list of members (calls and @groups)."""
    text = subprocess.run(["systemd-analyze", "syscall-filter"], capture_output=True, text=True,
                          check=True).stdout
    out, current = {}, None
    for line in text.splitlines():
        if line.startswith("@"):
            current = line.strip()
            out[current] = []
        elif current and line.strip() and not line.strip().startswith("#"):
            out[current].append(line.strip())
    return out


def resolve(name, table):
    if name in DROP:
        return set()
    if not name.startswith("@"):
        return {name}
    calls = set()
    for member in table[name]:
        calls |= resolve(member, table)
    return calls


def profile():
    calls = sorted(resolve(BASE_GROUP, groups()) | set(ADD))
    return {
        "comment": "smtpsink: systemd's @system-service less what Docker's default refuses, plus io_uring;"
                   " made by packaging/seccomp_profile.py",
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": EPERM,
        "archMap": ARCH_MAP,
        "syscalls": [{"names": calls, "action": "SCMP_ACT_ALLOW"}],
    }


def main():
    text = json.dumps(profile(), indent=1) + "\n"
    if sys.argv[1:] == ["--check"]:
        if PROFILE.read_text() != text:
            print("%s differs from what %s makes: run it again" % (PROFILE, sys.argv[0]), file=sys.stderr)
            return 1
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
