/*
 * tests/io/engine_harness.c - a shard on a fake backend (engine_harness.h).
 *
 * The fake backend has epoll's shape, which io/backend.h allows: receiving
 * is switched on and off by recv_resume/recv_pause at once; a send, a
 * close and a spool write report back only when the test says (never from
 * inside the call that started them), as io_uring completions would.
 */
#define _GNU_SOURCE
#include "engine_harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "capture.h"
#include "fault_set.h"
#include "session_harness.h"
#include "spool.h"
#include "spool_format.h"

/* The backend ops have no context argument: one engine per test process. */
static struct engine *the_engine;

static struct engine_client *client_of(struct conn *c)
{
	for (unsigned i = 0; i < ENGINE_CLIENTS_MAX; i++)
		if (the_engine->clients[i].used && the_engine->clients[i].conn == c)
			return &the_engine->clients[i];
	fprintf(stderr, "engine harness: a connection without a client\n");
	abort();
}

static int fake_init(struct shard *sh)
{
	(void)sh;
	return 0;
}

static void fake_fini(struct shard *sh)
{
	(void)sh;
}

static int fake_run_once(struct shard *sh, unsigned timeout_ms)
{
	(void)sh;
	(void)timeout_ms;
	return 0;
}

static void fake_stop_accepting(struct shard *sh)
{
	(void)sh;
}

static void fake_send(struct conn *c)
{
	struct engine_client *k = client_of(c);
	if (k->send_pending) {
		fprintf(stderr, "engine harness: two sends in flight on one connection\n");
		abort();
	}
	k->send_pending = true;
	k->sends++;
	conn_op_start(c);
}

static void deliver_pending(struct engine_client *k);

static void fake_recv_resume(struct conn *c)
{
	if (c->recv_armed || !conn_wants_input(c))
		return;
	the_engine->recv_resumes++;
	c->recv_armed = true;
}

static void fake_recv_pause(struct conn *c)
{
	if (!c->recv_armed)
		return;
	the_engine->recv_pauses++;
	c->recv_armed = false;
}

static void fake_close(struct conn *c)
{
	struct engine_client *k = client_of(c);
	k->close_pending = true;
	c->recv_armed = false;
	conn_op_start(c);
}

static void fake_release_buf(struct shard *sh, uint16_t bid)
{
	sh->rbufs.free_stack[sh->rbufs.free_count++] = bid;
}

/* Write for real now; report when the test completes it. */
static void fake_spool_write(struct shard *sh, struct spool_batch *b)
{
	(void)sh;
	struct engine *e = the_engine;
	if (e->batch_count == ENGINE_BATCHES_MAX) {
		fprintf(stderr, "engine harness: too many spool batches in flight\n");
		abort();
	}
	struct engine_batch *eb = &e->batches[e->batch_count++];
	eb->b = b;
	ssize_t n = pwritev(b->seg_fd, b->iov, (int)b->iov_count, (off_t)b->offset);
	eb->write_res = n < 0 ? -errno : (int)n;
	eb->fsync_res = 0;
	if (e->fail_write != 0) {
		eb->write_res = e->fail_write;
		e->fail_write = 0;
	}
	if (b->fsync) {
		eb->fsync_res = eb->write_res < 0 ? -ECANCELED : (fdatasync(b->seg_fd) == 0 ? 0 : -errno);
		if (e->fail_fsync != 0 && eb->write_res >= 0) {
			eb->fsync_res = e->fail_fsync;
			e->fail_fsync = 0;
		}
	}
}

/* A spill write: done now, reported at the next pump. */
static void fake_file_write(struct shard *sh, struct io_op *op, int fd, const void *buf, size_t len, uint64_t off)
{
	(void)sh;
	struct engine *e = the_engine;
	if (e->spill_count == ENGINE_SPILLS_MAX) {
		fprintf(stderr, "engine harness: too many spill writes in flight\n");
		abort();
	}
	ssize_t n = pwrite(fd, buf, len, (off_t)off);
	e->spills[e->spill_count].op = op;
	e->spills[e->spill_count].res = n < 0 ? -errno : (int)n;
	if (e->fail_spill != 0) {
		e->spills[e->spill_count].res = e->fail_spill;
		e->fail_spill = 0;
	}
	e->spill_count++;
	e->spill_writes++;
}

static const struct backend_ops fake_ops = {
	.name = "fake",
	.init = fake_init,
	.fini = fake_fini,
	.run_once = fake_run_once,
	.stop_accepting = fake_stop_accepting,
	.send = fake_send,
	.recv_pause = fake_recv_pause,
	.recv_resume = fake_recv_resume,
	.close = fake_close,
	.release_buf = fake_release_buf,
	.spool_write = fake_spool_write,
	.file_write = fake_file_write,
};

