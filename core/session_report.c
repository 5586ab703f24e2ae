/*
 * core/session_report.c - session reports as spool records
 * (core/session_report.h; the layout is in spool_format.h's enum spool_tag
 * and docs/SPOOL-FORMAT.md, "Session records").
 *
 * Owns: the stable on-disk codes of end reasons (a table below) and the
 * mapping of verbs to theirs (each verb's code is in its registry row,
 * smtp_verbs.c): an enum value is never written raw, so reordering enum
 * smtp_verb or enum smtp_reason cannot change what old spools mean; the
 * stable names of quirks and reasons (verbs: their registry names);
 * encoding a report into a record head through the same field writer and
 * header code as messages (spool_format_int.h), and decoding one; the
 * one rule of who ended a session (session_report_end), which the report
 * and the transcript (io/conn_trace.c) both follow.  It does not gather
 * the report (io/session_log.c does) nor write files.
 *
 * Invariants: the encoder writes at most SESSION_REPORT_*_MAX list entries
 * (the totals count every one); the decoder keeps at most as many, skips
 * unknown tags and unknown verb codes, and rejects a known field of the
 * wrong size.  An unknown reason code decodes as UINT8_MAX (no name), an
 * unknown verb code in a gap as UINT8_MAX too.  Named fault rules: at
 * most SESSION_REPORT_FAULT_RULES_MAX, each text 1..FAULT_TEXT_MAX bytes
 * (a longer one is cut on encoding, rejected on decoding).
 *
 * Workload: one encode per finished session (a few hundred bytes); one
 * decode per session the spool tool lists.
 */
#include "session_report.h"

#include <assert.h>
#include <string.h>

#include "smtp_verbs.h"
#include "spool_format_int.h"

/* Field sizes (enum spool_tag comments). */
#define END_FIELD_BYTES 4u
#define VERB_FIELD_BYTES 8u
#define COUNTS_FIELD_BYTES 36u
#define BYTES_FIELD_BYTES 16u
#define ABORT_FIELD_BYTES 20u
#define GAP_FIELD_BYTES 20u
#define MESSAGE_ID_MAX_BYTES 20u /* as SPOOL_TAG_QUEUE_ID */
#define FAULT_COUNT_BYTES 4u /* SESSION_FAULT: the count before the text */

/* Verb code 255: no command yet (a gap right after the banner). */
#define VERB_CODE_NONE 255u
#define CODE_UNKNOWN 255u /* an enum value without a code (a caller bug) */
#define FLAG_BIT0 1u

/* ---- stable codes and names ---------------------------------------------- */

static const struct {
	uint8_t reason; /* enum smtp_reason */
	uint8_t code;
	const char *name;
} reason_codes[] = {
	{ SMTP_REASON_NONE, 0, "none" },
	{ SMTP_REASON_RSET, 1, "rset" },
	{ SMTP_REASON_HELO, 2, "helo" },
	{ SMTP_REASON_QUIT, 3, "quit" },
	{ SMTP_REASON_EOF, 4, "disconnect" },
	{ SMTP_REASON_TIMEOUT, 5, "timeout" },
	{ SMTP_REASON_SHUTDOWN, 6, "shutdown" },
	{ SMTP_REASON_TOO_BIG, 7, "too-big" },
	{ SMTP_REASON_BARE_LF, 8, "bare-lf" },
	{ SMTP_REASON_BDAT_ERROR, 9, "bdat-error" },
	{ SMTP_REASON_TOO_MANY_ERRORS, 10, "too-many-errors" },
	{ SMTP_REASON_SYNTAX, 11, "syntax" },
	{ SMTP_REASON_SYNC, 12, "sync" },
	{ SMTP_REASON_FAULT, 13, "fault" },
	{ SMTP_REASON_VERDICT, 14, "verdict" },
};
#define REASON_CODE_COUNT (sizeof reason_codes / sizeof reason_codes[0])

/* Quirk bits are explicit values (enum smtp_quirk) and stored as the mask;
 * only their names live here. */
