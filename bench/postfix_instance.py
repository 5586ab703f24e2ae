"""bench/postfix_instance.py - a private Postfix instance under one
directory, for the interop tests (tests/interop/test_postfix_tls.py) and
the TLS benchmark anchor (bench/postfix_tls).

Owns: writing a main.cf and master.cf of its own (config, queue and data
directories, the log file, the certificate all under ROOT), starting it
with `postfix -c ROOT/etc start` (optionally inside a cgroup, so every
process master forks is in it), injecting mail over SMTP, flushing and
listing its queue, reading its log, and stopping it (`postfix stop`, then
the master's pid until it is gone) and removing ROOT.

Does not: touch /etc/postfix, the system's queue or port 25 (smtpd
listens only on the given 127.0.0.1 port; no service is chrooted, so no
chroot tree is copied), use DNS (peer name lookups and the smtp client's
DNS are off; a relayhost is a [literal] address), or judge anything.

Invariants: runs as root (postfix start insists); mail_owner and
setgid_group are the ones this Postfix was built with (`postconf -d`), so
the queue's permissions come out as `postfix check` wants; the log goes to
ROOT/maillog through postlogd (maillog_file, Postfix 3.4+), never to
syslog.  Expected workload: one instance per test (start and stop take
about 2 s each), or one long-lived benchmark instance.
"""
import json
import os
import shutil
import signal
import smtplib
import subprocess
import time

POSTFIX = "/usr/sbin/postfix"
POSTCONF = "/usr/sbin/postconf"
POSTQUEUE = "/usr/sbin/postqueue"
OPENSSL = "/usr/bin/openssl"
START_TIMEOUT_S = 30
STOP_TIMEOUT_S = 30
COMMAND_TIMEOUT_S = 60
CERT_DAYS = 30  # a throw-away certificate; nothing verifies it

# master.cf after the smtpd line (name type private unpriv chroot wakeup
# maxproc command): Debian's master.cf.proto without chroot, local, virtual
# and lmtp delivery; pickup watches ROOT/queue/maildrop only.
BASE_SERVICES = (
    "pickup    unix  n  -  n  60    1  pickup",
    "cleanup   unix  n  -  n  -     0  cleanup",
    "qmgr      unix  n  -  n  300   1  qmgr",
    "tlsmgr    unix  -  -  n  1000? 1  tlsmgr",
    "rewrite   unix  -  -  n  -     -  trivial-rewrite",
    "bounce    unix  -  -  n  -     0  bounce",
    "defer     unix  -  -  n  -     0  bounce",
    "trace     unix  -  -  n  -     0  bounce",
    "verify    unix  -  -  n  -     1  verify",
    "flush     unix  n  -  n  1000? 0  flush",
    "proxymap  unix  -  -  n  -     -  proxymap",
    "proxywrite unix -  -  n  -     1  proxymap",
    "smtp      unix  -  -  n  -     -  smtp",
    "relay     unix  -  -  n  -     -  smtp",
    "showq     unix  n  -  n  -     -  showq",
    "error     unix  -  -  n  -     -  error",
    "retry     unix  -  -  n  -     -  error",
    "discard   unix  -  -  n  -     -  discard",
    "anvil     unix  -  -  n  -     1  anvil",
    "scache    unix  -  -  n  -     1  scache",
    "postlog   unix-dgram n - n -   1  postlogd",
)


class PostfixUnavailable(Exception):
    """Postfix cannot run here (the reason): not installed, or not root."""


def postconf_default(name):
    """A parameter's built-in default (postconf -d), e.g. mail_owner."""
    p = subprocess.run([POSTCONF, "-dh", name], capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)
    if p.returncode != 0:
        raise PostfixUnavailable("postconf -dh %s: %s" % (name, p.stderr.strip()))
    return p.stdout.strip()


def unavailable_reason():
    """None if a private Postfix can run in this process, else why not."""
    for prog in (POSTFIX, POSTCONF, POSTQUEUE):
        if not os.access(prog, os.X_OK):
            return "%s is not installed (Debian package postfix)" % prog
    if os.geteuid() != 0:
        return "postfix start needs root (running as uid %d)" % os.geteuid()
    return None


def make_ecdsa_cert(directory, hostname):
    """An ECDSA P-256 key and self-signed certificate for hostname, as one
    PEM file (key first, then certificate: smtpd_tls_chain_files order)."""
    key, cert = os.path.join(directory, "key.pem"), os.path.join(directory, "cert.pem")
    subprocess.run([OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-subj", "/CN=" + hostname, "-addext", "subjectAltName=DNS:" + hostname,
                    "-days", str(CERT_DAYS), "-keyout", key, "-out", cert],
                   check=True, capture_output=True, timeout=COMMAND_TIMEOUT_S)
    chain = os.path.join(directory, "chain.pem")
    with open(chain, "w") as out:
        for part in (key, cert):
            with open(part) as f:
                out.write(f.read())
    os.chmod(chain, 0o600)
    return chain


