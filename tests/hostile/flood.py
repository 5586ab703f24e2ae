#!/usr/bin/env python3
"""flood.py - hold many hostile SMTP sessions from one process (stdlib only).

Usage:
  flood.py HOST PORT --mode MODE --count N [--source ADDR] [--session-bytes N]
           [--total-bytes N] [--duration SECS] [--interval SECS] [--piece N]
           [--rcvbuf N] [--connect-timeout SECS]

Modes (what every one of the N sessions does):
  data          read the banner, send EHLO, MAIL, RCPT, DATA in one write,
                wait for 354, then push message content as fast as the
                server reads it, never the final dot, up to --session-bytes
                per session and --total-bytes in all; then holds the session
  noop          never reads anything: sends "EHLO" and NOOPs, pipelined, up
                to --session-bytes, as fast as the kernel takes them
                (--rcvbuf shrinks its receive buffer so the replies back up)
  trickle       read the banner, then send one byte of a command line every
                --interval seconds, never its line end
  data-trickle  like data up to the 354, then --piece bytes of content every
                --interval seconds

Protocol with the parent (stdout, one line each, flushed):
  READY <ok> <failed>     every session is set up (banner read; 354 for the
                          data modes), or failed to be
  BLOCKED <n>             noop: every session has sent its bytes, been closed,
                          or made no progress for a second
  RESULT <json>           at the end: --duration after READY, every session
                          closed (trickle modes), or SIGTERM
The result has, per session, the time from READY to the server's close
(null if still open) and the first bytes received; in all, the bytes sent
and every reply code seen.

Raises RLIMIT_NOFILE to its hard limit.  Exit status 0 (2 on bad usage).
"""

import argparse
import errno
import json
import resource
import selectors
import signal
import socket
import sys
import time

DATA_SETUP = b"EHLO flood.example\r\nMAIL FROM:<flood@example.com>\r\nRCPT TO:<sink@example.com>\r\nDATA\r\n"
CONTENT_LINE = b"X" * 78 + b"\r\n"  # never a lone "."
CHUNK = CONTENT_LINE * 3277  # 262,160 bytes per send at most
NOOP_CHUNK = b"NOOP\r\n" * 10923
TRICKLE_LINE = b"EHLO trickle.example.with.a.very.long.name"
KEEP_BYTES = 512  # first bytes received, kept per session
CONNECT_BATCH = 256  # connects in flight at once
STALL_S = 1.0  # noop: no progress this long counts as blocked


class Session:
    __slots__ = ("sock", "stage", "rbuf", "first", "sent", "budget", "t_closed", "last_progress",
                 "next_tick", "codes", "pending", "error")

    def __init__(self, sock, budget):
        self.sock = sock
        self.stage = "connect"
        self.rbuf = b""
        self.first = b""
        self.sent = 0
        self.budget = budget
        self.t_closed = None
        self.last_progress = time.monotonic()
        self.next_tick = 0.0
        self.codes = []
        self.pending = b""  # noop: the EHLO still to send before the NOOPs
        self.error = None