static void set_clocks(struct engine *e)
{
	struct shard *sh = &e->sh;
	sh->mono_us = e->mono_us;
	sh->now_s = e->mono_us / 1000000u;
	sh->now_ms = e->mono_us / 1000u;
	sh->wall_us = e->wall_us;
}

static bool parse(struct engine *e, const char *const *args)
{
	char *argv[64];
	int argc = 0;
	argv[argc++] = (char *)"smtpsink";
	for (; args != NULL && *args != NULL && argc < 62; args++)
		argv[argc++] = (char *)*args;
	bool capture = true;
	for (int i = 1; i < argc; i++)
		capture = capture && strcmp(argv[i], "--discard") != 0;
	if (capture) {
		snprintf(e->spool_dir, sizeof e->spool_dir, "/tmp/engine-harness.XXXXXX");
		if (mkdtemp(e->spool_dir) == NULL)
			return false;
		argv[argc++] = (char *)"--spool";
		argv[argc++] = e->spool_dir;
	}
	argv[argc] = NULL;
	if (options_parse(argc, argv, &e->cfg) != 0)
		return false;
	e->cfg.listen_count = 0; /* no sockets: the test is the client */
	e->cfg.shards = 1;
	return true;
}

bool engine_init(struct engine *e, const char *const *args)
{
	char err[256];
	memset(e, 0, sizeof *e);
	the_engine = e;
	e->next_fd = 100;
	e->mono_us = 1000000000ull; /* not 0: "never" must differ from "now" */
	e->wall_us = 1764000000000000ull;
	if (!parse(e, args))
		return false;
	e->faults = fault_set_load(&e->cfg, 1, err, sizeof err);
	if (e->faults == NULL) {
		fprintf(stderr, "engine harness: %s\n", err);
		return false;
	}
	atomic_store(&e->shared.faults, e->faults);
	e->shared.seed = e->cfg.seed ? e->cfg.seed : 1;
	e->shared.wake_fd = -1;
	mem_budget_init(&e->shared.mem, e->cfg.memory_limit ? e->cfg.memory_limit : (64u << 20));
	if (throttle_init(&e->shared.msg_rate, e->cfg.msg_rate, false) != 0 ||
	    throttle_init(&e->shared.conn_rate, e->cfg.conn_rate, false) != 0 ||
	    throttle_init(&e->shared.client_msg_rate, e->cfg.client_msg_rate, true) != 0 ||
	    throttle_init(&e->shared.client_conn_rate, e->cfg.client_conn_rate, true) != 0 ||
	    throttle_conns_init(&e->shared.client_conns, e->cfg.client_max_conns) != 0 ||
	    trace_open(&e->shared.trace, &e->cfg) != 0)
		return false;
	if (shard_prepare(&e->sh, 0, &e->cfg, &e->shared, &fake_ops) != 0)
		return false;
	set_clocks(e);
	timer_wheel_init(&e->sh.timers, e->sh.now_s);
	timer_wheel_init(&e->sh.holds, e->sh.now_ms);
	e->sh.faults = e->faults;
	queue_id_init(&e->sh.qids, e->cfg.node_id, 0, e->sh.spool.qid_floor_us);
	return true;
}

/* Every client still connected resets; the spool finishes its work. */
static void end_everything(struct engine *e)
{
	for (unsigned i = 0; i < ENGINE_CLIENTS_MAX; i++) {
		e->clients[i].no_read = false; /* its last sends complete */
		if (e->clients[i].used && e->clients[i].conn != NULL && !e->clients[i].closed)
			engine_reset(e, (int)i);
	}
	engine_pump(e);
	for (int rounds = 0; rounds < 100 && (e->batch_count > 0 || !spool_idle(&e->sh.spool)); rounds++) {
		engine_spool_tick(e);
		engine_spool_complete(e);
	}
}

void engine_fini(struct engine *e)
{
	end_everything(e);
	if (e->sh.live_count != 0)
		fprintf(stderr, "engine harness: %u connections still live at the end\n", e->sh.live_count);
	for (unsigned i = 0; i < ENGINE_CLIENTS_MAX; i++) {
		free(e->clients[i].pending);
		free(e->clients[i].wire);
	}
	shard_release(&e->sh);
	throttle_fini(&e->shared.msg_rate);
	throttle_fini(&e->shared.conn_rate);
	throttle_fini(&e->shared.client_msg_rate);
	throttle_fini(&e->shared.client_conn_rate);
	throttle_conns_fini(&e->shared.client_conns);
	trace_close(&e->shared.trace);
	fault_set_free(e->faults);
	options_free(&e->cfg);
	if (e->spool_dir[0] != '\0') {
		char cmd[300];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", e->spool_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "engine harness: could not remove %s\n", e->spool_dir);
	}
	the_engine = NULL;
}

