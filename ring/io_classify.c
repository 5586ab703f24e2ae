/*
 * ring/io_classify.c - one errno classification (io_classify.h).
 *
 * The rules, by verb (res >= 0 is IO_OK for all; ECANCELED is IO_CANCELED
 * for all):
 *  - accept: EAGAIN, EINTR, ECONNABORTED (the client left before it was
 *    taken): retry.  EMFILE, ENFILE, ENOMEM, ENOBUFS: no resources.
 *  - recv: EAGAIN, EINTR: retry.  ENOBUFS: no buffers (the buffer ring).
 *  - send: EAGAIN, EINTR: retry (when writable).
 *  - write, fsync: EINTR: retry; EAGAIN is an error here (these are
 *    blocking descriptors, and spinning on one would hang the loop).
 *    ENOSPC, EDQUOT: disk full.
 *  - connect: EINPROGRESS, EINTR (POSIX: the connection goes on
 *    asynchronously): in progress.  EADDRNOTAVAIL (no free port), EAGAIN:
 *    no resources.
 *  - close: never retried (Linux releases the descriptor even on EINTR).
 *  - setup: ENOSYS, EPERM (seccomp, kernel.io_uring_disabled), EINVAL (a
 *    flag too new), EOPNOTSUPP (a missing opcode): unsupported.
 *  - wait: EINTR (a signal), ETIME (the timeout passed), EBUSY (the CQ
 *    overflowed: delivering empties it): retry, that is, go round the loop.
 * Then for every verb: the peer's errors (ECONNRESET, EPIPE, ETIMEDOUT,
 * ECONNREFUSED, unreachable, ...) are peer gone, EMFILE, ENFILE, ENOMEM
 * and ENOBUFS are no resources, and the rest is an I/O error.
 */
#include "io_classify.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>

static bool is_peer_gone(int e)
{
	switch (e) {
	case ECONNRESET:
	case EPIPE:
	case ETIMEDOUT:
	case ECONNREFUSED:
	case ECONNABORTED:
	case ENOTCONN:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case ENETDOWN:
	case ENETRESET:
		return true;
	default:
		return false;
	}
}

static bool is_out_of_resources(int e)
{
	return e == EMFILE || e == ENFILE || e == ENOMEM || e == ENOBUFS;
}

/* The verb's own rules; IO_OK here means "none of them applies". */
static enum io_outcome by_verb(enum io_verb verb, int e)
{
	switch (verb) {
	case IO_VERB_ACCEPT:
		return e == EAGAIN || e == EWOULDBLOCK || e == EINTR || e == ECONNABORTED ? IO_RETRY : IO_OK;
	case IO_VERB_RECV:
		if (e == ENOBUFS)
			return IO_NO_BUFFERS;
		return e == EAGAIN || e == EWOULDBLOCK || e == EINTR ? IO_RETRY : IO_OK;
	case IO_VERB_SEND:
		return e == EAGAIN || e == EWOULDBLOCK || e == EINTR ? IO_RETRY : IO_OK;
	case IO_VERB_WRITE:
	case IO_VERB_FSYNC:
		if (e == ENOSPC || e == EDQUOT)
			return IO_DISK_FULL;
		return e == EINTR ? IO_RETRY : e == EAGAIN || e == EWOULDBLOCK ? IO_FAILED : IO_OK;
	case IO_VERB_CONNECT:
		if (e == EINPROGRESS || e == EINTR)
			return IO_IN_PROGRESS;
		return e == EADDRNOTAVAIL || e == EAGAIN ? IO_NO_RESOURCES : IO_OK;
	case IO_VERB_CLOSE:
		return IO_FAILED;
	case IO_VERB_SETUP:
		return e == ENOSYS || e == EPERM || e == EINVAL || e == EOPNOTSUPP ? IO_UNSUPPORTED : IO_OK;
	case IO_VERB_WAIT:
		return e == EINTR || e == ETIME || e == EBUSY ? IO_RETRY : IO_OK;
	}
	return IO_OK;
}

enum io_outcome io_classify(enum io_verb verb, int res)
{
	if (res >= 0)
		return IO_OK;
	int e = -res;
	if (e == ECANCELED)
		return IO_CANCELED;
	enum io_outcome o = by_verb(verb, e);
	if (o != IO_OK)
		return o;
	if (is_peer_gone(e))
		return IO_PEER_GONE;
	return is_out_of_resources(e) ? IO_NO_RESOURCES : IO_FAILED;
}

const char *io_classify_name(enum io_outcome o)
{
	static const char *const names[] = {
		[IO_OK] = "ok",
		[IO_RETRY] = "retry",
		[IO_IN_PROGRESS] = "in progress",
		[IO_CANCELED] = "canceled",
		[IO_NO_BUFFERS] = "no buffers",
		[IO_NO_RESOURCES] = "no resources",
		[IO_PEER_GONE] = "peer gone",
		[IO_DISK_FULL] = "disk full",
		[IO_UNSUPPORTED] = "unsupported",
		[IO_FAILED] = "I/O error",
	};
	return (size_t)o < sizeof names / sizeof names[0] && names[o] != NULL ? names[o] : "?";
}
