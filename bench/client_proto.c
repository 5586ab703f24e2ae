/*
 * bench/client_proto.c - one client SMTP session (see client_proto.h).
 *
 * Two halves.  The reply parser (enum rp_state) reads a line at a time:
 * three digits, "-" (more lines follow) or " " or nothing, text up to LF (a
 * CR before it is dropped); it keeps the code and the first
 * CLIENT_TEXT_BYTES of the line's text, so replies split anywhere parse the
 * same.  The session half keeps a queue of expected replies as runs of
 * (step, transaction, count) in the order the commands were written; each
 * reply pops one and its handler decides the next action (enum action),
 * which write() performs once every awaited reply is in.
 *
 * States of the parser, and what each has consumed of the current line:
 *   RP_DIGIT1..3  0, 1 or 2 code digits;
 *   RP_SEP        the three digits;
 *   RP_TEXT       the separator and part of the text, up to before LF.
 */
#include "client_proto.h"

#include <assert.h>
#include <string.h>

enum rp_state {
	RP_DIGIT1,
	RP_DIGIT2,
	RP_DIGIT3,
	RP_SEP,
	RP_TEXT
};

/* What write() sends next. */
enum action {
	ACT_NONE,
	ACT_EHLO,
	ACT_STARTTLS,
	ACT_AUTH,
	ACT_NEXT, /* ask for a message: transaction start, idle or QUIT */
	ACT_MAIL,
	ACT_RCPT,
	ACT_DATA,
	ACT_CONTENT, /* after 354: content and "." (pipeline: and the next group) */
	ACT_QUIT,
};

#define LIT(s) s, sizeof(s) - 1
#define BDAT_LINE_MAX_BYTES 32u /* "BDAT " 20 digits " LAST\r\n" */
#define QUEUED_AS "queued as "

static const char *const step_names[CLIENT_STEP_COUNT] = {
	"connect", "greeting", "ehlo", "starttls",    "tls_handshake", "auth",	  "rset",
	"mail",	   "rcpt",     "data", "end_of_data", "quit",	       "message",
};

const char *client_step_name(enum client_step st)
{
	return st < CLIENT_STEP_COUNT ? step_names[st] : "?";
}

static bool pipelined(const struct client_proto *s)
{
	return s->cfg->mode == CLIENT_MODE_PIPELINE || s->cfg->mode == CLIENT_MODE_BDAT;
}

static void emit(struct client_proto *s, const struct client_event *ev)
{
	s->hooks->on_event(s->ctx, ev);
}

static void reset_line(struct client_proto *s)
{
	s->rp_state = RP_DIGIT1;
	s->rp_code = 0;
	s->rp_more = false;
	s->rp_line_bytes = 0;
	s->text_len = 0;
}

void client_proto_init(struct client_proto *s, const struct client_cfg *cfg, const struct client_hooks *hooks,
		       void *ctx, uint64_t now_ns)
{
	memset(s, 0, sizeof *s);
	s->cfg = cfg;
	s->hooks = hooks;
	s->ctx = ctx;
	s->status = CLIENT_ACTIVE;
	s->sent_ns = now_ns; /* the banner's latency counts from the connection */
	s->runs[0] = (struct client_run){ CLIENT_STEP_GREETING, 0, 1 };
	s->runs_count = 1;
	reset_line(s);
}

/* ---- transactions ---------------------------------------------------- */

static void fail_txn(struct client_proto *s, unsigned slot, enum client_step step, unsigned code)
{
	struct client_txn *t = &s->txn[slot];
	s->need_rset = true;
	if (t->failed)
		return;
	t->failed = true;
	struct client_event ev = { .type = CLIENT_EV_TXN_FAILED, .step = step, .code = code, .seq = t->msg.seq };
	emit(s, &ev);
}

static void end_txn(struct client_proto *s, unsigned slot)
{
	s->txn[slot].in_use = false;
}

/* The session is over without QUIT: transactions in flight fail. */
static void fail_session(struct client_proto *s, unsigned code)
{
	enum client_step step = s->runs_count ? (enum client_step)s->runs[s->runs_head].step : CLIENT_STEP_MESSAGE;
	for (unsigned i = 0; i < 2; i++)
		if (s->txn[i].in_use) {
			fail_txn(s, i, step, code);
			end_txn(s, i);
		}
	s->status = CLIENT_FAILED;
	s->action = ACT_NONE;
	s->runs_count = 0;
}

