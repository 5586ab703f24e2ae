/*
 * bench/bench_loop.c - one worker's event loop (see bench_loop.h).
 *
 * Owns the rules that make one client code path serve both backends:
 *  - Output: a session writes only when no send is in flight; the write is
 *    sent whole (continued after a short send) before the next one is made.
 *  - Input: received bytes are fed to the session at once and never kept.
 *  - TLS: once a handshake has begun (at connect with --tls, after
 *    STARTTLS's 220 with --starttls) received bytes go to bench_tls.c,
 *    which feeds the session what it decrypts, and the session's writes
 *    leave sealed from the connection's ciphertext buffer.  A session lost
 *    while its handshake runs counts as a failed handshake (count_lost).
 *  - Slots: FREE -> CONNECTING -> OPEN -> CLOSING -> FREE (or RETIRED); a
 *    slot is reused only after the backend said nothing refers to it.
 *  - Time: now_ns is read once per loop turn, right after the wait, so a
 *    reply's latency includes the generator's own time to reach it in that
 *    turn (microseconds) and nothing else.
 * Expected workload: per message a few replies in, one or a few sends out;
 * per loop turn one wait, then every completion that arrived.
 */
#define _GNU_SOURCE
#include "bench_loop.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CONNECTS_IN_FLIGHT_MAX 1024u /* below any server's listen backlog */
#define TICK_NS 1000000000ull
#define OUT_ALIGN_BYTES 64u

uint64_t bench_clock_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- the session's hooks ---------------------------------------------- */

static void count_reply(struct bench_stats *st, unsigned code)
{
	st->c.replies[code >= 100 && code < BENCH_REPLY_CODES ? code : 0]++;
}

static void on_event(void *ctx, const struct client_event *ev)
{
	struct bench_conn *c = ctx;
	struct bench_loop *l = c->loop;
	struct bench_stats *st = l->stats;
	switch (ev->type) {
	case CLIENT_EV_REPLY:
		count_reply(st, ev->code);
		hdr_record(&st->lat[ev->step], ev->latency_ns);
		if (!ev->expected)
			st->c.errors[BENCH_ERR_UNEXPECTED_REPLY]++;
		break;
	case CLIENT_EV_MESSAGE:
		st->c.messages++;
		st->c.message_bytes += ev->size_bytes;
		st->c.end_ns = l->now_ns;
		hdr_record(&st->lat[CLIENT_STEP_MESSAGE], ev->latency_ns);
		c->session_msgs++;
		if (l->qlog != NULL)
			bench_qidlog_add(l->qlog, ev->qid, ev->qid_len, ev->seq);
		break;
	case CLIENT_EV_TXN_FAILED:
		st->c.txn_failed++;
		st->c.end_ns = l->now_ns;
		break;
	case CLIENT_EV_ERROR:
		if (ev->error == CLIENT_ERR_MALFORMED_REPLY)
			st->c.errors[BENCH_ERR_MALFORMED_REPLY]++;
		else if (ev->error == CLIENT_ERR_EXTENSION_MISSING)
			st->c.errors[BENCH_ERR_EXTENSION_MISSING]++;
		else
			st->c.errors[BENCH_ERR_UNEXPECTED_REPLY]++;
		if (ev->code != 0)
			count_reply(st, ev->code);
		break;
	}
}

/* The schedule's next message; in open loop, note when it started and how
 * late (the run's rate check, bench_sched_rate_reached()). */
static enum client_src take_msg(struct bench_loop *l, struct client_msg *m)
{
	enum client_src r = bench_sched_next(&l->sched, l->now_ns, m);
	if (r != CLIENT_SRC_MSG || l->cfg->rate <= 0)
		return r;
	struct bench_counts *c = &l->stats->c;
	uint64_t lag = l->now_ns - m->intended_ns;
	c->sched_last_ns = l->now_ns;
	if (lag > c->sched_lag_max_ns)
		c->sched_lag_max_ns = lag;
	return r;
}

