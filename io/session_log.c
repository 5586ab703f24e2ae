/*
 * io/session_log.c - a session's running account (see session_log.h).
 *
 * Transaction accounting: MAIL opens a transaction; it ends completed or
 * refused with the verdict at end of data (or a refusal there: too big,
 * bare LF, a BDAT error), or aborted by whatever ended it first: RSET, a
 * new HELO/EHLO, QUIT, the peer's disconnect, a timeout, a fault rule, a
 * shutdown.  Recipients refused in a transaction are the RCPT commands it
 * saw minus those accepted, so refusals need no event of their own.
 */
#include "session_log.h"

#include <stdlib.h>
#include <string.h>

#include "grow.h"

struct session_log *session_log_new(uint64_t connect_wall_us, uint64_t mono_us, uint32_t idle_gap_ms)
{
	struct session_log *log = calloc(1, sizeof *log);
	if (log == NULL)
		return NULL;
	log->r.connect_us = connect_wall_us;
	log->connect_mono_us = mono_us;
	log->idle_gap_us = (uint64_t)idle_gap_ms * 1000u;
	log->last_verb = SMTP_VERB_COUNT;
	return log;
}

void session_log_free(struct session_log *log)
{
	if (log == NULL)
		return;
	free(log->aborts);
	free(log->gaps);
	free(log->qids);
	free(log->qid_views);
	free(log->tls);
	free(log->tls_sni);
	for (uint32_t i = 0; i < log->r.fault_rule_count; i++)
		free(log->faults[i].text);
	free(log->faults);
	free(log->fault_views);
	free(log);
}

/* Keep a copy of s (NULL or empty: none). */
static char *copy(const char *s)
{
	return s != NULL && s[0] != '\0' ? strdup(s) : NULL;
}

void session_log_tls(struct session_log *log, const char *text, const char *sni)
{
	free(log->tls);
	free(log->tls_sni);
	log->tls = copy(text);
	log->tls_sni = copy(sni);
}

/* Room for one more entry in a list capped at max; false: keep counting
 * only (full, or no memory). */
static bool list_room(void **list, uint32_t *cap, uint32_t count, uint32_t max, size_t elem)
{
	if (count < *cap)
		return true;
	if (count >= max)
		return false;
	size_t n = *cap; /* a per-connection count: kept 32 bits wide */
	if (!grow_array(list, &n, (size_t)count + 1, elem, 4))
		return false;
	*cap = (uint32_t)(n < max ? n : max);
	return true;
}

static void txn_end_aborted(struct session_log *log, enum smtp_reason why, uint64_t mono_us)
{
	if (!log->txn_open)
		return;
	uint32_t i = log->r.txn_aborted++;
	if (list_room((void **)&log->aborts, &log->abort_cap, i, SESSION_REPORT_ABORTS_MAX, sizeof *log->aborts)) {
		log->aborts[i] = (struct session_abort){
			.at_us = mono_us - log->connect_mono_us,
			.rcpts = log->txn_rcpts,
			.rcpts_refused = log->txn_rcpt_cmds - log->txn_rcpts,
			.had_data = log->txn_data,
			.reason = (uint8_t)why,
		};
		log->r.abort_count = i + 1;
	}
	log->txn_open = false;
}

static void txn_begin(struct session_log *log)
{
	log->txn_open = true;
	log->txn_data = false;
	log->txn_rcpts = 0;
	log->txn_rcpt_cmds = 0;
}

/* A message refused at end of data by the session itself. */
static bool refused_at_end(enum smtp_reason why)
{
	return why == SMTP_REASON_TOO_BIG || why == SMTP_REASON_BARE_LF || why == SMTP_REASON_BDAT_ERROR;
}

void session_log_event(struct session_log *log, const struct smtp_event *ev, uint64_t mono_us)
{
	switch (ev->type) {
	case SMTP_EV_COMMAND:
		if (ev->verb < SMTP_VERB_COUNT)
			log->r.verbs[ev->verb]++;
		if (ev->flags & SMTP_EVF_PIPELINED)
			log->r.pipelined++;
		if (ev->verb == SMTP_VERB_RCPT && log->txn_open)
			log->txn_rcpt_cmds++;
		if (ev->verb != SMTP_VERB_AUTH_RESPONSE)
			log->last_verb = (uint8_t)ev->verb;
		break;
	case SMTP_EV_MAIL:
		txn_begin(log);
		break;
	case SMTP_EV_RCPT:
		log->txn_rcpts++;
		log->r.rcpts_accepted++;
		break;
	case SMTP_EV_DATA_BEGIN:
		log->txn_data = true;
		break;
	case SMTP_EV_MSG_ABORT:
		if (refused_at_end(ev->reason) && log->txn_open) {
			log->r.txn_refused++;
			log->txn_open = false;
		} else {
			txn_end_aborted(log, ev->reason, mono_us);
		}
		break;
	case SMTP_EV_RESET:
		txn_end_aborted(log, ev->reason, mono_us);
		break;
	case SMTP_EV_QUIT:
		txn_end_aborted(log, SMTP_REASON_QUIT, mono_us);
		break;
	case SMTP_EV_CLOSE:
		log->end_in_txn = log->txn_open;
		txn_end_aborted(log, ev->reason, mono_us);
		log->r.end_reason = (uint8_t)ev->reason;
		log->closed = true;
		break;
	default:
		break;
	}
}