void client_proto_abort(struct client_proto *s)
{
	if (s->status != CLIENT_DONE && s->status != CLIENT_FAILED)
		fail_session(s, 0);
}

static void session_error(struct client_proto *s, enum client_error err, unsigned code)
{
	struct client_event ev = { .type = CLIENT_EV_ERROR, .error = err, .code = code };
	emit(s, &ev);
}

/* ---- replies ---------------------------------------------------------- */

static bool expected_code(enum client_step step, unsigned code)
{
	switch (step) {
	case CLIENT_STEP_GREETING:
	case CLIENT_STEP_STARTTLS:
		return code == 220;
	case CLIENT_STEP_AUTH:
		return code == 235;
	case CLIENT_STEP_DATA:
		return code == 354;
	case CLIENT_STEP_EOD:
		return code == 250;
	default:
		return code / 100 == 2;
	}
}

static bool keyword_is(const char *text, size_t len, const char *kw)
{
	size_t n = strlen(kw);
	if (len < n || (len > n && text[n] != ' '))
		return false;
	for (size_t i = 0; i < n; i++)
		if ((text[i] & ~0x20) != kw[i])
			return false;
	return true;
}

/* "... queued as ID ...": the ID, or NULL. */
static const char *find_qid(const struct client_proto *s, size_t *len)
{
	size_t k = sizeof QUEUED_AS - 1;
	for (size_t i = 0; i + k < s->text_len; i++) {
		if (memcmp(s->text + i, QUEUED_AS, k) != 0)
			continue;
		size_t start = i + k, end = start;
		while (end < s->text_len && s->text[end] != ' ' && end - start < CLIENT_QID_MAX_BYTES)
			end++;
		*len = end - start;
		return end > start ? s->text + start : NULL;
	}
	return NULL;
}

static void on_eod(struct client_proto *s, unsigned slot, unsigned code, uint64_t now_ns)
{
	struct client_txn *t = &s->txn[slot];
	if (code == 250 && !t->failed) {
		struct client_event ev = { .type = CLIENT_EV_MESSAGE,
					   .step = CLIENT_STEP_EOD,
					   .code = code,
					   .seq = t->msg.seq,
					   .latency_ns = now_ns - t->msg.intended_ns };
		ev.size_bytes = client_msg_content_len(s->cfg->msg, &t->msg, s->cfg->mode == CLIENT_MODE_BDAT);
		ev.qid = find_qid(s, &ev.qid_len);
		emit(s, &ev);
	} else {
		fail_txn(s, slot, CLIENT_STEP_EOD, code);
	}
	end_txn(s, slot);
	if (s->runs_count == 0)
		s->action = ACT_NEXT;
}

static void on_rcpt(struct client_proto *s, unsigned slot, unsigned code, bool ok)
{
	struct client_txn *t = &s->txn[slot];
	if (ok)
		t->rcpts_ok++;
	else
		t->last_code = (uint16_t)code;
	if (pipelined(s))
		return;
	if (t->rcpts_sent < s->cfg->rcpts) {
		s->action = ACT_RCPT;
	} else if (t->rcpts_ok > 0) {
		s->action = ACT_DATA;
	} else {
		fail_txn(s, slot, CLIENT_STEP_RCPT, t->last_code);
		end_txn(s, slot);
		s->action = ACT_NEXT;
	}
}

static void on_data(struct client_proto *s, unsigned slot, unsigned code, bool ok)
{
	struct client_txn *t = &s->txn[slot];
	if (!ok) { /* pipelined, every RCPT refused: that is the reason */
		if (t->rcpts_ok == 0 && t->last_code != 0)
			fail_txn(s, slot, CLIENT_STEP_RCPT, t->last_code);
		fail_txn(s, slot, CLIENT_STEP_DATA, code);
		end_txn(s, slot);
		s->action = ACT_NEXT;
		return;
	}
	if (t->rcpts_ok == 0) /* RFC 2920 3.1: accepted anyway; "." alone follows */
		fail_txn(s, slot, CLIENT_STEP_RCPT, t->last_code);
	s->content_slot = (uint8_t)slot;
	s->action = ACT_CONTENT;
}