static const struct {
	uint32_t bit;
	const char *name;
} quirk_names[] = {
	{ SMTP_QUIRK_HELO_NO_NAME, "helo-no-name" },
	{ SMTP_QUIRK_NO_HELO, "no-helo" },
	{ SMTP_QUIRK_BARE_LF_COMMAND, "bare-lf-command" },
	{ SMTP_QUIRK_PREGREET, "pregreet" },
	{ SMTP_QUIRK_PIPELINING_UNADVERTISED, "pipelining-unadvertised" },
	{ SMTP_QUIRK_ILL_PIPELINING, "ill-pipelining" },
	{ SMTP_QUIRK_LOWERCASE_VERB, "lowercase-verb" },
	{ SMTP_QUIRK_ODD_SPACING, "odd-spacing" },
	{ SMTP_QUIRK_NO_BRACKETS, "no-brackets" },
	{ SMTP_QUIRK_RSET_FOR_DATA, "rset-for-data" },
	{ SMTP_QUIRK_PIPELINING_NO_EHLO, "pipelining-no-ehlo" },
	{ SMTP_QUIRK_BARE_LF_CONTENT, "bare-lf-content" },
	{ SMTP_QUIRK_BARE_CR_CONTENT, "bare-cr-content" },
	{ SMTP_QUIRK_CONTENT_BEFORE_354, "content-before-354" },
};
#define QUIRK_NAME_COUNT (sizeof quirk_names / sizeof quirk_names[0])

static uint8_t verb_code(uint8_t verb)
{
	const struct smtp_verb_info *info = smtp_verbs_info(verb);
	if (info != NULL)
		return info->code;
	return verb == SMTP_VERB_COUNT ? VERB_CODE_NONE : CODE_UNKNOWN;
}

/* The verb of a code; false for a code this reader does not know. */
static bool verb_of_code(uint8_t code, uint8_t *verb)
{
	enum smtp_verb v;
	if (!smtp_verbs_of_code(code, &v))
		return false;
	*verb = (uint8_t)v;
	return true;
}

static uint8_t reason_code(uint8_t reason)
{
	for (size_t i = 0; i < REASON_CODE_COUNT; i++)
		if (reason_codes[i].reason == reason)
			return reason_codes[i].code;
	return CODE_UNKNOWN;
}

static uint8_t reason_of_code(uint8_t code)
{
	for (size_t i = 0; i < REASON_CODE_COUNT; i++)
		if (reason_codes[i].code == code)
			return reason_codes[i].reason;
	return UINT8_MAX;
}

const char *session_quirk_name(uint32_t bit)
{
	for (size_t i = 0; i < QUIRK_NAME_COUNT; i++)
		if (quirk_names[i].bit == bit)
			return quirk_names[i].name;
	return NULL;
}

uint32_t session_quirk_parse(const char *name)
{
	for (size_t i = 0; i < QUIRK_NAME_COUNT; i++)
		if (strcmp(quirk_names[i].name, name) == 0)
			return quirk_names[i].bit;
	return 0;
}

const char *session_reason_name(uint8_t reason)
{
	for (size_t i = 0; i < REASON_CODE_COUNT; i++)
		if (reason_codes[i].reason == reason)
			return reason_codes[i].name;
	return NULL;
}

const char *session_verb_name(uint8_t verb)
{
	const struct smtp_verb_info *info = smtp_verbs_info(verb);
	return info != NULL ? info->name : NULL;
}

/* ---- encoding ------------------------------------------------------------ */

static uint32_t cut(uint32_t n, uint32_t max)
{
	return n < max ? n : max;
}

static void put_lists(struct spool_meta_writer *w, const struct session_report *r)
{
	for (uint32_t i = 0; i < cut(r->abort_count, SESSION_REPORT_ABORTS_MAX); i++) {
		const struct session_abort *a = &r->aborts[i];
		uint8_t b[ABORT_FIELD_BYTES] = { 0 };
		spool_put64(b, a->at_us);
		spool_put32(b + 8, a->rcpts);
		spool_put32(b + 12, a->rcpts_refused);
		b[16] = reason_code(a->reason);
		b[17] = a->had_data ? FLAG_BIT0 : 0;
		spool_meta_put(w, SPOOL_TAG_SESSION_ABORT, b, sizeof b);
	}
	for (uint32_t i = 0; i < cut(r->gap_count, SESSION_REPORT_GAPS_MAX); i++) {
		const struct session_gap *g = &r->gaps[i];
		uint8_t b[GAP_FIELD_BYTES] = { 0 };
		spool_put64(b, g->at_us);
		spool_put64(b + 8, g->len_us);
		b[16] = verb_code(g->after_verb);
		b[17] = g->in_txn ? FLAG_BIT0 : 0;
		spool_meta_put(w, SPOOL_TAG_SESSION_GAP, b, sizeof b);
	}
	for (uint32_t i = 0; i < cut(r->message_count, SESSION_REPORT_MESSAGES_MAX); i++)
		spool_meta_put(w, SPOOL_TAG_SESSION_MESSAGE, r->messages[i].ptr, r->messages[i].len);
	for (uint32_t i = 0; i < cut(r->fault_rule_count, SESSION_REPORT_FAULT_RULES_MAX); i++) {
		const struct session_fault *f = &r->fault_rules[i];
		uint8_t b[FAULT_COUNT_BYTES + SESSION_REPORT_FAULT_TEXT_MAX];
		size_t len = f->rule.len < SESSION_REPORT_FAULT_TEXT_MAX ? f->rule.len : SESSION_REPORT_FAULT_TEXT_MAX;
		if (len == 0)
			continue; /* a rule has a text: nothing to name */
		spool_put32(b, f->count);
		memcpy(b + FAULT_COUNT_BYTES, f->rule.ptr, len);
		spool_meta_put(w, SPOOL_TAG_SESSION_FAULT, b, FAULT_COUNT_BYTES + len);
	}
}

