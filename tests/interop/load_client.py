#!/usr/bin/env python3
"""load_client.py - hold many SMTP sessions from one process (stdlib only).

Usage:
  load_client.py HOST PORT COUNT SOURCE [--mode transaction|idle]
                 [--wait-go] [--connect-concurrency N]
                 [--connect-timeout SECS] [--timeout SECS]
                 [--pipeline] [--body-bytes N] [--no-queue-id]
                 [--tls starttls|implicit]

Opens COUNT connections from source address SOURCE (a 127.x address, so
that several processes do not share one ephemeral port range) and reads
every greeting first.  Only when ALL are connected does it go on:
  transaction  every session does EHLO, MAIL, RCPT, DATA, body + ".", QUIT,
               all sessions at the same time, one command per round trip
               (--pipeline: MAIL+RCPT+DATA in one write);
  idle         every session stays idle until "go", then sends QUIT.
With --tls, every session is on TLS before that (certificates are not
checked: a sink's is self-signed): starttls does EHLO, STARTTLS, the
handshake and EHLO again right after the greeting; implicit connects with
TLS (a --listen-tls address) and reads the greeting over it.
Each session must get exactly the expected replies (220, 250, 250, 250,
354, 250 "queued as", 221) and then the server's close.

Protocol with a parent process (stdout, one line each, flushed):
  CONNECTED <connected> <failed> <seconds> <json failures>
                                             all connect attempts are done
  RESULT <json>                              final counts and timings
With --wait-go it reads one line from stdin after CONNECTED before going on,
so a parent can line up several client processes (and measure the server
while every session is open).  Without it, it goes on at once.

Exit status: 0 when every session succeeded, 1 otherwise, 2 on bad usage.
Raises the soft RLIMIT_NOFILE to the hard limit first: COUNT sockets need
COUNT descriptors here.
"""

import argparse
import asyncio
import json
import resource
import socket
import ssl
import sys
import time

IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)


class SessionError(Exception):
    def __init__(self, stage, detail):
        super().__init__("%s: %s" % (stage, detail))
        self.stage = stage
        self.detail = detail


class Session:
    """One SMTP session over asyncio streams."""

    __slots__ = ("reader", "writer", "stage")

    def __init__(self):
        self.reader = None
        self.writer = None
        self.stage = "connect"

    async def connect(self, host, port, source, tls_ctx=None):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            if source:
                # Choose the port at connect time from the whole 4-tuple
                # space rather than at bind time (one port per source).
                try:
                    sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
                except OSError:
                    pass
                sock.bind((source, 0))
            await asyncio.get_running_loop().sock_connect(sock, (host, port))
        except BaseException:
            sock.close()
            raise
        if tls_ctx is not None:  # implicit TLS
            self.stage = "handshake"
            self.reader, self.writer = await asyncio.open_connection(
                sock=sock, limit=8192, ssl=tls_ctx, server_hostname="sink.example")
        else:
            self.reader, self.writer = await asyncio.open_connection(sock=sock, limit=8192)

    async def starttls(self, ctx):
        """EHLO, STARTTLS, the handshake, EHLO again."""
        await self.send(b"EHLO load.example\r\n", "ehlo")
        await self.expect(250, "ehlo")
        await self.send(b"STARTTLS\r\n", "starttls")
        await self.expect(220, "starttls")
        self.stage = "handshake"
        await self.writer.start_tls(ctx, server_hostname="sink.example")
        await self.send(b"EHLO load.example\r\n", "ehlo")
        await self.expect(250, "ehlo")

    async def reply(self):
        """Read one reply; return (code, last line)."""
        while True:
            line = await self.reader.readuntil(b"\n")
            if len(line) < 5 or not line[:3].isdigit():
                raise SessionError(self.stage, "bad reply line %r" % line)
            if line[3:4] != b"-":
                return int(line[:3]), line.rstrip(b"\r\n")

    async def expect(self, code, stage):
        self.stage = stage
        got, line = await self.reply()
        if got != code:
            raise SessionError(stage, "expected %d, got %r" % (code, line))
        return line

    async def send(self, data, stage):
        self.stage = stage
        self.writer.write(data)
        await self.writer.drain()

    def close(self):
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def classify(exc, stage):
    """Failure bucket name for an exception raised in stage."""
    if isinstance(exc, SessionError):
        return exc.stage + ":" + exc.detail[:60]
    if isinstance(exc, ConnectionRefusedError):
        return stage + ":refused"
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return stage + ":timeout"
    if isinstance(exc, ConnectionResetError):
        return stage + ":reset"
    if isinstance(exc, asyncio.IncompleteReadError):
        return stage + ":closed"
    if isinstance(exc, OSError):
        return "%s:%s" % (stage, exc.strerror or type(exc).__name__)
    return "%s:%s" % (stage, type(exc).__name__)


def make_body(nbytes):
    line = b"x" * 70 + b"\r\n"
    head = b"Subject: load\r\n\r\n"
    n = max(0, nbytes - len(head)) // len(line) + 1
    return head + line * n


async def with_timeout(coro, seconds):
    return await asyncio.wait_for(coro, seconds)