class Postfix:
    """A private Postfix under root; smtpd on 127.0.0.1:port.

    main: main.cf settings on top of the base ones (a later one wins).
    smtpd_maxproc: the smtpd service's process limit ("-": the default).
    """

    def __init__(self, root, port, main=None, smtpd_maxproc="-", hostname="postfix.test"):
        self.root = os.path.abspath(root)
        self.port = port
        self.config_dir = os.path.join(self.root, "etc")
        self.queue_dir = os.path.join(self.root, "queue")
        self.data_dir = os.path.join(self.root, "data")
        self.log_path = os.path.join(self.root, "maillog")
        self.hostname = hostname
        self.main = dict(self._base_main())
        self.main.update(main or {})
        self.smtpd_maxproc = smtpd_maxproc
        self.master_pid = None

    def _base_main(self):
        return [
            ("compatibility_level", "3.6"),
            ("queue_directory", self.queue_dir),
            ("data_directory", self.data_dir),
            ("mail_owner", postconf_default("mail_owner")),
            ("setgid_group", postconf_default("setgid_group")),
            ("myhostname", self.hostname),
            ("mydomain", "test"),
            ("myorigin", "$myhostname"),
            ("mydestination", ""),
            ("relay_domains", ""),
            ("inet_interfaces", "127.0.0.1"),
            ("inet_protocols", "ipv4"),
            ("mynetworks", "127.0.0.0/8"),
            ("smtpd_relay_restrictions", "permit_mynetworks, reject"),
            ("alias_maps", ""),
            ("alias_database", ""),
            ("local_recipient_maps", ""),
            ("smtpd_peername_lookup", "no"),
            ("smtp_dns_support_level", "disabled"),
            ("biff", "no"),
            ("maillog_file", self.log_path),
            ("maillog_file_prefixes", self.root),
            ("syslog_name", "postfix-private"),
        ]

    def _master_cf(self):
        smtpd = "127.0.0.1:%d inet n - n - %s smtpd" % (self.port, self.smtpd_maxproc)
        return "\n".join((smtpd,) + BASE_SERVICES) + "\n"

    def write_config(self):
        """ROOT and its directories; data_directory belongs to mail_owner."""
        os.makedirs(self.root, exist_ok=True)
        os.chmod(self.root, 0o755)
        _check_traversable(self.root)
        for d in (self.config_dir, self.queue_dir, self.data_dir):
            os.makedirs(d, exist_ok=True)
        owner = self.main["mail_owner"]
        shutil.chown(self.data_dir, user=owner)
        with open(os.path.join(self.config_dir, "main.cf"), "w") as f:
            for k, v in self.main.items():
                f.write("%s = %s\n" % (k, v))
        with open(os.path.join(self.config_dir, "master.cf"), "w") as f:
            f.write(self._master_cf())
        open(self.log_path, "a").close()  # so log() has it before the first line

    def _run(self, argv, check=True, timeout=COMMAND_TIMEOUT_S, preexec_fn=None):
        p = subprocess.run(argv, capture_output=True, text=True, errors="replace", timeout=timeout,
                           stdin=subprocess.DEVNULL, preexec_fn=preexec_fn)
        if check and p.returncode != 0:
            raise RuntimeError("%s: exit %d\n%s%s\n--- log\n%s" % (" ".join(argv), p.returncode, p.stdout,
                                                                 p.stderr, self.log()[-3000:]))
        return p

    def start(self, cgroup_procs=None):
        """Write the configuration and start; with cgroup_procs (a
        cgroup.procs file) the start command, and so master and every
        daemon it forks, runs in that cgroup."""
        self.write_config()
        preexec = None
        if cgroup_procs is not None:
            def preexec():
                with open(cgroup_procs, "w") as f:
                    f.write(str(os.getpid()))
        self._run([POSTFIX, "-c", self.config_dir, "start"], timeout=START_TIMEOUT_S, preexec_fn=preexec)
        self.master_pid = self.read_master_pid()
        self.wait_listening()
        return self

    def read_master_pid(self):
        with open(os.path.join(self.queue_dir, "pid", "master.pid")) as f:
            return int(f.read().split()[0])

    def wait_listening(self):
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                with smtplib.SMTP("127.0.0.1", self.port, timeout=5) as s:
                    s.ehlo("probe.test")
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("Postfix smtpd did not answer on 127.0.0.1:%d within %d s\n--- log\n%s"
                                       % (self.port, START_TIMEOUT_S, self.log()[-3000:]))
                time.sleep(0.05)

    def stop(self):
        """postfix stop, then wait for the master to be gone (SIGKILL to it
        after STOP_TIMEOUT_S); safe to call twice."""
        if self.master_pid is None:
            return
        self._run([POSTFIX, "-c", self.config_dir, "stop"], check=False)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while _alive(self.master_pid):
            if time.monotonic() > deadline:
                os.kill(self.master_pid, signal.SIGKILL)
            time.sleep(0.05)
        self.master_pid = None

    def remove(self):
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def send(self, sender, rcpts, body):
        """One message over SMTP to this instance's smtpd; the queue ID."""
        with smtplib.SMTP("127.0.0.1", self.port, timeout=COMMAND_TIMEOUT_S) as s:
            s.ehlo("client.test")
            s.mail(sender)
            for r in rcpts:
                s.rcpt(r)
            code, text = s.data(body)
        if code != 250:
            raise RuntimeError("Postfix refused the message: %d %r" % (code, text))
        return text.decode(errors="replace").rsplit(" ", 1)[-1]

    def flush(self):
        """Attempt delivery of every queued message now (postqueue -f)."""
        self._run([POSTQUEUE, "-c", self.config_dir, "-f"])

    def queue(self):
        """The queued messages: postqueue -j's JSON objects."""
        p = self._run([POSTQUEUE, "-c", self.config_dir, "-j"])
        return [json.loads(ln) for ln in p.stdout.splitlines() if ln.strip()]

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""


def _check_traversable(path):
    """Postfix's daemons run as mail_owner: every directory above ROOT
    must let others through (pytest's /tmp/pytest-of-root does not)."""
    d = os.path.dirname(path)
    while d != os.path.dirname(d):
        if not os.stat(d).st_mode & 0o001:
            raise PostfixUnavailable("%s is not searchable by others, so Postfix's daemons (mail_owner) "
                                     "cannot reach %s: put the instance elsewhere" % (d, path))
        d = os.path.dirname(d)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