void session_log_verdict(struct session_log *log, unsigned code, const char *qid)
{
	log->txn_open = false;
	if (code != 250) {
		log->r.txn_refused++;
		return;
	}
	log->r.txn_completed++;
	if (list_room((void **)&log->qids, &log->qid_cap, log->qid_count, SESSION_REPORT_MESSAGES_MAX,
		      sizeof *log->qids)) {
		memset(log->qids[log->qid_count], 0, sizeof log->qids[0]);
		strncpy(log->qids[log->qid_count], qid, QUEUE_ID_LEN);
		log->qid_count++;
	}
}

void session_log_fault(struct session_log *log, const char *rule)
{
	log->r.faults++;
	if (rule == NULL)
		return;
	uint32_t n = log->r.fault_rule_count;
	for (uint32_t i = 0; i < n; i++)
		if (strcmp(log->faults[i].text, rule) == 0) {
			log->faults[i].count++;
			return;
		}
	if (n >= SESSION_REPORT_FAULT_RULES_MAX)
		return; /* named rules are full: counted in faults only */
	struct session_log_fault *grown = realloc(log->faults, (n + 1) * sizeof *grown);
	if (grown == NULL)
		return;
	log->faults = grown;
	if ((grown[n].text = strdup(rule)) == NULL)
		return;
	grown[n].count = 1;
	log->r.fault_rule_count = n + 1;
}

/* The named rules as report views (none when out of memory: the count stays). */
static void finish_faults(struct session_log *log)
{
	struct session_report *r = &log->r;
	log->fault_views = r->fault_rule_count ? calloc(r->fault_rule_count, sizeof *log->fault_views) : NULL;
	if (log->fault_views == NULL) {
		for (uint32_t i = 0; i < r->fault_rule_count; i++)
			free(log->faults[i].text);
		r->fault_rule_count = 0;
	}
	for (uint32_t i = 0; i < r->fault_rule_count; i++)
		log->fault_views[i] =
			(struct session_fault){ smtp_view_make(log->faults[i].text, strlen(log->faults[i].text)),
						log->faults[i].count };
	r->fault_rules = log->fault_views;
}

/* The client was silent since silent_us: note it if long enough. */
static void check_gap(struct session_log *log, uint64_t mono_us, uint64_t silent_us, bool in_txn)
{
	if (mono_us <= silent_us || mono_us - silent_us <= log->idle_gap_us)
		return;
	uint32_t i = log->r.gaps_total++;
	if (list_room((void **)&log->gaps, &log->gap_cap, i, SESSION_REPORT_GAPS_MAX, sizeof *log->gaps)) {
		log->gaps[i] = (struct session_gap){
			.at_us = silent_us - log->connect_mono_us,
			.len_us = mono_us - silent_us,
			.after_verb = log->last_verb,
			.in_txn = in_txn,
		};
		log->r.gap_count = i + 1;
	}
}

void session_log_input(struct session_log *log, uint64_t mono_us, uint64_t silent_us, uint64_t bytes)
{
	check_gap(log, mono_us, silent_us, log->txn_open);
	log->r.bytes_in += bytes;
}

const struct session_report *session_log_finish(struct session_log *log, const struct smtp_session *s,
						enum smtp_reason why, uint64_t end_wall_us, uint64_t mono_us,
						uint64_t silent_us)
{
	struct session_end end = session_report_end(log->closed, (enum smtp_reason)log->r.end_reason, why);
	if (!log->closed) {
		log->end_in_txn = log->txn_open;
		txn_end_aborted(log, (enum smtp_reason)end.reason, mono_us);
	}
	log->r.end_reason = end.reason;
	if (log->r.end_reason == SMTP_REASON_EOF || log->r.end_reason == SMTP_REASON_TIMEOUT)
		check_gap(log, mono_us, silent_us, log->end_in_txn); /* the silence before the end */
	struct session_report *r = &log->r;
	r->ended_by_client = end.by_client;
	r->end_us = end_wall_us;
	r->quirks = s->quirks;
	r->errors = s->errors;
	r->helo_verb = s->helo_verb;
	r->rcpts_refused = r->verbs[SMTP_VERB_RCPT] - r->rcpts_accepted;
	r->aborts = log->aborts;
	r->gaps = log->gaps;
	r->tls = smtp_view_make(log->tls != NULL ? log->tls : "", log->tls != NULL ? strlen(log->tls) : 0);
	r->tls_sni = smtp_view_make(log->tls_sni != NULL ? log->tls_sni : "",
				    log->tls_sni != NULL ? strlen(log->tls_sni) : 0);
	log->qid_views = log->qid_count ? calloc(log->qid_count, sizeof *log->qid_views) : NULL;
	r->message_count = log->qid_views != NULL ? log->qid_count : 0;
	for (uint32_t i = 0; i < r->message_count; i++)
		log->qid_views[i] = smtp_view_make(log->qids[i], strlen(log->qids[i]));
	r->messages = log->qid_views;
	finish_faults(log);
	return r;
}