async def run(args):
    loop = asyncio.get_running_loop()
    sessions = [Session() for _ in range(args.count)]
    failures = {}
    sem = asyncio.Semaphore(args.connect_concurrency)

    def fail(s, exc):
        key = classify(exc, s.stage)
        failures[key] = failures.get(key, 0) + 1
        s.close()

    tls_ctx = None
    if args.tls:
        tls_ctx = ssl.create_default_context()
        tls_ctx.check_hostname = False
        tls_ctx.verify_mode = ssl.CERT_NONE

    async def open_one(s):
        async with sem:
            try:
                implicit = tls_ctx if args.tls == "implicit" else None
                await with_timeout(s.connect(args.host, args.port, args.source, implicit), args.connect_timeout)
                await with_timeout(s.expect(220, "greeting"), args.connect_timeout)
                if args.tls == "starttls":
                    await with_timeout(s.starttls(tls_ctx), args.connect_timeout)
                return True
            except Exception as e:  # noqa: BLE001 - every failure is counted
                fail(s, e)
                return False

    t0 = time.monotonic()
    ok = await asyncio.gather(*(open_one(s) for s in sessions))
    live = [s for s, good in zip(sessions, ok) if good]
    t_connect = time.monotonic() - t0
    print("CONNECTED %d %d %.2f %s" % (len(live), args.count - len(live), t_connect,
                                      json.dumps(failures, sort_keys=True)), flush=True)

    if args.wait_go:
        await loop.run_in_executor(None, sys.stdin.readline)

    body = make_body(args.body_bytes) + b".\r\n"

    async def transact(s):
        await s.send(b"EHLO load.example\r\n", "ehlo")
        await s.expect(250, "ehlo")
        if args.pipeline:
            await s.send(b"MAIL FROM:<load@example.com>\r\nRCPT TO:<sink@example.com>\r\nDATA\r\n", "mail")
            await s.expect(250, "mail")
            await s.expect(250, "rcpt")
            await s.expect(354, "data")
        else:
            await s.send(b"MAIL FROM:<load@example.com>\r\n", "mail")
            await s.expect(250, "mail")
            await s.send(b"RCPT TO:<sink@example.com>\r\n", "rcpt")
            await s.expect(250, "rcpt")
            await s.send(b"DATA\r\n", "data")
            await s.expect(354, "data")
        await s.send(body, "dot")
        line = await s.expect(250, "dot")
        if args.queue_id and b" queued as " not in line:
            raise SessionError("dot", "no 'queued as' in %r" % line)

    async def finish(s):
        await s.send(b"QUIT\r\n", "quit")
        await s.expect(221, "quit")
        s.stage = "close"
        try:
            rest = await s.reader.read(1024)
        except ssl.SSLError:  # a TLS close without close_notify is no data either
            rest = b""
        if rest:
            raise SessionError("close", "data after 221: %r" % rest[:60])

    async def work(s):
        try:
            if args.mode == "transaction":
                await with_timeout(transact(s), args.timeout)
            await with_timeout(finish(s), args.timeout)
            return True
        except Exception as e:  # noqa: BLE001
            fail(s, e)
            return False
        finally:
            s.close()

    t1 = time.monotonic()
    done = await asyncio.gather(*(work(s) for s in live))
    t_work = time.monotonic() - t1
    completed = sum(1 for d in done if d)
    result = {
        "source": args.source,
        "mode": args.mode,
        "count": args.count,
        "connected": len(live),
        "completed": completed,
        "failed": args.count - completed,
        "failures": failures,
        "connect_seconds": round(t_connect, 3),
        "work_seconds": round(t_work, 3),
    }
    print("RESULT " + json.dumps(result, sort_keys=True), flush=True)
    return 0 if completed == args.count else 1


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError):
            pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("count", type=int)
    p.add_argument("source", help="source address to bind, e.g. 127.0.0.2 ('' for any)")
    p.add_argument("--mode", choices=("transaction", "idle"), default="transaction")
    p.add_argument("--wait-go", action="store_true", help="read a line from stdin after CONNECTED")
    p.add_argument("--connect-concurrency", type=int, default=256,
                   help="connections being opened at once (bounds the SYN burst)")
    p.add_argument("--connect-timeout", type=float, default=30.0,
                   help="seconds for one connect, and for its greeting")
    p.add_argument("--timeout", type=float, default=90.0,
                   help="seconds for a session's transaction, and for its QUIT")
    p.add_argument("--pipeline", action="store_true")
    p.add_argument("--tls", choices=("starttls", "implicit"), default=None,
                   help="every session on TLS first (see above)")
    p.add_argument("--body-bytes", type=int, default=200)
    p.add_argument("--no-queue-id", dest="queue_id", action="store_false",
                   help="accept an end-of-data 250 without 'queued as' (Postfix smtp-sink)")
    args = p.parse_args(argv)
    nofile = raise_nofile()
    if args.count + 64 > nofile:
        print("load_client: %d sessions need more descriptors than RLIMIT_NOFILE %d"
              % (args.count, nofile), file=sys.stderr)
        return 2
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