static enum client_src next_msg(void *ctx, struct client_msg *m)
{
	struct bench_conn *c = ctx;
	struct bench_loop *l = c->loop;
	enum client_src r;
	if (l->cfg->mode == CLIENT_MODE_CONNECT) {
		if (!c->has_msg)
			return CLIENT_SRC_DONE;
		*m = c->msg;
		c->has_msg = false;
		r = CLIENT_SRC_MSG;
	} else if (!l->warm) {
		return CLIENT_SRC_WAIT;
	} else {
		r = take_msg(l, m);
	}
	if (r == CLIENT_SRC_MSG)
		l->stats->c.txn_started++;
	return r;
}

static const struct client_hooks hooks = { on_event, next_msg };

/* ---- output ----------------------------------------------------------- */

void bench_loop_out_iov(struct bench_conn *c)
{
	const struct client_out *o = &c->out;
	const uint8_t *base[BENCH_CONN_IOV_MAX] = { o->buf, o->body, o->buf + o->body_at };
	size_t len[BENCH_CONN_IOV_MAX] = { o->body_at, o->body_len, o->len - o->body_at };
	if (o->body_len == 0) {
		len[0] = o->len;
		len[2] = 0;
	}
	size_t skip = c->out_off;
	c->iov_count = 0;
	for (unsigned i = 0; i < BENCH_CONN_IOV_MAX; i++) {
		if (skip >= len[i]) {
			skip -= len[i];
			continue;
		}
		c->iov[c->iov_count++] = (struct iovec){ (void *)(base[i] + skip), len[i] - skip };
		skip = 0;
	}
}

static void start_send(struct bench_conn *c)
{
	if (c->tls.inflight)
		bench_tls_iov(c);
	else
		bench_loop_out_iov(c);
	c->sending = true;
	c->last_ns = c->loop->now_ns;
	c->loop->ops->send(c);
}

static void close_conn(struct bench_conn *c)
{
	if (c->state != BENCH_CONN_OPEN && c->state != BENCH_CONN_CONNECTING)
		return;
	c->state = BENCH_CONN_CLOSING;
	c->loop->ops->close(c);
}

/* Count a session lost for kind.  A handshake that never completed is
 * also a TLS failure, and of kind tls_handshake unless it timed out. */
static void count_lost(struct bench_conn *c, enum bench_error kind)
{
	struct bench_counts *k = &c->loop->stats->c;
	if (c->tls.phase == BENCH_TLS_HANDSHAKE) {
		k->tls_failed++;
		if (kind != BENCH_ERR_TIMEOUT)
			kind = BENCH_ERR_TLS_HANDSHAKE;
		c->tls.phase = BENCH_TLS_OFF; /* counted once */
	}
	k->errors[kind]++;
}

/* The session cannot go on: count why, fail what it had in flight, close. */
static void lose(struct bench_conn *c, enum bench_error kind)
{
	count_lost(c, kind);
	client_proto_abort(&c->proto);
	close_conn(c);
}

/* Idle sessions queue in FIFO order, so an open-loop run spreads its
 * messages over every connection instead of reusing the hottest one. */
static void list_idle(struct bench_conn *c)
{
	struct bench_loop *l = c->loop;
	if (c->idle_listed)
		return;
	c->idle_listed = true;
	l->idle[(l->idle_head + l->idle_count++) % l->conn_count] = c->index;
}

static struct bench_conn *unlist_idle(struct bench_loop *l)
{
	struct bench_conn *c = &l->conns[l->idle[l->idle_head]];
	l->idle_head = (l->idle_head + 1) % l->conn_count;
	l->idle_count--;
	c->idle_listed = false;
	return c;
}

/* No send in flight: begin STARTTLS's handshake once its 220 is in, let
 * the session write when its last write is all gone, and send (in clear,
 * or through TLS). */
