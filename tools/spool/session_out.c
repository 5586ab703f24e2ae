/*
 * tools/spool/session_out.c - showing session reports (session_out.h).
 *
 * Owns: the session row's columns (sized like ls's: 14-character IDs,
 * second-precision UTC times), the report's lines and the JSON object.
 * Times inside a session are shown relative to its connect time ("+2.1s").
 * Workload: one row or report per session listed; output through stdio.
 */
#include "session_out.h"

#include <ctype.h>
#include <string.h>

#include "json_out.h"
#include "msg.h"
#include "text_out.h"
#include "when.h"

#define COL_ID 14u
#define COL_TIME 20u
#define COL_DURATION 10u
#define COL_CLIENT 21u
#define COL_HELO 24u
#define COL_MSGS 10u
#define ADDR_TEXT_BYTES 64u
#define CLIENT_TEXT_BYTES (ADDR_TEXT_BYTES + 8u)
#define NAME_TEXT_BYTES 32u
#define US_PER_S 1e6

static double seconds(uint64_t us)
{
	return (double)us / US_PER_S;
}

static uint64_t duration_us(const struct session_report *r)
{
	return r->end_us > r->connect_us ? r->end_us - r->connect_us : 0;
}

/* "127.0.0.1:40000", "[::1]:40000" or "unix". */
static void client_text(const struct session_report *r, char *buf, size_t size)
{
	char addr[ADDR_TEXT_BYTES];
	msg_addr_text(r->client_family, r->client_addr, addr, sizeof addr);
	if (addr[0] == '\0')
		snprintf(buf, size, "unix");
	else
		snprintf(buf, size, r->client_family == 6 ? "[%s]:%u" : "%s:%u", addr, r->client_port);
}

/* A verb's name, "?" for one this reader does not know. */
static const char *verb_text(uint8_t verb)
{
	const char *name = session_verb_name(verb);
	return name ? name : "?";
}

/* A reason's name; commands (RSET, HELO, QUIT) in upper case, as sent. */
static const char *reason_text(uint8_t reason, char *buf, size_t size)
{
	const char *name = session_reason_name(reason);
	if (name == NULL)
		return "?";
	snprintf(buf, size, "%s", name);
	if (reason == SMTP_REASON_RSET || reason == SMTP_REASON_HELO || reason == SMTP_REASON_QUIT)
		for (char *p = buf; *p; p++)
			*p = (char)toupper((unsigned char)*p);
	return buf;
}

/* quoted: JSON strings, nothing for none; else plain names, "-" for none. */
static void put_quirks(FILE *f, uint32_t quirks, const char *sep, bool quoted)
{
	const char *q = quoted ? "\"" : "";
	if (quirks == 0 && !quoted)
		fputs("-", f);
	for (unsigned bit = 0, first = 1; bit < 32; bit++) {
		if (!(quirks & (1u << bit)))
			continue;
		const char *name = session_quirk_name(1u << bit);
		fprintf(f, "%s%s", first ? "" : sep, q);
		if (name)
			fputs(name, f);
		else
			fprintf(f, "bit%u", bit);
		fputs(q, f);
		first = 0;
	}
}

void session_out_quirks(FILE *f, uint32_t quirks, const char *sep)
{
	put_quirks(f, quirks, sep, false);
}

void session_out_header(FILE *f)
{
	fprintf(f, "%-*s %-*s %*s %-*s %-*s %*s  %s\n", COL_ID, "SESSION", COL_TIME, "CONNECTED (UTC)", COL_DURATION,
		"DURATION", COL_CLIENT, "CLIENT", COL_HELO, "HELO", COL_MSGS, "OK/REF/AB", "QUIRKS");
}

