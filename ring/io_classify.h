/*
 * ring/io_classify.h - what an operation's result means, decided in one
 * place for every loop (server and generator, io_uring and epoll).
 *
 * Owns: the mapping from (verb, result) to an outcome: which errno values
 * mean "try again", "you cancelled it", "out of buffers", "out of
 * descriptors or memory", "the peer is gone", "the disk is full", "this
 * kernel cannot do it", or a plain I/O error.  The same errno can mean
 * different things for different verbs (ENOBUFS: a dry buffer ring for a
 * multishot recv, kernel memory for accept), so the verb is part of the
 * question.
 *
 * Does not: act on the outcome (the caller re-arms, parks, pauses its
 * listeners, answers 452...), log, or count.
 *
 * Invariants: every result has exactly one outcome; res >= 0 is always
 * IO_OK (recv's 0, end of stream, included: the caller knows what 0 means
 * for its verb).
 */
#ifndef SMTPSINK_IO_CLASSIFY_H
#define SMTPSINK_IO_CLASSIFY_H

enum io_verb {
	IO_VERB_ACCEPT, /* accept(2), IORING_OP_ACCEPT */
	IO_VERB_RECV, /* recv on a socket (multishot included), read from a pipe */
	IO_VERB_SEND, /* send on a socket */
	IO_VERB_WRITE, /* a blocking write to a file or pipe (spool, trace, logs) */
	IO_VERB_FSYNC, /* fdatasync, also when linked behind a write */
	IO_VERB_CONNECT, /* connect(2) on a non-blocking socket, or its SO_ERROR */
	IO_VERB_CLOSE,
	IO_VERB_SETUP, /* creating a ring, probing what the kernel offers */
	IO_VERB_WAIT, /* waiting for completions or readiness (io_uring_enter, epoll_wait) */
};

enum io_outcome {
	IO_OK, /* res >= 0 */
	IO_RETRY, /* nothing happened: do it again (at once, or when ready) */
	IO_IN_PROGRESS, /* connect: under way, wait for writability */
	IO_CANCELED, /* we cancelled it (or an earlier link failed) */
	IO_NO_BUFFERS, /* recv: the provided-buffer ring ran dry */
	IO_NO_RESOURCES, /* out of descriptors or memory: back off a while */
	IO_PEER_GONE, /* the other end reset, went away or cannot be reached */
	IO_DISK_FULL, /* ENOSPC, EDQUOT */
	IO_UNSUPPORTED, /* setup: this kernel or sandbox cannot do it */
	IO_FAILED, /* anything else: an I/O error */
};

/* The outcome of verb's result res (bytes or 0, else -errno). */
enum io_outcome io_classify(enum io_verb verb, int res);

/* Its name, for messages and tests ("retry", "peer gone", ...). */
const char *io_classify_name(enum io_outcome o);

#endif