/* What follows an EHLO reply: STARTTLS (once), AUTH, a transaction, or
 * QUIT when it was refused or lacks an extension the run needs. */
static enum action after_ehlo(struct client_proto *s, bool ok)
{
	bool want_tls = s->cfg->starttls && !s->tls;
	if (ok &&
	    ((s->cfg->mode == CLIENT_MODE_PIPELINE && !s->ext_pipelining && !want_tls) ||
	     (s->cfg->mode == CLIENT_MODE_BDAT && !s->ext_chunking && !want_tls) || (want_tls && !s->ext_starttls))) {
		session_error(s, CLIENT_ERR_EXTENSION_MISSING, 0);
		ok = false;
	}
	if (!ok)
		return ACT_QUIT;
	if (want_tls)
		return ACT_STARTTLS;
	return s->cfg->auth_b64 ? ACT_AUTH : ACT_NEXT;
}

static void on_session_step(struct client_proto *s, enum client_step step, bool ok)
{
	switch (step) {
	case CLIENT_STEP_GREETING:
		s->action = ok ? ACT_EHLO : ACT_QUIT;
		break;
	case CLIENT_STEP_EHLO:
		s->action = after_ehlo(s, ok);
		break;
	case CLIENT_STEP_STARTTLS:
		if (ok) {
			s->status = CLIENT_STARTTLS; /* nothing more in clear */
			s->action = ACT_NONE;
		} else {
			s->action = ACT_QUIT;
		}
		break;
	case CLIENT_STEP_AUTH:
		s->action = ok ? ACT_NEXT : ACT_QUIT;
		break;
	default:
		s->status = CLIENT_DONE; /* QUIT answered, whatever it says */
		s->action = ACT_NONE;
		break;
	}
}

static void on_txn_step(struct client_proto *s, enum client_step step, unsigned slot, unsigned code, bool ok,
			uint64_t now_ns)
{
	switch (step) {
	case CLIENT_STEP_RSET:
		if (!ok) { /* a server that cannot reset is not worth talking to */
			fail_txn(s, slot, step, code);
			s->quit_after = true;
		} else if (!pipelined(s)) {
			s->action = ACT_MAIL;
		}
		break;
	case CLIENT_STEP_MAIL:
		if (!ok)
			fail_txn(s, slot, step, code);
		if (!pipelined(s)) {
			if (!ok)
				end_txn(s, slot);
			s->action = ok ? ACT_RCPT : ACT_NEXT;
		}
		break;
	case CLIENT_STEP_RCPT:
		on_rcpt(s, slot, code, ok);
		break;
	case CLIENT_STEP_DATA:
		on_data(s, slot, code, ok);
		break;
	default:
		on_eod(s, slot, code, now_ns);
		break;
	}
}

static void on_reply(struct client_proto *s, uint64_t now_ns)
{
	unsigned code = s->rp_code;
	if (s->runs_count == 0) {
		session_error(s, CLIENT_ERR_UNSOLICITED_REPLY, code);
		fail_session(s, code);
		return;
	}
	struct client_run *r = &s->runs[s->runs_head];
	enum client_step step = (enum client_step)r->step;
	unsigned slot = r->slot;
	if (--r->count == 0) {
		s->runs_head = (uint8_t)((s->runs_head + 1) % CLIENT_RUNS_MAX);
		s->runs_count--;
	}
	bool ok = expected_code(step, code);
	struct client_event ev = {
		.type = CLIENT_EV_REPLY, .step = step, .code = code, .expected = ok, .latency_ns = now_ns - s->sent_ns
	};
	emit(s, &ev);
	if (code == 421 && step != CLIENT_STEP_QUIT) { /* the server is closing the connection */
		fail_session(s, code);
		return;
	}
	if (step <= CLIENT_STEP_AUTH || step == CLIENT_STEP_QUIT)
		on_session_step(s, step, ok);
	else
		on_txn_step(s, step, slot, code, ok, now_ns);
	if (s->runs_count == 0 && s->quit_after && s->status == CLIENT_ACTIVE)
		s->action = ACT_QUIT;
}

