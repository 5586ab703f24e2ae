/*
 * tests/core/fdrv.c - the session driver of test_session_answers.c and
 * test_session_quirks.c (see fdrv.h): the event callback that answers and
 * logs, and the feed loop that plays one client write at a time.
 *
 * Owns: running one struct smtp_session for a test; the texts of what it
 * wrote and of the events it raised.  Does not: check anything (the tests
 * do).  Test-only: a text that cannot grow aborts the binary.
 */
#include <stdbool.h>
#include <string.h>

#include "fdrv.h"

static bool view_is(struct smtp_view v, const char *s)
{
	return s != NULL && v.len == strlen(s) && memcmp(v.ptr, s, v.len) == 0;
}

static void log_view(struct test_text *t, const char *what, struct smtp_view v)
{
	text_str(t, what);
	text_str(t, " <");
	text_escaped(t, v.ptr, v.len);
	text_str(t, ">\n");
}

static const struct smtp_override *fdrv_event(void *ctx, const struct smtp_event *ev)
{
	struct fdrv *d = ctx;
	struct test_text *t = &d->events;
	if ((int)ev->type == d->pause_on && (ev->type != SMTP_EV_COMMAND || ev->verb == d->pause_verb))
		smtp_session_pause(&d->s);
	switch (ev->type) {
	case SMTP_EV_GREETING:
		text_str(t, "GREETING\n");
		return NULL;
	case SMTP_EV_COMMAND:
		d->last_cmd_flags = ev->flags;
		text_printf(t, "CMD %s\n", smtp_cmd_name(ev->verb));
		return d->cmd_ov != NULL && ev->verb == d->cmd_verb ? d->cmd_ov : NULL;
	case SMTP_EV_HELO:
		text_str(t, "HELO\n");
		return NULL;
	case SMTP_EV_MAIL:
		log_view(t, "MAIL", ev->arg);
		return view_is(ev->arg, d->mail_addr) ? d->mail_ov : NULL;
	case SMTP_EV_RCPT:
		log_view(t, "RCPT", ev->arg);
		return view_is(ev->arg, d->rcpt_addr) ? d->rcpt_ov : NULL;
	case SMTP_EV_DATA_BEGIN:
		text_str(t, "DATA_BEGIN\n");
		return NULL;
	case SMTP_EV_BODY:
		return NULL;
	case SMTP_EV_MSG_END:
		d->last_msg_flags = ev->flags;
		text_printf(t, "MSG_END rcpts=%u\n", (unsigned)ev->rcpts);
		return NULL;
	case SMTP_EV_MSG_ABORT:
		text_printf(t, "MSG_ABORT %s\n", harness_reason_name(ev->reason));
		return NULL;
	case SMTP_EV_RESET:
		text_printf(t, "RESET %s\n", harness_reason_name(ev->reason));
		return NULL;
	case SMTP_EV_QUIT:
		text_str(t, "QUIT\n");
		return NULL;
	case SMTP_EV_CLOSE:
		text_printf(t, "CLOSE %s\n", harness_reason_name(ev->reason));
		return NULL;
	default:
		text_str(t, "OTHER\n");
		return NULL;
	}
}

void fdrv_drain(struct fdrv *d)
{
	text_add(&d->replies, d->out.buf, d->out.len);
	d->out.len = 0;
}

/* cfg NULL: the defaults.  Greets. */
void fdrv_init(struct fdrv *d, const struct smtp_config *cfg)
{
	memset(d, 0, sizeof *d);
	if (cfg != NULL)
		d->cfg = *cfg;
	else
		smtp_config_defaults(&d->cfg);
	d->out.buf = d->buf;
	d->out.cap = sizeof d->buf;
	d->pause_on = -1;
	text_str(&d->replies, "");
	text_str(&d->events, "");
	smtp_session_init(&d->s, &d->cfg, fdrv_event, d);
	smtp_session_carry_lend(&d->s, d->carry);
	smtp_session_greet(&d->s, &d->out);
	fdrv_drain(d);
}

/* One client write: feed it until it is used up or the session stops for
 * good; verdicts are 250 Q1. */
enum smtp_stop fdrv_feed(struct fdrv *d, const char *in)
{
	const uint8_t *p = (const uint8_t *)in;
	size_t len = strlen(in);
	d->last_used = 0;
	for (;;) {
		size_t used = 0;
		enum smtp_stop st = smtp_session_feed(&d->s, p, len, &used, &d->out);
		p += used;
		len -= used;
		d->last_used += used;
		if (st == SMTP_STOP_VERDICT) {
			struct smtp_verdict v = { .code = 250, .qid = "Q1" };
			st = smtp_session_verdict(&d->s, &v, &d->out);
			fdrv_drain(d);
			if (st == SMTP_STOP_CLOSE)
				return d->last_stop = st;
			continue;
		}
		fdrv_drain(d);
		if (st != SMTP_STOP_OUT_FULL)
			return d->last_stop = st;
	}
}

/* Feed each of the NULL-ended writes in turn. */
void fdrv_writes(struct fdrv *d, const char *const *writes)
{
	for (size_t i = 0; writes[i] != NULL; i++)
		fdrv_feed(d, writes[i]);
}

void fdrv_free(struct fdrv *d)
{
	text_free(&d->replies);
	text_free(&d->events);
}
