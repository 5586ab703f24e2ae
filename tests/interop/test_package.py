"""The Debian package, end to end: tools/package, dpkg -i, the installed
server from the shipped config, dpkg -r, dpkg --purge.

Owns: tools/package builds smtpsink_<version>_<arch>.deb (lintian runs
inside it when installed, and fails it on warnings); the package puts the
three programs, the man pages, the conffile /etc/smtpsink/smtpsink.conf and
the systemd unit where docs/PACKAGE.md says, and `systemd-analyze verify`
finds nothing wrong with the unit; its postinst makes the system user
smtpsink and /var/spool/smtpsink (0750 smtpsink:smtpsink); /usr/sbin/smtpsink
started as that user with --config /etc/smtpsink/smtpsink.conf (systemd is
not PID 1 on the test machines, so the test plays its part: the user, and
NOTIFY_SOCKET for Type=notify) says READY=1, takes a message from swaks,
which smtpsink-spool lists from /var/spool/smtpsink as the user smtpsink,
and stops with STOPPING=1 and exit 0 on SIGTERM; dpkg -r removes the
programs and leaves the conffile and no smtpsink process; dpkg --purge
removes the configuration and the spool.

Runs as root only (dpkg -i), and only when no smtpsink package is installed
already (the machine is shared: the test never touches one it did not
install); either way the skip is printed.  Cleans up even when it fails:
the server is killed by PID, the package purged, and the system user
removed if the test's install created it.  Slow (a package build, about
two minutes on two cores): marked `package`, run by its own meson test.
"""

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from interop_helpers import free_port, is_listening

pytestmark = pytest.mark.package

REPO = Path(__file__).resolve().parents[2]
CONF = "/etc/smtpsink/smtpsink.conf"
SPOOL = Path("/var/spool/smtpsink")
PROGRAMS = ("/usr/sbin/smtpsink", "/usr/bin/smtpsink-spool", "/usr/bin/smtpsink-bench")
MAN_PAGES = ("/usr/share/man/man8/smtpsink.8.gz", "/usr/share/man/man1/smtpsink-spool.1.gz",
             "/usr/share/man/man1/smtpsink-bench.1.gz")
UNIT = "/lib/systemd/system/smtpsink.service"
BUILD_TIMEOUT = 900  # seconds for tools/package (apt may install debhelper first)
NOTIFY_TIMEOUT = 30.0


def run(*argv, timeout=120, check=True, **kw):
    p = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=timeout, **kw)
    if check:
        assert p.returncode == 0, "%s exited %d\nstdout:\n%s\nstderr:\n%s" % (
            " ".join(map(str, argv)), p.returncode, p.stdout[-4000:], p.stderr[-4000:])
    return p


def package_status():
    """dpkg's status of smtpsink; "" when it is not there at all."""
    p = run("dpkg-query", "-W", "-f=${Status}", "smtpsink", check=False)
    status = p.stdout.strip() if p.returncode == 0 else ""
    return "" if status.endswith("not-installed") else status


def user_exists(name="smtpsink"):
    return run("getent", "passwd", name, check=False).returncode == 0


def smtpsink_processes():
    """PIDs whose executable is /usr/sbin/smtpsink (or was, before dpkg -r)."""
    pids = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            exe = os.readlink(d / "exe")
        except OSError:
            continue
        if exe in ("/usr/sbin/smtpsink", "/usr/sbin/smtpsink (deleted)"):
            pids.append(int(d.name))
    return pids


def receive(sock, timeout=NOTIFY_TIMEOUT):
    sock.settimeout(timeout)
    return dict(line.split("=", 1) for line in sock.recv(65536).decode().split("\n"))


@pytest.fixture
def installed(tmp_path):
    """Build and dpkg -i the package; purge it (and the user it made) after."""
    if os.geteuid() != 0:
        pytest.skip("the package test needs root (dpkg -i); run tools/test as root")
    if package_status():
        pytest.skip("a smtpsink package is already on this machine (%s): not touching it"
                    % package_status())
    out = tmp_path / "deb"
    p = run(REPO / "tools" / "package", out, timeout=BUILD_TIMEOUT, check=False)
    assert p.returncode == 0, "tools/package failed (exit %d):\n%s\n%s" % (
        p.returncode, p.stdout[-6000:], p.stderr[-4000:])
    print(p.stdout[-3000:])  # lintian's verdict, in the log
    deb = Path(p.stdout.strip().splitlines()[-1])
    assert deb.parent == out and deb.name.startswith("smtpsink_") and deb.suffix == ".deb", p.stdout
    user_before = user_exists()
    procs = []
    try:
        run("dpkg", "-i", deb)
        yield {"deb": deb, "procs": procs}
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if package_status():
            run("dpkg", "--purge", "smtpsink", check=False)
        if not user_before and user_exists():
            run("deluser", "--system", "smtpsink", check=False)
        shutil.rmtree(SPOOL, ignore_errors=True)