static void mark_freed(struct engine *e);

int engine_connect(struct engine *e, uint16_t port)
{
	return engine_connect_from(e, "127.0.0.1", port);
}

int engine_connect_from(struct engine *e, const char *addr, uint16_t port)
{
	mark_freed(e); /* a struct freed before may be handed out again now */
	unsigned i = 0;
	while (i < ENGINE_CLIENTS_MAX && e->clients[i].used)
		i++;
	if (i == ENGINE_CLIENTS_MAX)
		abort();
	struct engine_client *k = &e->clients[i];
	free(k->pending);
	free(k->wire);
	memset(k, 0, sizeof *k);
	k->used = true;
	k->fd = e->next_fd++;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
		abort();
	/* conn_on_accept calls back into the backend: find the client by
	 * its connection as soon as the shard has allocated it */
	k->conn = e->sh.conn_free;
	if (k->conn == NULL) { /* the slab grows on the first allocation */
		struct conn *c = shard_conn_alloc(&e->sh);
		shard_conn_free(&e->sh, c);
		k->conn = e->sh.conn_free;
	}
	if (!conn_on_accept(&e->sh, k->fd, (struct sockaddr *)&sa, sizeof sa, e->accept_tls))
		abort();
	return (int)i;
}

/* Hand what the client sent to the connection while it receives. */
static void deliver_pending(struct engine_client *k)
{
	struct shard *sh = &the_engine->sh;
	if (k->pending_len > 0 && k->conn != NULL && k->conn->recv_armed && sh->rbufs.free_count == 0) {
		shard_stats_add(&sh->stats.enobufs, 1); /* as a backend finds no buffer */
		sh->rbufs_short = true;
	}
	while (k->pending_len > 0 && k->conn != NULL && k->conn->recv_armed && sh->rbufs.free_count > 0) {
		uint16_t bid = sh->rbufs.free_stack[--sh->rbufs.free_count];
		size_t n = k->pending_len < sh->rbufs.buf_bytes ? k->pending_len : sh->rbufs.buf_bytes;
		memcpy(shard_rbuf(sh, bid), k->pending, n);
		memmove(k->pending, k->pending + n, k->pending_len - n);
		k->pending_len -= n;
		conn_on_recv(k->conn, bid, (uint32_t)n);
	}
}

void engine_send(struct engine *e, int client, const void *bytes, size_t len)
{
	struct engine_client *k = &e->clients[client];
	char *p = realloc(k->pending, k->pending_len + len);
	if (p == NULL)
		abort();
	memcpy(p + k->pending_len, bytes, len);
	k->pending = p;
	k->pending_len += len;
	deliver_pending(k);
}

void engine_send_str(struct engine *e, int client, const char *text)
{
	engine_send(e, client, text, strlen(text));
}

void engine_eof(struct engine *e, int client)
{
	struct engine_client *k = &e->clients[client];
	deliver_pending(k);
	if (k->conn != NULL && k->conn->recv_armed)
		conn_on_eof(k->conn);
}

void engine_reset(struct engine *e, int client)
{
	struct engine_client *k = &e->clients[client];
	if (k->conn != NULL && !conn_closing(k->conn))
		conn_on_error(k->conn, -ECONNRESET);
}

void engine_recv_stopped(struct engine *e, int client)
{
	struct engine_client *k = &e->clients[client];
	if (k->conn == NULL)
		return;
	k->conn->recv_armed = false;
	conn_on_recv_stopped(k->conn);
	deliver_pending(k);
}

/* The client received bytes. */
static void take(struct engine_client *k, const uint8_t *bytes, size_t n)
{
	if (k->wire_len + n + 1 > k->wire_cap) {
		size_t cap = k->wire_cap ? 2 * k->wire_cap : 4096;
		while (cap < k->wire_len + n + 1)
			cap *= 2;
		char *w = realloc(k->wire, cap);
		if (w == NULL)
			abort();
		k->wire = w;
		k->wire_cap = cap;
	}
	memcpy(k->wire + k->wire_len, bytes, n);
	k->wire_len += n;
	k->wire[k->wire_len] = '\0';
}