static void on_line(struct client_proto *s, uint64_t now_ns)
{
	if (s->text_len > 0 && s->text[s->text_len - 1] == '\r')
		s->text_len--;
	if (s->runs_count > 0 && s->runs[s->runs_head].step == CLIENT_STEP_EHLO) {
		if (keyword_is(s->text, s->text_len, "PIPELINING"))
			s->ext_pipelining = true;
		if (keyword_is(s->text, s->text_len, "CHUNKING"))
			s->ext_chunking = true;
		if (keyword_is(s->text, s->text_len, "STARTTLS"))
			s->ext_starttls = true;
	}
	if (!s->rp_more)
		on_reply(s, now_ns);
	reset_line(s);
}

static void malformed(struct client_proto *s)
{
	session_error(s, CLIENT_ERR_MALFORMED_REPLY, 0);
	fail_session(s, 0);
}

/* Text up to and including LF; the bytes used. */
static size_t take_text(struct client_proto *s, const uint8_t *p, size_t n, uint64_t now_ns)
{
	const uint8_t *lf = memchr(p, '\n', n);
	size_t seg = lf ? (size_t)(lf - p) : n;
	size_t room = CLIENT_TEXT_BYTES - s->text_len, keep = seg < room ? seg : room;
	memcpy(s->text + s->text_len, p, keep);
	s->text_len = (uint8_t)(s->text_len + keep);
	s->rp_line_bytes += (uint32_t)seg;
	if (s->rp_line_bytes > CLIENT_REPLY_LINE_MAX_BYTES) {
		malformed(s);
		return n;
	}
	if (lf == NULL)
		return n;
	on_line(s, now_ns);
	return seg + 1;
}

void client_proto_feed(struct client_proto *s, const uint8_t *in, size_t len, uint64_t now_ns)
{
	size_t i = 0;
	while (i < len && (s->status == CLIENT_ACTIVE || s->status == CLIENT_IDLE)) {
		uint8_t c = in[i];
		switch ((enum rp_state)s->rp_state) {
		case RP_DIGIT1:
		case RP_DIGIT2:
		case RP_DIGIT3:
			if (c < '0' || c > '9') {
				malformed(s);
				return;
			}
			s->rp_code = (uint16_t)(s->rp_code * 10 + (c - '0'));
			s->rp_state++;
			i++;
			break;
		case RP_SEP:
			i++;
			if (c == '-' || c == ' ') {
				s->rp_more = c == '-';
				s->rp_state = RP_TEXT;
			} else if (c == '\r') {
				s->rp_state = RP_TEXT; /* "250\r\n": no text */
			} else if (c == '\n') {
				on_line(s, now_ns);
			} else {
				malformed(s);
				return;
			}
			break;
		case RP_TEXT:
			i += take_text(s, in + i, len - i, now_ns);
			break;
		}
	}
}

/* ---- writing ---------------------------------------------------------- */

static void put(struct client_out *o, const char *p, size_t n)
{
	assert(o->len + n <= o->cap);
	memcpy(o->buf + o->len, p, n);
	o->len += (uint32_t)n;
}

static void put_addr_cmd(struct client_out *o, const char *verb, size_t vlen, const char *tmpl, uint64_t seq,
			 uint32_t rcpt)
{
	put(o, verb, vlen);
	o->len += (uint32_t)client_msg_expand(tmpl, seq, rcpt, (char *)o->buf + o->len);
	put(o, LIT(">\r\n"));
}

static void expect(struct client_proto *s, enum client_step step, unsigned slot, unsigned count)
{
	assert(s->runs_count < CLIENT_RUNS_MAX);
	s->runs[(s->runs_head + s->runs_count) % CLIENT_RUNS_MAX] =
		(struct client_run){ (uint8_t)step, (uint8_t)slot, (uint16_t)count };
	s->runs_count++;
}

static void put_mail(struct client_proto *s, struct client_out *o, unsigned slot)
{
	put_addr_cmd(o, LIT("MAIL FROM:<"), s->cfg->msg->from_tmpl, s->txn[slot].msg.seq, 0);
	expect(s, CLIENT_STEP_MAIL, slot, 1);
}