static void text_row(FILE *f, const struct session_view *s)
{
	const struct session_report *r = &s->img.r;
	char when[WHEN_TEXT_BYTES], client[CLIENT_TEXT_BYTES], msgs[3 * 12];
	text_out_clean(f, r->id.ptr, r->id.len, 0, COL_ID);
	when_iso(r->connect_us, false, when, sizeof when);
	fprintf(f, " %-*s %*.3fs ", COL_TIME, when, COL_DURATION - 1, seconds(duration_us(r)));
	client_text(r, client, sizeof client);
	text_out_clean(f, (const uint8_t *)client, strlen(client), COL_CLIENT, COL_CLIENT);
	fputc(' ', f);
	if (r->helo.len)
		text_out_clean(f, r->helo.ptr, r->helo.len, COL_HELO, COL_HELO);
	else
		text_out_clean(f, (const uint8_t *)"-", 1, COL_HELO, COL_HELO);
	snprintf(msgs, sizeof msgs, "%u/%u/%u", r->txn_completed, r->txn_refused, r->txn_aborted);
	fprintf(f, " %*s  ", COL_MSGS, msgs);
	session_out_quirks(f, r->quirks, ",");
	fputc('\n', f);
}

void session_out_row(FILE *f, const struct session_view *s, bool json)
{
	if (json)
		session_out_json(f, s);
	else
		text_row(f, s);
}

/* ---- the whole report ---------------------------------------------------- */

static void label(FILE *f, const char *name)
{
	fprintf(f, "%-14s ", name);
}

static void report_commands(FILE *f, const struct session_report *r)
{
	label(f, "Commands:");
	bool any = false;
	for (uint8_t v = 0; v < SMTP_VERB_COUNT; v++) {
		if (r->verbs[v] == 0)
			continue;
		fprintf(f, "%s%s %u", any ? ", " : "", verb_text(v), r->verbs[v]);
		any = true;
	}
	fprintf(f, "%s (%u pipelined, %u client errors)\n", any ? "" : "none", r->pipelined, r->errors);
}

static void report_aborts(FILE *f, const struct session_report *r)
{
	char why[NAME_TEXT_BYTES];
	for (uint32_t i = 0; i < r->abort_count; i++) {
		const struct session_abort *a = &r->aborts[i];
		label(f, i == 0 ? "Aborted:" : "");
		fprintf(f, "aborted at +%.3fs: MAIL, %u RCPT (%u refused), %s, ended by %s\n", seconds(a->at_us),
			a->rcpts, a->rcpts_refused, a->had_data ? "DATA begun" : "no DATA",
			reason_text(a->reason, why, sizeof why));
	}
	if (r->txn_aborted > r->abort_count)
		fprintf(f, "%-14s (%u more not kept)\n", "", r->txn_aborted - r->abort_count);
}

static void report_gaps(FILE *f, const struct session_report *r)
{
	for (uint32_t i = 0; i < r->gap_count; i++) {
		const struct session_gap *g = &r->gaps[i];
		label(f, i == 0 ? "Idle:" : "");
		fprintf(f, "idle %.1fs at +%.1fs ", seconds(g->len_us), seconds(g->at_us));
		if (g->after_verb == SMTP_VERB_COUNT)
			fputs("after the banner", f);
		else
			fprintf(f, "after %s", verb_text(g->after_verb));
		fputs(g->in_txn ? " (in a transaction)\n" : "\n", f);
	}
	if (r->gaps_total > r->gap_count)
		fprintf(f, "%-14s (%u more not kept)\n", "", r->gaps_total - r->gap_count);
}

static void report_where(FILE *f, const struct session_view *s)
{
	const struct session_report *r = &s->img.r;
	char when[WHEN_TEXT_BYTES], client[CLIENT_TEXT_BYTES];
	label(f, "Session:");
	text_out_clean(f, r->id.ptr, r->id.len, 0, 0);
	when_iso(r->connect_us, true, when, sizeof when);
	fprintf(f, "\n%-14s %s (%llu us since the epoch)\n", "Connected:", when, (unsigned long long)r->connect_us);
	when_iso(r->end_us, true, when, sizeof when);
	fprintf(f, "%-14s %s (after %.3fs)\n", "Ended:", when, seconds(duration_us(r)));
	fprintf(f, "%-14s shard-%02u/%08llu.seg offset %llu (shard %u, node %u)\n", "Stored in:", s->shard,
		(unsigned long long)s->segno, (unsigned long long)s->offset, r->shard, r->node);
	client_text(r, client, sizeof client);
	label(f, "Client:");
	text_out_clean(f, (const uint8_t *)client, strlen(client), 0, 0);
	fputc('\n', f);
	label(f, "HELO:");
	if (r->helo_verb == SMTP_VERB_UNKNOWN)
		fputs("none given", f);
	else
		fprintf(f, "%s ", verb_text(r->helo_verb));
	if (r->helo.len)
		text_out_clean(f, r->helo.ptr, r->helo.len, 0, 0);
	else if (r->helo_verb != SMTP_VERB_UNKNOWN)
		fputs("(no name)", f);
	fputc('\n', f);
	if (r->tls.len) { /* "TLS: TLSv1.3 TLS_AES_256_GCM_SHA384 (SNI mx.example)" */
		label(f, "TLS:");
		text_out_tls(f, r->tls, r->tls_sni);
	}
}