size_t engine_complete_send(struct engine *e, int client, size_t max)
{
	struct engine_client *k = &e->clients[client];
	if (!k->send_pending)
		return 0;
	struct conn *c = k->conn;
	size_t n = c->out_inflight < max ? c->out_inflight : max;
	take(k, conn_send_data(c), n);
	k->send_pending = false;
	conn_on_sent(c, (uint32_t)n);
	conn_op_end(c);
	deliver_pending(k);
	return n;
}

void engine_fail_send(struct engine *e, int client, int err)
{
	struct engine_client *k = &e->clients[client];
	if (!k->send_pending)
		return;
	k->send_pending = false;
	struct conn *c = k->conn;
	conn_on_send_error(c, err);
	conn_op_end(c);
}

/* The struct is gone: forget it (the slab may reuse it). */
static void mark_freed(struct engine *e)
{
	for (unsigned i = 0; i < ENGINE_CLIENTS_MAX; i++) {
		struct engine_client *k = &e->clients[i];
		if (k->used && k->conn != NULL && k->closed && k->conn->state == CONN_FREE) {
			k->freed = true;
			k->conn = NULL;
		}
	}
}

/* Spill writes done so far report back. */
static bool complete_spills(struct engine *e)
{
	unsigned n = e->spill_count;
	struct engine_spill done[ENGINE_SPILLS_MAX];
	memcpy(done, e->spills, n * sizeof done[0]);
	e->spill_count = 0;
	for (unsigned i = 0; i < n; i++)
		capture_on_spilled(done[i].op->owner, done[i].res);
	return n > 0;
}

/* One round of completions; true if anything happened. */
static bool pump_once(struct engine *e)
{
	bool any = !e->hold_spills && complete_spills(e);
	for (unsigned i = 0; i < ENGINE_CLIENTS_MAX; i++) {
		struct engine_client *k = &e->clients[i];
		if (!k->used || k->conn == NULL)
			continue;
		if (k->send_pending && !k->no_read) {
			engine_complete_send(e, (int)i, SIZE_MAX);
			any = true;
		} else if (k->close_pending) {
			k->close_pending = false;
			k->closed = true;
			conn_on_close_done(k->conn);
			any = true;
		} else if (k->pending_len > 0 && k->conn->recv_armed && e->sh.rbufs.free_count > 0) {
			deliver_pending(k);
			any = true;
		}
		mark_freed(e);
	}
	return any;
}

/* What the shard's loop does at the top of a turn: buffers ran short, so
 * every connection holding some gives them back. */
static bool loop_turn(struct engine *e)
{
	shard_check_stress(&e->sh);
	if (!e->sh.rbufs_short)
		return false;
	conn_input_reclaim(&e->sh);
	e->sh.rbufs_short = false;
	return true;
}

void engine_pump(struct engine *e)
{
	for (int rounds = 0; rounds < 10000 && (pump_once(e) || loop_turn(e)); rounds++)
		;
}

void engine_spool_tick(struct engine *e)
{
	spool_tick(&e->sh);
}

void engine_spool_complete(struct engine *e)
{
	unsigned n = e->batch_count;
	struct engine_batch done[ENGINE_BATCHES_MAX];
	memcpy(done, e->batches, n * sizeof done[0]);
	e->batch_count = 0;
	for (unsigned i = 0; i < n; i++) {
		struct spool_batch *b = done[i].b;
		bool fsync = b->fsync; /* b may be refilled by the completions */
		spool_on_write(&e->sh, b, done[i].write_res);
		if (fsync)
			spool_on_fsync(&e->sh, b, done[i].fsync_res);
	}
	engine_pump(e);
}

static void fire(void *ctx, struct timer_node *node)
{
	(void)ctx;
	conn_on_timer((struct conn *)((char *)node - offsetof(struct conn, timer)));
}

static void fire_hold(void *ctx, struct timer_node *node)
{
	(void)ctx;
	conn_on_hold_done((struct conn *)((char *)node - offsetof(struct conn, timer)));
}

static void move_clock(struct engine *e, uint64_t ms, bool pump)
{
	uint64_t end = e->mono_us + ms * 1000u;
	while (e->mono_us < end) { /* a millisecond at a time: holds fire in order */
		e->mono_us += 1000u;
		e->wall_us += 1000u;
		set_clocks(e);
		timer_wheel_advance(&e->sh.timers, e->sh.now_s, fire, NULL);
		timer_wheel_advance(&e->sh.holds, e->sh.now_ms, fire_hold, NULL);
		if (pump)
			engine_pump(e);
	}
}

void engine_advance(struct engine *e, uint64_t ms)
{
	move_clock(e, ms, true);
}

void engine_tick(struct engine *e, uint64_t ms)
{
	move_clock(e, ms, false);
}