static void output(struct bench_conn *c)
{
	struct bench_loop *l = c->loop;
	if (c->tls.phase == BENCH_TLS_OFF && client_proto_status(&c->proto) == CLIENT_STARTTLS &&
	    !bench_tls_begin(l->tls, c, l->now_ns)) {
		lose(c, BENCH_ERR_TLS_HANDSHAKE);
		return;
	}
	if (c->out_off >= client_out_total(&c->out) && client_proto_want_write(&c->proto)) {
		client_out_reset(&c->out);
		client_proto_write(&c->proto, &c->out, l->now_ns);
		c->out_off = 0;
	}
	if (c->tls.phase == BENCH_TLS_OFF) {
		if (c->out_off < client_out_total(&c->out))
			start_send(c);
		return;
	}
	int r = bench_tls_output(l->tls, c);
	if (r > 0)
		start_send(c);
	else if (r < 0)
		lose(c, BENCH_ERR_IO);
}

/* After anything happened to c: write what the session wants, then act on
 * its status. */
static void pump(struct bench_conn *c)
{
	if (c->state == BENCH_CONN_OPEN && !c->sending)
		output(c);
	if (c->state != BENCH_CONN_OPEN)
		return;
	switch (client_proto_status(&c->proto)) {
	case CLIENT_IDLE:
		list_idle(c);
		break;
	case CLIENT_FAILED:
		close_conn(c);
		break;
	case CLIENT_DONE: /* leave the close (and TIME_WAIT) to the server */
		if (c->peer_eof)
			close_conn(c);
		break;
	case CLIENT_ACTIVE:
	case CLIENT_STARTTLS:
		break;
	}
}

/* ---- backend -> loop -------------------------------------------------- */

static void check_warm(struct bench_loop *l);

void bench_loop_on_connected(struct bench_conn *c, int res)
{
	struct bench_loop *l = c->loop;
	l->connecting--;
	if (c->state == BENCH_CONN_CONNECTING) {
		if (res < 0) {
			l->stats->c.errors[BENCH_ERR_CONNECT]++;
			close_conn(c);
		} else {
			l->stats->c.sessions++;
			hdr_record(&l->stats->lat[CLIENT_STEP_CONNECT], l->now_ns - c->connect_ns);
			c->state = BENCH_CONN_OPEN;
			c->last_ns = l->now_ns;
			client_proto_init(&c->proto, &l->ccfg, &hooks, c, l->now_ns);
			if (l->cfg->tls == BENCH_TLS_IMPLICIT && !bench_tls_begin(l->tls, c, l->now_ns))
				lose(c, BENCH_ERR_TLS_HANDSHAKE);
			else if (l->cfg->tls == BENCH_TLS_IMPLICIT)
				pump(c); /* the ClientHello */
		}
	}
	check_warm(l);
}

/* Received bytes through TLS; false if the session ended. */
static bool tls_input(struct bench_conn *c, const uint8_t *p, size_t n)
{
	switch (bench_tls_input(c->loop->tls, c, p, n)) {
	case BENCH_TLS_IN_OK:
		return true;
	case BENCH_TLS_IN_CLOSED:
		bench_loop_on_recv_end(c, 0);
		break;
	case BENCH_TLS_IN_FAILED:
		lose(c, BENCH_ERR_TLS_HANDSHAKE);
		break;
	case BENCH_TLS_IN_ERROR:
		lose(c, BENCH_ERR_IO);
		break;
	}
	return false;
}

void bench_loop_on_recv(struct bench_conn *c, const uint8_t *p, size_t n)
{
	struct bench_loop *l = c->loop;
	if (c->state != BENCH_CONN_OPEN)
		return;
	l->stats->c.bytes_received += n;
	c->last_ns = l->now_ns;
	if (c->tls.phase == BENCH_TLS_OFF)
		client_proto_feed(&c->proto, p, n, l->now_ns); /* after STARTTLS's 220 it takes nothing more */
	else if (!tls_input(c, p, n))
		return;
	pump(c);
}

void bench_loop_on_recv_end(struct bench_conn *c, int res)
{
	c->peer_eof = true;
	if (c->state != BENCH_CONN_OPEN)
		return;
	enum client_status st = client_proto_status(&c->proto);
	if (st == CLIENT_ACTIVE || st == CLIENT_IDLE || c->tls.phase == BENCH_TLS_HANDSHAKE)
		count_lost(c, res < 0 ? BENCH_ERR_IO : BENCH_ERR_CLOSED);
	client_proto_abort(&c->proto);
	close_conn(c);
}