def test_package_install_run_remove(installed, tmp_path):
    deb = installed["deb"]
    assert package_status() == "install ok installed"
    # what the package holds, and where
    for path in PROGRAMS + (CONF, UNIT):
        assert os.path.exists(path), path
    for path in MAN_PAGES:
        assert os.path.exists(path), "man page missing: %s" % path
    assert CONF in run("dpkg-query", "-W", "-f=${Conffiles}", "smtpsink").stdout
    conf = Path(CONF).read_text().splitlines()  # docs/smtpsink.conf.example, as debian/rules changes it
    for line in ("listen = 127.0.0.1:2525", "http = 127.0.0.1:8025", "spool = /var/spool/smtpsink",
                 "spool-mode = 0640"):
        assert line in conf, line
    version = run("/usr/sbin/smtpsink", "--version").stdout
    assert deb.name.split("_")[1] in version, version
    pw = run("getent", "passwd", "smtpsink").stdout.split(":")
    assert int(pw[2]) < 1000 and pw[5] == str(SPOOL), pw  # a system user, home = the spool
    st = SPOOL.stat()
    assert oct(st.st_mode & 0o7777) == "0o750"
    assert run("stat", "-c", "%U:%G", SPOOL).stdout.strip() == "smtpsink:smtpsink"
    if shutil.which("systemd-analyze"):
        v = run("systemd-analyze", "verify", UNIT, check=False)
        assert v.returncode == 0 and not (v.stdout + v.stderr).strip(), v.stdout + v.stderr
    else:
        print("systemd-analyze not installed: the unit was not verified")

    # the installed server, from the shipped config, as the unit runs it
    # setpriv execs (as User= does): the PID is the server's, and so is the exit status
    argv = ["setpriv", "--reuid=smtpsink", "--regid=smtpsink", "--init-groups", "--",
            "/usr/sbin/smtpsink", "--config", CONF]
    port, http = 2525, 8025
    if is_listening(port) or is_listening(http):
        # a shared machine: someone's server has the config's ports; the
        # command line overrides the file key by key, the rest still applies
        port, http = free_port(), free_port()
        print("ports 2525/8025 in use here: overriding listen and http with %d/%d" % (port, http))
        argv += ["--listen", "127.0.0.1:%d" % port, "--http", "127.0.0.1:%d" % http]
    # abstract: the user smtpsink may not search pytest's 0700 directories
    notify_name = "smtpsink-package-test-%s" % uuid.uuid4().hex
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind("\0" + notify_name)
    env = dict(os.environ, NOTIFY_SOCKET="@" + notify_name)
    err_path = tmp_path / "server.stderr"
    with notify, open(err_path, "wb") as err:
        proc = subprocess.Popen(argv, cwd="/", env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
        installed["procs"].append(proc)
        try:
            msg = receive(notify)
        except socket.timeout:
            raise AssertionError("no READY=1 within %.0f s; stderr:\n%s" % (NOTIFY_TIMEOUT, err_path.read_text()))
        assert msg.get("READY") == "1" and is_listening(port) and is_listening(http), msg

        subject = "package test %s" % uuid.uuid4().hex
        run("swaks", "--server", "127.0.0.1:%d" % port, "--to", "alice@example.com",
            "--from", "bob@example.com", "--header", "Subject: " + subject, timeout=60)
        ls = run("setpriv", "--reuid=smtpsink", "--regid=smtpsink", "--init-groups", "--",
                 "/usr/bin/smtpsink-spool", "--spool", SPOOL, "ls")
        assert subject in ls.stdout and "alice@example.com" in ls.stdout, ls.stdout

        proc.send_signal(signal.SIGTERM)
        assert receive(notify).get("STOPPING") == "1"
        assert proc.wait(timeout=60) == 0, err_path.read_text()
    stderr = err_path.read_text()
    assert "served 1 connections, 1 messages" in stderr, stderr

    # remove: programs gone, conffile kept, nothing running
    run("dpkg", "-r", "smtpsink")
    assert package_status().startswith("deinstall ok config-files"), package_status()
    for path in PROGRAMS + (UNIT,):
        assert not os.path.exists(path), path
    assert os.path.exists(CONF)
    assert smtpsink_processes() == []
    # purge: the configuration and the spool go too
    run("dpkg", "--purge", "smtpsink")
    assert package_status() == ""
    assert not os.path.exists(CONF) and not os.path.exists("/etc/smtpsink")
    assert not SPOOL.exists()