static void put_rcpt(struct client_proto *s, struct client_out *o, unsigned slot)
{
	struct client_txn *t = &s->txn[slot];
	t->rcpts_sent++;
	put_addr_cmd(o, LIT("RCPT TO:<"), s->cfg->msg->to_tmpl, t->msg.seq, t->rcpts_sent);
}

static void put_rset(struct client_proto *s, struct client_out *o, unsigned slot)
{
	put(o, LIT("RSET\r\n"));
	expect(s, CLIENT_STEP_RSET, slot, 1);
}

static void put_bdat(struct client_proto *s, struct client_out *o, unsigned slot)
{
	const struct client_msg *m = &s->txn[slot].msg;
	char line[BDAT_LINE_MAX_BYTES];
	size_t n = 0;
	memcpy(line, "BDAT ", 5);
	n = 5 + client_msg_expand("%n", client_msg_content_len(s->cfg->msg, m, true), 0, line + 5);
	memcpy(line + n, " LAST\r\n", 7);
	put(o, line, n + 7);
	client_msg_put_content(s->cfg->msg, m, true, o);
	expect(s, CLIENT_STEP_EOD, slot, 1);
}

/* Pipeline: [RSET] MAIL RCPT... DATA.  BDAT: [RSET] MAIL RCPT... BDAT+content. */
static void put_group(struct client_proto *s, struct client_out *o, unsigned slot, bool rset)
{
	if (rset)
		put_rset(s, o, slot);
	put_mail(s, o, slot);
	for (uint32_t i = 0; i < s->cfg->rcpts; i++)
		put_rcpt(s, o, slot);
	expect(s, CLIENT_STEP_RCPT, slot, s->cfg->rcpts);
	if (s->cfg->mode == CLIENT_MODE_BDAT) {
		put_bdat(s, o, slot);
	} else {
		put(o, LIT("DATA\r\n"));
		expect(s, CLIENT_STEP_DATA, slot, 1);
	}
}

static int begin_txn(struct client_proto *s, const struct client_msg *m)
{
	unsigned slot = s->txn[0].in_use ? 1 : 0;
	assert(!s->txn[slot].in_use);
	struct client_txn *t = &s->txn[slot];
	memset(t, 0, sizeof *t);
	t->msg = *m;
	t->in_use = true;
	s->txns_started++;
	return (int)slot;
}

/* RSET before this MAIL?  After a failure always; as a connection cache's
 * probe before every MAIL but a session's first. */
static bool rset_first(struct client_proto *s)
{
	bool probe = (s->cfg->mode == CLIENT_MODE_REUSE || s->cfg->mode == CLIENT_MODE_PIPELINE) && !s->cfg->no_rset &&
		     s->txns_started > 1;
	bool r = s->need_rset || probe;
	s->need_rset = false;
	return r;
}

static void put_quit(struct client_proto *s, struct client_out *o)
{
	put(o, LIT("QUIT\r\n"));
	expect(s, CLIENT_STEP_QUIT, 0, 1);
}

/* Ready for a transaction: start one, go idle, or QUIT. */
static void write_next(struct client_proto *s, struct client_out *o)
{
	struct client_msg m;
	if (s->cfg->mode == CLIENT_MODE_CONNECT && s->txns_started > 0) {
		put_quit(s, o);
		return;
	}
	enum client_src src = s->hooks->next_msg(s->ctx, &m);
	if (src == CLIENT_SRC_WAIT) {
		s->status = CLIENT_IDLE;
		return;
	}
	if (src == CLIENT_SRC_DONE) {
		put_quit(s, o);
		return;
	}
	unsigned slot = (unsigned)begin_txn(s, &m);
	s->content_slot = (uint8_t)slot;
	bool rset = rset_first(s);
	if (pipelined(s))
		put_group(s, o, slot, rset);
	else if (rset)
		put_rset(s, o, slot);
	else
		put_mail(s, o, slot);
}