void bench_loop_on_sent(struct bench_conn *c, int res)
{
	struct bench_loop *l = c->loop;
	c->sending = false;
	if (c->state != BENCH_CONN_OPEN)
		return;
	if (res < 0) {
		lose(c, BENCH_ERR_IO);
		return;
	}
	l->stats->c.bytes_sent += (uint64_t)res;
	c->last_ns = l->now_ns;
	bool more;
	if (c->tls.inflight) {
		more = bench_tls_sent(c, (uint32_t)res);
	} else {
		c->out_off += (uint32_t)res;
		more = c->out_off < client_out_total(&c->out);
	}
	if (more)
		start_send(c); /* a short send: continue where it stopped */
	else
		pump(c);
}

void bench_loop_on_closed(struct bench_conn *c)
{
	struct bench_loop *l = c->loop;
	if (c->has_msg) { /* connect mode: its message never got going */
		c->has_msg = false;
		l->stats->c.txn_started++;
		l->stats->c.txn_failed++;
		l->stats->c.end_ns = l->now_ns;
	}
	l->live--;
	c->fd = -1;
	c->sending = false;
	bench_tls_end(c);
	/* outside connect mode a session that delivered nothing is not
	 * replaced: the server is refusing (or the schedule is over anyway) */
	if (l->cfg->mode != CLIENT_MODE_CONNECT && c->session_msgs == 0) {
		c->state = BENCH_CONN_RETIRED;
		return;
	}
	c->state = BENCH_CONN_FREE;
	l->free_slots[l->free_count++] = c->index;
}

/* ---- scheduling ------------------------------------------------------- */

/* Every first connection has an outcome: the schedule's clock starts. */
static void check_warm(struct bench_loop *l)
{
	if (l->warm || l->connecting > 0 || l->free_count > 0)
		return;
	l->warm = true;
	l->sched.start_ns = l->now_ns;
}

static const struct bench_addr *next_source(struct bench_loop *l)
{
	const struct bench_config *cfg = l->cfg;
	if (cfg->source_count == 0)
		return NULL;
	uint64_t k = (uint64_t)l->source_next++ * l->workers + l->worker;
	return &cfg->source[k % cfg->source_count];
}

static void start_connect(struct bench_loop *l, struct bench_conn *c)
{
	c->state = BENCH_CONN_CONNECTING;
	c->connect_ns = l->now_ns;
	c->last_ns = l->now_ns;
	c->session_msgs = 0;
	c->peer_eof = false;
	c->close_done = false;
	c->sending = false; /* idle_listed stays: a stale ring entry serves the new session */
	client_out_reset(&c->out); /* nothing of the last connection's output is due */
	c->out_off = 0;
	l->connecting++;
	l->live++;
	l->ops->connect(c, next_source(l));
}

static void start_connects(struct bench_loop *l)
{
	while (l->free_count > 0 && l->connecting < CONNECTS_IN_FLIGHT_MAX) {
		struct bench_conn *c = &l->conns[l->free_slots[l->free_count - 1]];
		if (l->cfg->mode == CLIENT_MODE_CONNECT) {
			if (take_msg(l, &c->msg) != CLIENT_SRC_MSG)
				return;
			c->has_msg = true;
		} else if (l->warm && bench_sched_done(&l->sched, l->now_ns)) {
			return;
		}
		l->free_count--;
		start_connect(l, c);
	}
}

/* Open loop: due messages go to idle sessions; once the schedule is over,
 * idle sessions are woken to QUIT. */
static void dispatch_idle(struct bench_loop *l)
{
	if (!l->warm)
		return;
	bool done = bench_sched_done(&l->sched, l->now_ns);
	for (uint32_t n = l->idle_count; n > 0 && l->idle_count > 0; n--) {
		if (!done && bench_sched_due_ns(&l->sched) > l->now_ns)
			return;
		struct bench_conn *c = unlist_idle(l);
		if (c->state != BENCH_CONN_OPEN || client_proto_status(&c->proto) != CLIENT_IDLE)
			continue;
		client_proto_wake(&c->proto);
		pump(c);
	}
}