class Flood:
    def __init__(self, args):
        self.a = args
        self.sel = selectors.DefaultSelector()
        self.sessions = []
        self.total_sent = 0
        self.t_ready = None
        self.stop = False
        self.codes = {}

    # -- connections ----------------------------------------------------
    def open_one(self):
        family = socket.AF_INET6 if ":" in self.a.host else socket.AF_INET
        s = socket.socket(family, socket.SOCK_STREAM)
        s.setblocking(False)
        if self.a.rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.a.rcvbuf)
        if self.a.source:
            s.bind((self.a.source, 0))
        sess = Session(s, self.a.session_bytes)
        try:
            s.connect((self.a.host, self.a.port))
        except BlockingIOError:
            pass
        except OSError as e:
            sess.stage, sess.error = "failed", "connect: %s" % e
            s.close()
            return sess
        self.sel.register(s, selectors.EVENT_WRITE, sess)
        return sess

    def closed(self, sess, why=None):
        if sess.stage in ("closed", "failed"):
            return
        if sess.stage in ("connect", "banner", "setup"):
            sess.error = why or "closed during set-up"
            sess.stage = "failed"
        else:
            sess.stage = "closed"
        sess.t_closed = time.monotonic()
        try:
            self.sel.unregister(sess.sock)
        except (KeyError, ValueError):
            pass
        sess.sock.close()

    def want(self, sess, events):
        self.sel.modify(sess.sock, events, sess)

    # -- events ---------------------------------------------------------
    def on_connected(self, sess):
        err = sess.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            self.closed(sess, "connect: %s" % errno.errorcode.get(err, err))
            return
        if self.a.mode == "noop":
            sess.stage = "push"
            sess.pending = b"EHLO noop.example\r\n"
            self.want(sess, selectors.EVENT_WRITE)  # never read
        else:
            sess.stage = "banner"
            self.want(sess, selectors.EVENT_READ)

    def on_replies(self, sess, data):
        if len(sess.first) < KEEP_BYTES:
            sess.first += data[:KEEP_BYTES - len(sess.first)]
        buf = sess.rbuf + data
        *lines, sess.rbuf = buf.split(b"\n")
        for line in lines:
            if len(line) >= 4 and line[:3].isdigit() and line[3:4] != b"-":
                code = int(line[:3])
                sess.codes.append(code)
                self.codes[code] = self.codes.get(code, 0) + 1
                self.on_reply(sess, code)

    def on_reply(self, sess, code):
        if sess.stage == "banner":
            if code != 220:
                sess.stage, sess.error = "failed", "banner %d" % code
                return
            if self.a.mode == "trickle":
                sess.stage = "push"
                return
            sess.stage = "setup"
            sess.sock.send(DATA_SETUP)  # small: the kernel takes it whole
        elif sess.stage == "setup" and code == 354:
            sess.stage = "push"
            if self.a.mode == "data":
                self.want(sess, selectors.EVENT_READ | selectors.EVENT_WRITE)
        elif sess.stage == "setup" and code >= 400:
            sess.stage, sess.error = "failed", "set-up refused with %d" % code

    def on_readable(self, sess):
        try:
            data = sess.sock.recv(65536)
        except (ConnectionResetError, OSError) as e:
            self.closed(sess, "recv: %s" % e)
            return
        if not data:
            self.closed(sess)
            return
        self.on_replies(sess, data)

    def send_some(self, sess, data):
        try:
            n = sess.sock.send(data)
        except BlockingIOError:
            return 0
        except (BrokenPipeError, ConnectionResetError, OSError) as e:
            self.closed(sess, "send: %s" % e)
            return 0
        sess.sent += n
        self.total_sent += n
        if n:
            sess.last_progress = time.monotonic()
        return n

    def on_writable(self, sess):
        if sess.stage == "connect":
            self.on_connected(sess)
            return
        if self.a.mode == "noop":
            self.push_noop(sess)
        elif self.a.mode == "data":
            self.push_data(sess)

    def push_data(self, sess):
        left = min(sess.budget - sess.sent, self.a.total_bytes - self.total_sent)
        if left <= 0:
            self.want(sess, selectors.EVENT_READ)  # hold the session open
            return
        self.send_some(sess, memoryview(CHUNK)[:min(left, len(CHUNK))])

    def push_noop(self, sess):
        left = sess.budget - sess.sent
        if left <= 0:
            sess.stage = "held"
            self.sel.unregister(sess.sock)
            return
        data = sess.pending or NOOP_CHUNK
        n = self.send_some(sess, memoryview(data)[:left])
        if sess.pending and n:
            sess.pending = sess.pending[n:]

    def ticks(self, now):
        """The trickle modes: one piece per interval per session."""
        for sess in self.sessions:
            if sess.stage != "push" or now < sess.next_tick:
                continue
            sess.next_tick = now + self.a.interval
            if self.a.mode == "trickle":
                i = sess.sent
                piece = TRICKLE_LINE[i:i + 1] or b"x"
            else:
                piece = b"z" * max(0, self.a.piece - 2) + b"\r\n"
            self.send_some(sess, piece)

    # -- phases ---------------------------------------------------------
    def poll(self, timeout):
        for key, events in self.sel.select(timeout):
            sess = key.data
            if events & selectors.EVENT_READ and sess.stage not in ("closed", "failed"):
                self.on_readable(sess)
            if events & selectors.EVENT_WRITE and sess.stage not in ("closed", "failed"):
                self.on_writable(sess)

    def connect_all(self):
        deadline = time.monotonic() + self.a.connect_timeout
        pending = self.a.count
        while not self.stop and time.monotonic() < deadline:
            busy = sum(1 for s in self.sessions if s.stage in ("connect", "banner", "setup"))
            while pending and busy < CONNECT_BATCH:
                self.sessions.append(self.open_one())
                pending -= 1
                busy += 1
            if not pending and not busy:
                break
            self.poll(0.05)
        for s in self.sessions:
            if s.stage in ("connect", "banner", "setup"):
                s.error = "set-up not done within %.0f s (stage %s)" % (self.a.connect_timeout, s.stage)
                s.stage = "failed"
        ok = sum(1 for s in self.sessions if s.stage not in ("failed",))
        self.t_ready = time.monotonic()
        emit("READY %d %d" % (ok, len(self.sessions) - ok))

    def all_blocked(self, now):
        return all(s.stage in ("closed", "failed", "held") or now - s.last_progress >= STALL_S
                   for s in self.sessions)

    def run(self):
        self.connect_all()
        told_blocked = False
        end = self.t_ready + self.a.duration
        while not self.stop:
            now = time.monotonic()
            if now >= end:
                break
            if self.a.mode in ("trickle", "data-trickle"):
                self.ticks(now)
                if all(s.stage in ("closed", "failed") for s in self.sessions):
                    break
            if self.a.mode == "noop" and not told_blocked and self.all_blocked(now):
                told_blocked = True
                emit("BLOCKED %d" % sum(1 for s in self.sessions if s.stage != "failed"))
            self.poll(0.05)
        emit("RESULT " + json.dumps(self.result()))
        for s in self.sessions:
            if s.stage not in ("closed", "failed"):
                s.sock.close()

    def result(self):
        t0 = self.t_ready
        return {
            "mode": self.a.mode,
            "count": len(self.sessions),
            "failed": sum(1 for s in self.sessions if s.stage == "failed"),
            "errors": sorted({s.error for s in self.sessions if s.error})[:10],
            "bytes_sent": self.total_sent,
            "closed": sum(1 for s in self.sessions if s.stage == "closed"),
            "close_s": [None if s.t_closed is None or s.stage != "closed" else round(s.t_closed - t0, 3)
                        for s in self.sessions],
            "first": [s.first.decode("latin-1") for s in self.sessions],
            "codes": {str(k): v for k, v in sorted(self.codes.items())},
        }


def emit(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def parse_args(argv):
    p = argparse.ArgumentParser(description="hold many hostile SMTP sessions")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--mode", required=True, choices=("data", "noop", "trickle", "data-trickle"))
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--source")
    p.add_argument("--session-bytes", type=int, default=40 << 20)
    p.add_argument("--total-bytes", type=int, default=1 << 40)
    p.add_argument("--duration", type=float, default=30.0)
    p.add_argument("--interval", type=float, default=2.0)
    p.add_argument("--piece", type=int, default=10)
    p.add_argument("--rcvbuf", type=int, default=0)
    p.add_argument("--connect-timeout", type=float, default=60.0)
    return p.parse_args(argv)


def main(argv):
    args = parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    flood = Flood(args)

    def on_term(signum, frame):
        flood.stop = True
    signal.signal(signal.SIGTERM, on_term)
    flood.run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
