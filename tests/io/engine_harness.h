/*
 * tests/io/engine_harness.h - a shard driven by a fake backend, for C
 * tests of the engine (io/conn*.c, io/spool.c) without sockets or a ring.
 *
 * Owns: a real struct shard (its pools, wheels, queue IDs, spool in a
 * temporary directory in capture mode) whose backend_ops are the test's:
 * a client per connection that sends bytes when the test says, a send
 * that stays in flight until the test completes it (whole, short, or
 * failed), receiving that is on or off as the connection asks (bytes the
 * client sent while it was off wait, as in a kernel socket buffer), a close
 * that completes when the test pumps, spool writes that are done for real
 * (pwritev, fdatasync) but reported only when the test completes them,
 * with any result it chooses; and a fake clock that drives the timer and
 * hold wheels.  It never decides what the server should say: tests read
 * the bytes each client received.
 *
 * Workload: a few connections and messages per test.
 */
#ifndef SMTPSINK_TESTS_ENGINE_HARNESS_H
#define SMTPSINK_TESTS_ENGINE_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "server_config.h"
#include "shard.h"

#define ENGINE_CLIENTS_MAX 128u
#define ENGINE_REPLY_BYTES 8192u /* engine_reply() returns at most this */
#define ENGINE_BATCHES_MAX 16u

/* One client: what it sent that the server did not take yet, what it
 * received, and where its connection is. */
struct engine_client {
	struct conn *conn; /* NULL once the server freed it */
	int fd;
	bool used;
	bool closed; /* the server closed the connection */
	bool freed; /* ... and freed the struct */
	char *pending; /* bytes sent, not yet received by the server */
	size_t pending_len;
	char *wire; /* bytes the client received, NUL-ended (heap) */
	size_t wire_len, wire_cap;
	size_t wire_read; /* engine_reply() has read this far */
	uint32_t sends; /* send operations the server started */
	bool send_pending; /* a send is in flight */
	bool close_pending; /* the backend close is in flight */
	bool no_read; /* the client never reads: pumping leaves its sends in flight */
};

struct engine_batch {
	struct spool_batch *b;
	int write_res, fsync_res; /* what the disk said */
};

#define ENGINE_SPILLS_MAX 64u

struct engine_spill {
	struct io_op *op;
	int res;
};

struct engine {
	struct server_config cfg;
	struct server_shared shared;
	struct shard sh;
	struct fault_set *faults;
	char spool_dir[256];
	uint64_t mono_us, wall_us; /* the fake clock */
	struct engine_client clients[ENGINE_CLIENTS_MAX];
	struct engine_batch batches[ENGINE_BATCHES_MAX];
	unsigned batch_count; /* written, completions not yet delivered */
	int next_fd;
	/* the next spool write/fsync results (0: as the disk says) */
	int fail_write, fail_fsync;
	uint32_t recv_pauses, recv_resumes;
	struct engine_spill spills[ENGINE_SPILLS_MAX]; /* spill writes done, not yet reported */
	unsigned spill_count;
	uint64_t spill_writes; /* all of them */
	bool hold_spills; /* pumping does not report spill writes (a slow disk) */
	int fail_spill; /* the next spill write's result (0: as the disk says) */
	bool accept_tls; /* the next connections come to a --listen-tls address */
};

/* Set up from command-line options (as the server would parse them, after
 * "smtpsink"); capture mode spools into a fresh temporary directory.
 * False (with a message) if the set-up failed. */
bool engine_init(struct engine *e, const char *const *args);
void engine_fini(struct engine *e);

/* A client connects from 127.0.0.1:port (or addr:port); returns its
 * index. */
int engine_connect(struct engine *e, uint16_t port);
int engine_connect_from(struct engine *e, const char *addr, uint16_t port);
/* The client sends bytes: delivered at once if the connection receives,
 * else when it asks again (in receive buffers of the shard's size). */
void engine_send(struct engine *e, int client, const void *bytes, size_t len);
void engine_send_str(struct engine *e, int client, const char *text);
/* The client closes its side (EOF) or resets the connection. */
void engine_eof(struct engine *e, int client);
void engine_reset(struct engine *e, int client);
/* The multishot receive ended without an error (ENOBUFS parked and came
 * back, or the kernel ended it): the connection must ask again. */
void engine_recv_stopped(struct engine *e, int client);

/* Complete the client's send in flight with at most max bytes (short
 * send), or fail it; returns the bytes completed. */
size_t engine_complete_send(struct engine *e, int client, size_t max);
void engine_fail_send(struct engine *e, int client, int err);
/* Complete every send (in full), spill write (unless hold_spills) and
 * close, and deliver pending input, until nothing more happens.  Spool
 * batches are not completed. */
void engine_pump(struct engine *e);
/* Deliver the completions of every spool batch written so far (then pump):
 * the results set in fail_write/fail_fsync, once, else the disk's. */
void engine_spool_complete(struct engine *e);
/* One loop turn of the spool (submit the next batch). */
void engine_spool_tick(struct engine *e);

/* Move the fake clock on by ms, a millisecond at a time, firing what is
 * due (timers, holds) and pumping after each; engine_tick does not pump
 * (a client that reads nothing meanwhile). */
void engine_advance(struct engine *e, uint64_t ms);
void engine_tick(struct engine *e, uint64_t ms);

/* What the spool holds (every segment of shard 0, read through core's
 * decoder): message and session records, and for the message with index
 * i its recipients (comma-separated) and body. */
struct engine_spooled {
	unsigned messages, sessions;
	unsigned rcpt_count; /* the i-th message's */
	char rcpts[512]; /* ... the first of them, comma-separated */
	char body[512]; /* its start */
	uint64_t body_len;
	uint64_t body_hash; /* XXH3-64 of the whole body */
};
bool engine_spool_read(struct engine *e, unsigned i, struct engine_spooled *out);

/* The client's next complete reply (all its lines), or "" if none has
 * arrived whole; advances past it. */
const char *engine_reply(struct engine *e, int client);
/* Everything the client received. */
const char *engine_wire(const struct engine *e, int client);

/* Checks for tests (counted by session_harness.h's framework): the
 * client's next reply starts with prefix, or no reply has come. */
#define ENGINE_CHECK_REPLY(e, k, prefix) engine_check_reply((e), (k), (prefix), __FILE__, __LINE__)
#define ENGINE_CHECK_NOTHING(e, k) engine_check_reply((e), (k), NULL, __FILE__, __LINE__)
bool engine_check_reply(struct engine *e, int client, const char *prefix, const char *file, int line);
/* The client sends a line, everything is pumped, its reply is checked. */
#define ENGINE_CMD(e, k, line, prefix) \
	(engine_send_str((e), (k), (line)), engine_pump(e), ENGINE_CHECK_REPLY((e), (k), (prefix)))
/* A client that connected and got the banner. */
int engine_connect_greeted(struct engine *e, uint16_t port);

#endif
