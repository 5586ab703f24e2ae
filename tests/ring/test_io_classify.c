/*
 * tests/ring/test_io_classify.c - the one errno classification
 * (ring/io_classify.c).
 *
 * Owns: one table row per (verb, result) that a loop acts on, so that a
 * changed rule fails here before it changes a loop's behaviour: every verb's
 * success, cancellation and fall-through to an I/O error; the errno values
 * whose meaning depends on the verb (ENOBUFS, EAGAIN, EINTR, ECONNABORTED,
 * EINVAL); and the outcome names.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "io_classify.h"
#include "session_harness.h"

struct row {
	enum io_verb verb;
	int res;
	enum io_outcome want;
};

static const struct row rows[] = {
	/* results that are not errors */
	{ IO_VERB_ACCEPT, 7, IO_OK },
	{ IO_VERB_RECV, 0, IO_OK }, /* end of stream: the caller's to read */
	{ IO_VERB_RECV, 4096, IO_OK },
	{ IO_VERB_SEND, 1, IO_OK },
	{ IO_VERB_WRITE, 0, IO_OK },
	{ IO_VERB_FSYNC, 0, IO_OK },
	{ IO_VERB_CONNECT, 0, IO_OK },
	{ IO_VERB_CLOSE, 0, IO_OK },
	{ IO_VERB_SETUP, 0, IO_OK },
	{ IO_VERB_WAIT, 1, IO_OK },
	/* cancelled: the same for every verb */
	{ IO_VERB_ACCEPT, -ECANCELED, IO_CANCELED },
	{ IO_VERB_RECV, -ECANCELED, IO_CANCELED },
	{ IO_VERB_SEND, -ECANCELED, IO_CANCELED },
	{ IO_VERB_WRITE, -ECANCELED, IO_CANCELED },
	{ IO_VERB_FSYNC, -ECANCELED, IO_CANCELED }, /* the write linked before it failed */
	{ IO_VERB_CONNECT, -ECANCELED, IO_CANCELED },
	{ IO_VERB_CLOSE, -ECANCELED, IO_CANCELED },
	/* accept */
	{ IO_VERB_ACCEPT, -EAGAIN, IO_RETRY },
	{ IO_VERB_ACCEPT, -EINTR, IO_RETRY },
	{ IO_VERB_ACCEPT, -ECONNABORTED, IO_RETRY }, /* not "peer gone": take the next one */
	{ IO_VERB_ACCEPT, -EMFILE, IO_NO_RESOURCES },
	{ IO_VERB_ACCEPT, -ENFILE, IO_NO_RESOURCES },
	{ IO_VERB_ACCEPT, -ENOMEM, IO_NO_RESOURCES },
	{ IO_VERB_ACCEPT, -ENOBUFS, IO_NO_RESOURCES }, /* kernel memory, not a buffer ring */
	{ IO_VERB_ACCEPT, -EBADF, IO_FAILED },
	{ IO_VERB_ACCEPT, -EINVAL, IO_FAILED },
	/* recv */
	{ IO_VERB_RECV, -ENOBUFS, IO_NO_BUFFERS },
	{ IO_VERB_RECV, -EAGAIN, IO_RETRY },
	{ IO_VERB_RECV, -EWOULDBLOCK, IO_RETRY },
	{ IO_VERB_RECV, -EINTR, IO_RETRY },
	{ IO_VERB_RECV, -ECONNRESET, IO_PEER_GONE },
	{ IO_VERB_RECV, -ETIMEDOUT, IO_PEER_GONE },
	{ IO_VERB_RECV, -ECONNABORTED, IO_PEER_GONE },
	{ IO_VERB_RECV, -ENOMEM, IO_NO_RESOURCES },
	{ IO_VERB_RECV, -EBADF, IO_FAILED },
	/* send */
	{ IO_VERB_SEND, -EAGAIN, IO_RETRY },
	{ IO_VERB_SEND, -EINTR, IO_RETRY },
	{ IO_VERB_SEND, -EPIPE, IO_PEER_GONE },
	{ IO_VERB_SEND, -ECONNRESET, IO_PEER_GONE },
	{ IO_VERB_SEND, -ENOBUFS, IO_NO_RESOURCES },
	{ IO_VERB_SEND, -EIO, IO_FAILED },
	/* write and fsync: blocking descriptors */
	{ IO_VERB_WRITE, -EINTR, IO_RETRY },
	{ IO_VERB_WRITE, -EAGAIN, IO_FAILED }, /* never spun on */
	{ IO_VERB_WRITE, -ENOSPC, IO_DISK_FULL },
	{ IO_VERB_WRITE, -EDQUOT, IO_DISK_FULL },
	{ IO_VERB_WRITE, -EIO, IO_FAILED },
	{ IO_VERB_WRITE, -EPIPE, IO_PEER_GONE }, /* a trace reader went away */
	{ IO_VERB_FSYNC, -ENOSPC, IO_DISK_FULL },
	{ IO_VERB_FSYNC, -EDQUOT, IO_DISK_FULL },
	{ IO_VERB_FSYNC, -EIO, IO_FAILED },
	{ IO_VERB_FSYNC, -EINTR, IO_RETRY },
	/* connect */
	{ IO_VERB_CONNECT, -EINPROGRESS, IO_IN_PROGRESS },
	{ IO_VERB_CONNECT, -EINTR, IO_IN_PROGRESS },
	{ IO_VERB_CONNECT, -ECONNREFUSED, IO_PEER_GONE },
	{ IO_VERB_CONNECT, -EHOSTUNREACH, IO_PEER_GONE },
	{ IO_VERB_CONNECT, -ENETUNREACH, IO_PEER_GONE },
	{ IO_VERB_CONNECT, -ETIMEDOUT, IO_PEER_GONE },
	{ IO_VERB_CONNECT, -EADDRNOTAVAIL, IO_NO_RESOURCES },
	{ IO_VERB_CONNECT, -EAGAIN, IO_NO_RESOURCES },
	{ IO_VERB_CONNECT, -EMFILE, IO_NO_RESOURCES },
	{ IO_VERB_CONNECT, -EACCES, IO_FAILED },
	/* close: never retried */
	{ IO_VERB_CLOSE, -EINTR, IO_FAILED },
	{ IO_VERB_CLOSE, -EBADF, IO_FAILED },
	/* setup: what makes --io auto fall back, and what does not */
	{ IO_VERB_SETUP, -ENOSYS, IO_UNSUPPORTED },
	{ IO_VERB_SETUP, -EPERM, IO_UNSUPPORTED },
	{ IO_VERB_SETUP, -EINVAL, IO_UNSUPPORTED },
	{ IO_VERB_SETUP, -EOPNOTSUPP, IO_UNSUPPORTED },
	{ IO_VERB_SETUP, -ENOMEM, IO_NO_RESOURCES }, /* not a reason to run another engine */
	{ IO_VERB_SETUP, -EMFILE, IO_NO_RESOURCES },
	{ IO_VERB_SETUP, -EFAULT, IO_FAILED },
	/* wait */
	{ IO_VERB_WAIT, -EINTR, IO_RETRY },
	{ IO_VERB_WAIT, -ETIME, IO_RETRY },
	{ IO_VERB_WAIT, -EBUSY, IO_RETRY },
	{ IO_VERB_WAIT, -EBADF, IO_FAILED },
	{ IO_VERB_WAIT, -EINVAL, IO_FAILED },
};