static void put_counts(struct spool_meta_writer *w, const struct session_report *r)
{
	const uint32_t counts[COUNTS_FIELD_BYTES / 4] = {
		r->pipelined,	   r->errors,	     r->txn_completed, r->txn_refused, r->txn_aborted,
		r->rcpts_accepted, r->rcpts_refused, r->faults,	       r->gaps_total,
	};
	uint8_t b[COUNTS_FIELD_BYTES];
	for (size_t i = 0; i < COUNTS_FIELD_BYTES / 4; i++)
		spool_put32(b + 4 * i, counts[i]);
	spool_meta_put(w, SPOOL_TAG_SESSION_COUNTS, b, sizeof b);
}

/* The field order enum spool_tag documents. */
static void put_meta(struct spool_meta_writer *w, const struct session_report *r)
{
	uint8_t b[BYTES_FIELD_BYTES] = { 0 };
	spool_meta_put(w, SPOOL_TAG_QUEUE_ID, r->id.ptr, r->id.len);
	spool_meta_put_u64(w, SPOOL_TAG_RECEIVED_US, r->connect_us);
	spool_meta_put_u32(w, SPOOL_TAG_SHARD, r->shard);
	spool_meta_put_u32(w, SPOOL_TAG_NODE, r->node);
	spool_meta_put_client(w, r->client_family, r->client_port, r->client_addr);
	spool_meta_put(w, SPOOL_TAG_HELO, r->helo.ptr, r->helo.len);
	spool_meta_put_u64(w, SPOOL_TAG_SESSION_END_US, r->end_us);
	b[0] = reason_code(r->end_reason);
	b[1] = r->ended_by_client ? FLAG_BIT0 : 0;
	spool_meta_put(w, SPOOL_TAG_SESSION_END, b, END_FIELD_BYTES);
	if (r->helo_verb != SMTP_VERB_UNKNOWN) {
		uint8_t code = verb_code(r->helo_verb);
		spool_meta_put(w, SPOOL_TAG_SESSION_HELO_VERB, &code, 1);
	}
	spool_meta_put_u32(w, SPOOL_TAG_SESSION_QUIRKS, r->quirks);
	for (uint8_t v = 0; v < SMTP_VERB_COUNT; v++) {
		if (r->verbs[v] == 0)
			continue;
		uint8_t f[VERB_FIELD_BYTES] = { verb_code(v) };
		spool_put32(f + 4, r->verbs[v]);
		spool_meta_put(w, SPOOL_TAG_SESSION_VERB, f, sizeof f);
	}
	put_counts(w, r);
	spool_put64(b, r->bytes_in);
	spool_put64(b + 8, r->bytes_out);
	spool_meta_put(w, SPOOL_TAG_SESSION_BYTES, b, sizeof b);
	put_lists(w, r);
	if (r->tls.len > 0)
		spool_meta_put(w, SPOOL_TAG_TLS, r->tls.ptr, r->tls.len);
	if (r->tls_sni.len > 0)
		spool_meta_put(w, SPOOL_TAG_TLS_SNI, r->tls_sni.ptr, r->tls_sni.len);
}

static uint32_t meta_len(const struct session_report *r)
{
	struct spool_meta_writer w = { NULL, 0 };
	put_meta(&w, r);
	assert(w.n <= UINT32_MAX); /* at most ~1200 fields of <= 65539 bytes */
	return (uint32_t)w.n;
}

size_t session_report_meta_bytes(const struct session_report *r)
{
	return SPOOL_RECORD_HEADER_BYTES + (size_t)meta_len(r);
}

uint64_t session_report_record_len(const struct session_report *r)
{
	return spool_record_len_for(meta_len(r), 0);
}