/* "5 fired", then a line per named rule ("3 x RULE") and the firings of
 * rules not named. */
static void report_faults(FILE *f, const struct session_report *r)
{
	fprintf(f, "%-14s %u fired\n", "Faults:", r->faults);
	for (uint32_t i = 0; i < r->fault_rule_count; i++) {
		const struct session_fault *x = &r->fault_rules[i];
		fprintf(f, "%-14s %u x ", "", x->count);
		text_out_clean(f, x->rule.ptr, x->rule.len, 0, 0);
		fputc('\n', f);
	}
	uint32_t unnamed = session_report_faults_unnamed(r);
	if (unnamed > 0 && r->fault_rule_count > 0)
		fprintf(f, "%-14s %u x other rules (not named: over %u rules)\n", "", unnamed,
			SESSION_REPORT_FAULT_RULES_MAX);
}

void session_out_report(FILE *f, const struct session_view *s)
{
	const struct session_report *r = &s->img.r;
	char why[NAME_TEXT_BYTES];
	report_where(f, s);
	report_commands(f, r);
	fprintf(f, "%-14s %u completed, %u refused, %u aborted\n", "Transactions:", r->txn_completed, r->txn_refused,
		r->txn_aborted);
	fprintf(f, "%-14s %u accepted, %u refused\n", "Recipients:", r->rcpts_accepted, r->rcpts_refused);
	report_aborts(f, r);
	report_gaps(f, r);
	label(f, "Quirks:");
	session_out_quirks(f, r->quirks, " ");
	fputc('\n', f);
	report_faults(f, r);
	fprintf(f, "%-14s %llu in, %llu out\n", "Bytes:", (unsigned long long)r->bytes_in,
		(unsigned long long)r->bytes_out);
	fprintf(f, "%-14s %s (%s closed)\n", "End:", reason_text(r->end_reason, why, sizeof why),
		r->ended_by_client ? "the client" : "the server");
	label(f, "Messages:");
	for (uint32_t i = 0; i < r->message_count; i++) {
		fputs(i ? " " : "", f);
		text_out_clean(f, r->messages[i].ptr, r->messages[i].len, 0, 0);
	}
	if (r->message_count == 0)
		fputs("-", f);
	else if (r->txn_completed > r->message_count)
		fprintf(f, " (%u more not kept)", r->txn_completed - r->message_count);
	fputc('\n', f);
}

/* ---- JSON ---------------------------------------------------------------- */

static void json_name(FILE *f, const char *key, const char *name)
{
	fprintf(f, ",\"%s\":", key);
	if (name)
		json_out_str(f, (const uint8_t *)name, strlen(name));
	else
		fputs("null", f);
}

static void json_time(FILE *f, const char *key, uint64_t us)
{
	char when[WHEN_TEXT_BYTES];
	when_iso(us, true, when, sizeof when);
	fprintf(f, ",\"%s\":\"%s\",\"%s_us\":%llu", key, when, key, (unsigned long long)us);
}