static void test_rows(void)
{
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		const struct row *r = &rows[i];
		enum io_outcome got = io_classify(r->verb, r->res);
		if (!CHECK_U64(got, r->want))
			fprintf(stderr, "  row %zu: verb %d, %s: got %s, want %s\n", i, (int)r->verb, strerror(-r->res),
				io_classify_name(got), io_classify_name(r->want));
	}
}

/* Every non-negative result is IO_OK, whatever the verb. */
static void test_success_any_verb(void)
{
	static const int results[] = { 0, 1, 65536, 2147483647 };
	unsigned bad = 0;
	for (int v = IO_VERB_ACCEPT; v <= IO_VERB_WAIT; v++)
		for (size_t i = 0; i < sizeof results / sizeof results[0]; i++)
			bad += io_classify((enum io_verb)v, results[i]) != IO_OK;
	CHECK_U64(bad, 0);
}

static void test_names(void)
{
	CHECK(strcmp(io_classify_name(IO_OK), "ok") == 0);
	CHECK(strcmp(io_classify_name(IO_DISK_FULL), "disk full") == 0);
	CHECK(strcmp(io_classify_name(IO_FAILED), "I/O error") == 0);
	CHECK(strcmp(io_classify_name((enum io_outcome)99), "?") == 0);
	unsigned unnamed = 0;
	for (int o = IO_OK; o <= IO_FAILED; o++)
		unnamed += strcmp(io_classify_name((enum io_outcome)o), "?") == 0;
	CHECK_U64(unnamed, 0);
}

int main(void)
{
	test_rows();
	test_success_any_verb();
	test_names();
	return harness_finish("io_classify");
}