static bool can_start(struct bench_loop *l)
{
	return l->free_count > 0 && !bench_sched_done(&l->sched, l->now_ns);
}

static uint64_t wait_ns(struct bench_loop *l)
{
	uint64_t until = l->next_tick_ns;
	bool waiting = l->idle_count > 0 || (l->cfg->mode == CLIENT_MODE_CONNECT && l->free_count > 0);
	if (l->warm && l->cfg->rate > 0 && waiting) {
		uint64_t due = bench_sched_due_ns(&l->sched);
		if (due < until)
			until = due;
	}
	return until > l->now_ns ? until - l->now_ns : 0;
}

static void check_timeouts(struct bench_loop *l)
{
	uint64_t limit = (uint64_t)l->cfg->timeout_s * TICK_NS;
	for (uint32_t i = 0; i < l->conn_count; i++) {
		struct bench_conn *c = &l->conns[i];
		if (c->state != BENCH_CONN_CONNECTING && c->state != BENCH_CONN_OPEN)
			continue;
		if (l->now_ns - c->last_ns <= limit)
			continue;
		bool waiting = c->state == BENCH_CONN_CONNECTING || c->sending || client_proto_awaiting(&c->proto) ||
			       c->tls.phase == BENCH_TLS_HANDSHAKE;
		if (c->state == BENCH_CONN_OPEN && !waiting && client_proto_status(&c->proto) != CLIENT_DONE)
			continue; /* idle by choice: waiting for a message */
		if (waiting)
			count_lost(c, BENCH_ERR_TIMEOUT);
		if (c->state == BENCH_CONN_OPEN)
			client_proto_abort(&c->proto);
		close_conn(c);
	}
}

static void tick(struct bench_loop *l)
{
	if (l->now_ns < l->next_tick_ns)
		return;
	l->next_tick_ns = l->now_ns + TICK_NS;
	check_timeouts(l);
	if (l->progress != NULL) {
		l->stats->c.open_conns = l->live;
		l->progress(l->progress_ctx, l->stats);
	}
}

/* ---- set-up and the loop ---------------------------------------------- */

/* --starttls, --tls: the worker's context and every slot's ciphertext
 * buffer, sized for one write (out_cap plus the largest body view). */
static int setup_tls(struct bench_loop *l, size_t out_cap)
{
	if (l->cfg->tls == BENCH_TLS_NONE)
		return 0;
	const struct client_msg_spec *sp = &l->spec;
	uint64_t body = sp->file ? (sp->stuffed_len > sp->raw_len ? sp->stuffed_len : sp->raw_len) : l->cfg->size_max;
	char err[256];
	l->tls = calloc(1, sizeof *l->tls);
	if (l->tls == NULL)
		return -ENOMEM;
	if (bench_tls_open(l->tls, l->cfg, l->conn_count, out_cap + body, err, sizeof err) != 0) {
		fprintf(stderr, "smtpsink-bench: TLS: %s\n", err);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < l->conn_count; i++)
		bench_tls_conn_setup(l->tls, &l->conns[i], i);
	return 0;
}