static void json_lists(FILE *f, const struct session_report *r)
{
	fputs(",\"aborts\":[", f);
	for (uint32_t i = 0; i < r->abort_count; i++) {
		const struct session_abort *a = &r->aborts[i];
		fprintf(f, "%s{\"at_us\":%llu,\"rcpts\":%u,\"rcpts_refused\":%u,\"data\":%s", i ? "," : "",
			(unsigned long long)a->at_us, a->rcpts, a->rcpts_refused, a->had_data ? "true" : "false");
		json_name(f, "reason", session_reason_name(a->reason));
		fputc('}', f);
	}
	fputs("],\"gaps\":[", f);
	for (uint32_t i = 0; i < r->gap_count; i++) {
		const struct session_gap *g = &r->gaps[i];
		fprintf(f, "%s{\"at_us\":%llu,\"len_us\":%llu,\"in_txn\":%s", i ? "," : "",
			(unsigned long long)g->at_us, (unsigned long long)g->len_us, g->in_txn ? "true" : "false");
		json_name(f, "after", g->after_verb == SMTP_VERB_COUNT ? NULL : verb_text(g->after_verb));
		fputc('}', f);
	}
	fputs("],\"messages\":[", f);
	for (uint32_t i = 0; i < r->message_count; i++) {
		fputs(i ? "," : "", f);
		json_out_str(f, r->messages[i].ptr, r->messages[i].len);
	}
	fputs("],\"fault_rules\":[", f);
	for (uint32_t i = 0; i < r->fault_rule_count; i++) {
		fputs(i ? ",{\"rule\":" : "{\"rule\":", f);
		json_out_str(f, r->fault_rules[i].rule.ptr, r->fault_rules[i].rule.len);
		fprintf(f, ",\"count\":%u}", r->fault_rules[i].count);
	}
	fprintf(f, "],\"faults_unnamed\":%u", session_report_faults_unnamed(r));
}

static void json_counts(FILE *f, const struct session_report *r)
{
	fputs(",\"verbs\":{", f);
	for (uint8_t v = 0, first = 1; v < SMTP_VERB_COUNT; v++) {
		if (r->verbs[v] == 0)
			continue;
		fprintf(f, "%s\"%s\":%u", first ? "" : ",", verb_text(v), r->verbs[v]);
		first = 0;
	}
	fprintf(f,
		"},\"pipelined\":%u,\"errors\":%u,\"completed\":%u,\"refused\":%u,\"aborted\":%u,"
		"\"rcpts_accepted\":%u,\"rcpts_refused\":%u,\"faults\":%u,\"gaps_total\":%u,\"bytes_in\":%llu,"
		"\"bytes_out\":%llu",
		r->pipelined, r->errors, r->txn_completed, r->txn_refused, r->txn_aborted, r->rcpts_accepted,
		r->rcpts_refused, r->faults, r->gaps_total, (unsigned long long)r->bytes_in,
		(unsigned long long)r->bytes_out);
}

void session_out_json(FILE *f, const struct session_view *s)
{
	const struct session_report *r = &s->img.r;
	fputs("{\"id\":", f);
	json_out_str(f, r->id.ptr, r->id.len);
	json_time(f, "connect", r->connect_us);
	json_time(f, "end", r->end_us);
	fprintf(f, ",\"duration_us\":%llu,\"shard\":%u,\"node\":%u", (unsigned long long)duration_us(r), r->shard,
		r->node);
	json_out_client(f, r->client_family, r->client_addr, r->client_port);
	fputs(",\"helo\":", f);
	json_out_str(f, r->helo.ptr, r->helo.len);
	json_name(f, "helo_verb", r->helo_verb == SMTP_VERB_UNKNOWN ? NULL : verb_text(r->helo_verb));
	fputs(",\"tls\":", f);
	json_out_str(f, r->tls.ptr, r->tls.len);
	fputs(",\"tls_sni\":", f);
	json_out_str(f, r->tls_sni.ptr, r->tls_sni.len);
	fputs(",\"quirks\":[", f);
	put_quirks(f, r->quirks, ",", true);
	fputc(']', f);
	json_name(f, "end_reason", session_reason_name(r->end_reason));
	fprintf(f, ",\"closed_by\":\"%s\"", r->ended_by_client ? "client" : "server");
	json_counts(f, r);
	json_lists(f, r);
	fprintf(f, ",\"segment\":%llu,\"file\":\"shard-%02u/%08llu.seg\",\"offset\":%llu}\n",
		(unsigned long long)s->segno, s->shard, (unsigned long long)s->segno, (unsigned long long)s->offset);
}