void session_report_head(const struct session_report *r, uint64_t synced_before, uint8_t *head)
{
	struct spool_meta_writer w = { head + SPOOL_RECORD_HEADER_BYTES, 0 };
	put_meta(&w, r);
	assert(w.n <= UINT32_MAX);
	spool_record_header(head, (uint32_t)w.n, SPOOL_FLAG_SESSION, 0, synced_before);
}

/* ---- decoding ------------------------------------------------------------ */

/* The size a known tag's value must have; 0: any (text); -1: unknown tag. */
static long field_size(uint8_t tag)
{
	switch (tag) {
	case SPOOL_TAG_QUEUE_ID:
	case SPOOL_TAG_HELO:
	case SPOOL_TAG_SESSION_MESSAGE:
	case SPOOL_TAG_TLS:
	case SPOOL_TAG_TLS_SNI:
	case SPOOL_TAG_SESSION_FAULT:
		return 0;
	case SPOOL_TAG_RECEIVED_US:
	case SPOOL_TAG_SESSION_END_US:
		return 8;
	case SPOOL_TAG_SHARD:
	case SPOOL_TAG_NODE:
	case SPOOL_TAG_SESSION_QUIRKS:
	case SPOOL_TAG_SESSION_END:
		return 4;
	case SPOOL_TAG_CLIENT:
		return SPOOL_CLIENT_FIELD_BYTES;
	case SPOOL_TAG_SESSION_HELO_VERB:
		return 1;
	case SPOOL_TAG_SESSION_VERB:
		return VERB_FIELD_BYTES;
	case SPOOL_TAG_SESSION_COUNTS:
		return COUNTS_FIELD_BYTES;
	case SPOOL_TAG_SESSION_BYTES:
		return BYTES_FIELD_BYTES;
	case SPOOL_TAG_SESSION_ABORT:
		return ABORT_FIELD_BYTES;
	case SPOOL_TAG_SESSION_GAP:
		return GAP_FIELD_BYTES;
	default:
		return -1;
	}
}

static void get_counts(struct session_report *r, const uint8_t *p)
{
	uint32_t *const dst[COUNTS_FIELD_BYTES / 4] = {
		&r->pipelined,	    &r->errors,	       &r->txn_completed, &r->txn_refused, &r->txn_aborted,
		&r->rcpts_accepted, &r->rcpts_refused, &r->faults,	  &r->gaps_total,
	};
	for (size_t i = 0; i < COUNTS_FIELD_BYTES / 4; i++)
		*dst[i] = spool_get32(p + 4 * i);
}

static void get_abort(struct session_report_image *out, const uint8_t *p)
{
	if (out->r.abort_count >= SESSION_REPORT_ABORTS_MAX)
		return;
	struct session_abort *a = &out->aborts[out->r.abort_count++];
	a->at_us = spool_get64(p);
	a->rcpts = spool_get32(p + 8);
	a->rcpts_refused = spool_get32(p + 12);
	a->reason = reason_of_code(p[16]);
	a->had_data = (p[17] & FLAG_BIT0) != 0;
}

static void get_gap(struct session_report_image *out, const uint8_t *p)
{
	if (out->r.gap_count >= SESSION_REPORT_GAPS_MAX)
		return;
	struct session_gap *g = &out->gaps[out->r.gap_count++];
	g->at_us = spool_get64(p);
	g->len_us = spool_get64(p + 8);
	if (p[16] == VERB_CODE_NONE)
		g->after_verb = SMTP_VERB_COUNT;
	else if (!verb_of_code(p[16], &g->after_verb))
		g->after_verb = UINT8_MAX;
	g->in_txn = (p[17] & FLAG_BIT0) != 0;
}

/* A named rule: a count and 1..SESSION_REPORT_FAULT_TEXT_MAX bytes. */
static bool get_fault(struct session_report_image *out, struct smtp_view v)
{
	if (v.len <= FAULT_COUNT_BYTES || v.len > FAULT_COUNT_BYTES + SESSION_REPORT_FAULT_TEXT_MAX)
		return false;
	if (out->r.fault_rule_count < SESSION_REPORT_FAULT_RULES_MAX)
		out->fault_rules[out->r.fault_rule_count++] = (struct session_fault){
			.rule = smtp_view_make(v.ptr + FAULT_COUNT_BYTES, v.len - FAULT_COUNT_BYTES),
			.count = spool_get32(v.ptr),
		};
	return true;
}