static int setup(struct bench_loop *l, const struct bench_loop_params *p)
{
	l->cfg = p->cfg;
	l->ops = p->ops;
	l->spec = *p->spec;
	l->ccfg = (struct client_cfg){
		p->cfg->mode,
		p->cfg->no_rset,
		p->cfg->rcpts,
		p->cfg->helo,
		p->auth_b64,
		&l->spec,
		p->cfg->tls == BENCH_TLS_STARTTLS,
	};
	l->conn_count = p->conn_count;
	l->stats = p->stats;
	l->qlog = p->qlog;
	l->progress = p->progress;
	l->progress_ctx = p->progress_ctx;
	l->stop = p->stop;
	l->worker = p->worker;
	l->workers = p->workers;
	size_t cap = (client_proto_out_bytes(&l->ccfg) + OUT_ALIGN_BYTES - 1) / OUT_ALIGN_BYTES * OUT_ALIGN_BYTES;
	l->conns = calloc(l->conn_count, sizeof *l->conns);
	l->out_mem = malloc(cap * l->conn_count);
	l->idle = malloc(l->conn_count * sizeof *l->idle);
	l->free_slots = malloc(l->conn_count * sizeof *l->free_slots);
	if (l->conns == NULL || l->out_mem == NULL || l->idle == NULL || l->free_slots == NULL)
		return -ENOMEM;
	for (uint32_t i = 0; i < l->conn_count; i++) {
		struct bench_conn *c = &l->conns[i];
		c->loop = l;
		c->index = i;
		c->fd = -1;
		c->out.buf = l->out_mem + cap * i;
		c->out.cap = (uint32_t)cap;
		c->connect_op = (struct bench_op){ BENCH_OP_CONNECT, c };
		c->recv_op = (struct bench_op){ BENCH_OP_RECV, c };
		c->send_op = (struct bench_op){ BENCH_OP_SEND, c };
		c->cancel_op = (struct bench_op){ BENCH_OP_CANCEL, c };
		c->close_op = (struct bench_op){ BENCH_OP_CLOSE, c };
		l->free_slots[l->conn_count - 1 - i] = i; /* slot 0 connects first */
	}
	l->free_count = l->conn_count;
	return setup_tls(l, cap);
}

static void teardown(struct bench_loop *l)
{
	if (l->tls != NULL) {
		for (uint32_t i = 0; l->conns != NULL && i < l->conn_count; i++)
			bench_tls_end(&l->conns[i]);
		bench_tls_close(l->tls);
		free(l->tls);
	}
	free(l->conns);
	free(l->out_mem);
	free(l->idle);
	free(l->free_slots);
}

static int run(struct bench_loop *l)
{
	for (;;) {
		if (l->stop != NULL && *l->stop)
			l->sched.stopped = true;
		start_connects(l);
		dispatch_idle(l);
		if (l->live == 0 && !can_start(l))
			return 0;
		int e = l->ops->run_once(l, wait_ns(l));
		if (e < 0) {
			fprintf(stderr, "smtpsink-bench: %s loop: %s\n", l->ops->name, strerror(-e));
			return e;
		}
		tick(l);
	}
}

int bench_loop_run(const struct bench_loop_params *p)
{
	struct bench_loop *l = calloc(1, sizeof *l);
	if (l == NULL)
		return -ENOMEM;
	int e = setup(l, p);
	bool ready = e == 0;
	if (ready && (e = l->ops->init(l)) < 0)
		fprintf(stderr, "smtpsink-bench: %s set-up failed: %s\n", l->ops->name, strerror(-e));
	if (e == 0) {
		l->now_ns = bench_clock_ns();
		bench_sched_init(&l->sched, l->now_ns, p->worker, p->workers);
		l->sched.total = p->cfg->messages;
		l->sched.duration_ns = p->cfg->duration_ns;
		l->sched.rate = p->cfg->rate;
		l->sched.size_min = p->cfg->size_min;
		l->sched.size_max = p->cfg->size_max;
		l->sched.seed = p->cfg->seed;
		l->stats->c.start_ns = l->now_ns;
		l->next_tick_ns = l->now_ns + TICK_NS;
		l->warm = p->cfg->mode == CLIENT_MODE_CONNECT; /* its clock runs from the start */
		e = run(l);
		l->stats->c.open_conns = 0; /* a snapshot's figure only */
		if (l->stats->c.end_ns == 0)
			l->stats->c.end_ns = l->now_ns;
		l->stats->c.start_ns = l->sched.start_ns;
	}
	if (ready)
		l->ops->fini(l); /* also after a failed init: it frees what was set up */
	if (l->qlog != NULL) {
		bench_qidlog_flush(l->qlog);
		l->stats->c.qid_log_lost += l->qlog->lost_lines;
	}
	teardown(l);
	free(l);
	return e;
}