const char *engine_reply(struct engine *e, int client)
{
	static char reply[ENGINE_REPLY_BYTES];
	struct engine_client *k = &e->clients[client];
	if (k->wire == NULL)
		return "";
	const char *p = k->wire + k->wire_read;
	size_t n = 0;
	for (;;) { /* lines until one whose fourth byte is a space */
		const char *lf = strchr(p + n, '\n');
		if (lf == NULL)
			return "";
		size_t line = (size_t)(lf - (p + n)) + 1;
		bool last = line < 4 || p[n + 3] != '-';
		n += line;
		if (last)
			break;
	}
	k->wire_read += n;
	if (n >= sizeof reply)
		n = sizeof reply - 1; /* a test reads the start of a long reply */
	memcpy(reply, p, n);
	reply[n] = '\0';
	return reply;
}

const char *engine_wire(const struct engine *e, int client)
{
	return e->clients[client].wire != NULL ? e->clients[client].wire : "";
}

/* Append a view to a comma-separated list in buf. */
static void add_text(char *buf, size_t cap, struct smtp_view v)
{
	size_t n = strlen(buf);
	snprintf(buf + n, cap - n, "%s%.*s", n ? "," : "", (int)v.len, (const char *)v.ptr);
}

/* One record: counted; the i-th message's recipients and body kept. */
static void take_record(const struct spool_record *rec, unsigned i, struct engine_spooled *out)
{
	if (rec->flags & SPOOL_FLAG_SESSION) {
		out->sessions++;
		return;
	}
	if (out->messages++ != i)
		return;
	size_t pos = 0;
	uint8_t tag;
	struct smtp_view v;
	bool bad = false;
	while (spool_meta_next(rec, &pos, &tag, &v, &bad))
		if (tag == SPOOL_TAG_RCPT) {
			out->rcpt_count++;
			add_text(out->rcpts, sizeof out->rcpts, v);
		}
	size_t shown = rec->body_len < sizeof out->body - 1 ? (size_t)rec->body_len : sizeof out->body - 1;
	memcpy(out->body, rec->body, shown);
	out->body[shown] = '\0';
	out->body_len = rec->body_len;
	out->body_hash = XXH3_64bits(rec->body, (size_t)rec->body_len);
}

static bool read_segment(int dir, const char *name, unsigned i, struct engine_spooled *out)
{
	int fd = openat(dir, name, O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0)
		return false;
	uint8_t *img = malloc((size_t)st.st_size + 1);
	bool ok = img != NULL && pread(fd, img, (size_t)st.st_size, 0) == st.st_size;
	close(fd);
	for (size_t off = SPOOL_SEGMENT_HEADER_BYTES; ok && off < (size_t)st.st_size;) {
		struct spool_record rec;
		enum spool_verdict v = spool_record_decode(img + off, (size_t)st.st_size - off, &rec);
		if (v == SPOOL_END)
			break;
		ok = v == SPOOL_OK;
		if (ok)
			take_record(&rec, i, out);
		off += rec.record_len;
	}
	free(img);
	return ok;
}

bool engine_spool_read(struct engine *e, unsigned i, struct engine_spooled *out)
{
	char path[300];
	memset(out, 0, sizeof *out);
	snprintf(path, sizeof path, "%s/shard-00", e->spool_dir);
	DIR *d = opendir(path);
	if (d == NULL)
		return false;
	char names[64][64];
	unsigned n = 0;
	for (struct dirent *de; (de = readdir(d)) != NULL && n < 64;) {
		size_t len = strlen(de->d_name);
		if (len > 4 && len < sizeof names[0] && strcmp(de->d_name + len - 4, ".seg") == 0)
			memcpy(names[n++], de->d_name, len + 1);
	}
	qsort(names, n, sizeof names[0], (int (*)(const void *, const void *))strcmp);
	bool ok = true;
	for (unsigned j = 0; j < n && ok; j++)
		ok = read_segment(dirfd(d), names[j], i, out);
	closedir(d);
	return ok;
}

bool engine_check_reply(struct engine *e, int client, const char *prefix, const char *file, int line)
{
	const char *r = engine_reply(e, client);
	bool ok = prefix == NULL ? r[0] == '\0' : strncmp(r, prefix, strlen(prefix)) == 0;
	if (!harness_check(ok, file, line, prefix != NULL ? prefix : "no reply yet"))
		fprintf(stderr, "    got: '%s'\n", r);
	return ok;
}

int engine_connect_greeted(struct engine *e, uint16_t port)
{
	int k = engine_connect(e, port);
	engine_pump(e);
	ENGINE_CHECK_REPLY(e, k, "220 smtpsink");
	return k;
}