static void get_client(struct session_report *r, const uint8_t *p)
{
	r->client_family = p[0];
	r->client_port = spool_get16(p + 2);
	memcpy(r->client_addr, p + 4, sizeof r->client_addr);
}

/* One field whose size was checked; false if its value is not valid. */
static bool get_field(struct session_report_image *out, uint8_t tag, struct smtp_view v)
{
	struct session_report *r = &out->r;
	uint8_t verb;
	switch (tag) {
	case SPOOL_TAG_QUEUE_ID:
		r->id = v;
		break;
	case SPOOL_TAG_RECEIVED_US:
		r->connect_us = spool_get64(v.ptr);
		break;
	case SPOOL_TAG_SHARD:
		r->shard = spool_get32(v.ptr);
		break;
	case SPOOL_TAG_NODE:
		r->node = spool_get32(v.ptr);
		break;
	case SPOOL_TAG_CLIENT:
		get_client(r, v.ptr);
		break;
	case SPOOL_TAG_HELO:
		r->helo = v;
		break;
	case SPOOL_TAG_TLS:
		r->tls = v;
		break;
	case SPOOL_TAG_TLS_SNI:
		r->tls_sni = v;
		break;
	case SPOOL_TAG_SESSION_END_US:
		r->end_us = spool_get64(v.ptr);
		break;
	case SPOOL_TAG_SESSION_END:
		r->end_reason = reason_of_code(v.ptr[0]);
		r->ended_by_client = (v.ptr[1] & FLAG_BIT0) != 0;
		break;
	case SPOOL_TAG_SESSION_HELO_VERB:
		r->helo_verb = verb_of_code(v.ptr[0], &verb) ? verb : UINT8_MAX;
		break;
	case SPOOL_TAG_SESSION_QUIRKS:
		r->quirks = spool_get32(v.ptr);
		break;
	case SPOOL_TAG_SESSION_VERB:
		if (verb_of_code(v.ptr[0], &verb)) /* a newer verb: skipped */
			r->verbs[verb] = spool_get32(v.ptr + 4);
		break;
	case SPOOL_TAG_SESSION_COUNTS:
		get_counts(r, v.ptr);
		break;
	case SPOOL_TAG_SESSION_BYTES:
		r->bytes_in = spool_get64(v.ptr);
		r->bytes_out = spool_get64(v.ptr + 8);
		break;
	case SPOOL_TAG_SESSION_ABORT:
		get_abort(out, v.ptr);
		break;
	case SPOOL_TAG_SESSION_GAP:
		get_gap(out, v.ptr);
		break;
	case SPOOL_TAG_SESSION_MESSAGE:
		if (v.len == 0 || v.len > MESSAGE_ID_MAX_BYTES)
			return false;
		if (r->message_count < SESSION_REPORT_MESSAGES_MAX)
			out->messages[r->message_count++] = v;
		break;
	case SPOOL_TAG_SESSION_FAULT:
		return get_fault(out, v);
	}
	return true;
}

bool session_report_decode(const struct spool_record *rec, struct session_report_image *out)
{
	memset(&out->r, 0, sizeof out->r);
	out->r.aborts = out->aborts;
	out->r.gaps = out->gaps;
	out->r.messages = out->messages;
	out->r.fault_rules = out->fault_rules;
	out->r.helo = smtp_view_make("", 0);
	out->r.id = smtp_view_make("", 0);
	out->r.tls = smtp_view_make("", 0);
	out->r.tls_sni = smtp_view_make("", 0);
	if (!(rec->flags & SPOOL_FLAG_SESSION) || rec->meta == NULL)
		return false;
	size_t pos = 0;
	uint8_t tag;
	struct smtp_view v;
	bool malformed = false;
	while (spool_meta_next(rec, &pos, &tag, &v, &malformed)) {
		long want = field_size(tag);
		if (want < 0)
			continue; /* a newer field: skipped */
		if ((want > 0 && v.len != (size_t)want) || !get_field(out, tag, v))
			return false;
	}
	return !malformed;
}

uint32_t session_report_faults_unnamed(const struct session_report *r)
{
	uint64_t named = 0;
	for (uint32_t i = 0; i < r->fault_rule_count; i++)
		named += r->fault_rules[i].count;
	return named < r->faults ? r->faults - (uint32_t)named : 0;
}

struct session_end session_report_end(bool closed, enum smtp_reason close_reason, enum smtp_reason unclosed_why)
{
	enum smtp_reason why = closed ? close_reason : unclosed_why;
	struct session_end e = { (uint8_t)why, why == SMTP_REASON_QUIT || why == SMTP_REASON_EOF };
	return e;
}