static void write_content(struct client_proto *s, struct client_out *o)
{
	unsigned slot = s->content_slot;
	struct client_txn *t = &s->txn[slot];
	if (!t->failed)
		client_msg_put_content(s->cfg->msg, &t->msg, false, o);
	put(o, LIT(".\r\n"));
	expect(s, CLIENT_STEP_EOD, slot, 1);
	if (s->cfg->mode != CLIENT_MODE_PIPELINE)
		return;
	struct client_msg m; /* RFC 2920: the next group rides with the end of data */
	if (s->hooks->next_msg(s->ctx, &m) != CLIENT_SRC_MSG)
		return;
	unsigned next = (unsigned)begin_txn(s, &m);
	s->content_slot = (uint8_t)next;
	put_group(s, o, next, rset_first(s));
}

bool client_proto_want_write(const struct client_proto *s)
{
	return s->status == CLIENT_ACTIVE && s->action != ACT_NONE && s->runs_count == 0;
}

void client_proto_write(struct client_proto *s, struct client_out *o, uint64_t now_ns)
{
	if (!client_proto_want_write(s))
		return;
	enum action a = (enum action)s->action;
	unsigned slot = s->content_slot;
	s->action = ACT_NONE;
	s->sent_ns = now_ns;
	switch (a) {
	case ACT_EHLO:
		put(o, LIT("EHLO "));
		put(o, s->cfg->helo, strlen(s->cfg->helo));
		put(o, LIT("\r\n"));
		expect(s, CLIENT_STEP_EHLO, 0, 1);
		break;
	case ACT_STARTTLS:
		put(o, LIT("STARTTLS\r\n"));
		expect(s, CLIENT_STEP_STARTTLS, 0, 1);
		break;
	case ACT_AUTH:
		put(o, LIT("AUTH PLAIN "));
		put(o, s->cfg->auth_b64, strlen(s->cfg->auth_b64));
		put(o, LIT("\r\n"));
		expect(s, CLIENT_STEP_AUTH, 0, 1);
		break;
	case ACT_NEXT:
		write_next(s, o);
		break;
	case ACT_MAIL:
		put_mail(s, o, slot);
		break;
	case ACT_RCPT:
		put_rcpt(s, o, slot);
		expect(s, CLIENT_STEP_RCPT, slot, 1);
		break;
	case ACT_DATA:
		put(o, LIT("DATA\r\n"));
		expect(s, CLIENT_STEP_DATA, slot, 1);
		break;
	case ACT_CONTENT:
		write_content(s, o);
		break;
	case ACT_QUIT:
		put_quit(s, o);
		break;
	case ACT_NONE:
		break;
	}
}

void client_proto_tls_started(struct client_proto *s, uint64_t now_ns)
{
	if (s->status != CLIENT_STARTTLS)
		return;
	s->status = CLIENT_ACTIVE;
	s->tls = true;
	/* RFC 3207 4.2: what the server said before TLS is forgotten */
	s->ext_pipelining = s->ext_chunking = s->ext_starttls = false;
	s->action = ACT_EHLO;
	s->sent_ns = now_ns;
}

void client_proto_greeting_from(struct client_proto *s, uint64_t now_ns)
{
	s->sent_ns = now_ns;
}

void client_proto_wake(struct client_proto *s)
{
	if (s->status != CLIENT_IDLE)
		return;
	s->status = CLIENT_ACTIVE;
	s->action = ACT_NEXT;
}

size_t client_proto_out_bytes(const struct client_cfg *cfg)
{
	size_t from = client_msg_template_max(cfg->msg->from_tmpl), to = client_msg_template_max(cfg->msg->to_tmpl);
	size_t n = sizeof "RSET\r\n" + sizeof "MAIL FROM:<>\r\n" + from;
	n += (size_t)cfg->rcpts * (sizeof "RCPT TO:<>\r\n" + to);
	n += sizeof "DATA\r\n" + BDAT_LINE_MAX_BYTES + client_msg_put_room(cfg->msg) + sizeof ".\r\n";
	n += sizeof "EHLO \r\n" + strlen(cfg->helo) + sizeof "QUIT\r\n" + sizeof "STARTTLS\r\n";
	n += sizeof "AUTH PLAIN \r\n" + (cfg->auth_b64 ? strlen(cfg->auth_b64) : 0);
	return n + client_msg_put_room(cfg->msg); /* pipeline: content, then a group */
}
