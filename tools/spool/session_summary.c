/*
 * tools/spool/session_summary.c - totals over session reports (see
 * session_summary.h).
 *
 * Closing reasons are counted by (who, reason) in a fixed table indexed by
 * the decoded reason (UINT8_MAX: a code this reader does not know);
 * quirks by bit; rules and clients in tallies (tally.h).  A client's key
 * is its family byte and 16 address bytes, so IPv4 and its IPv6-mapped
 * form stay apart, as the server saw them.
 */
#include "session_summary.h"

#include <stdlib.h>
#include <string.h>

#include "json_out.h"
#include "msg.h"
#include "tally.h"
#include "text_out.h"
#include "when.h"

#define REASONS 256u /* decoded reasons are uint8_t */
#define CLIENT_KEY_BYTES 17u
#define ADDR_TEXT_BYTES 64u
#define UNNAMED_RULE "(not named)"

enum outcome {
	OUT_COMPLETED,
	OUT_REFUSED,
	OUT_ABORTED,
	OUT_COUNT
};

static const char *const outcome_names[OUT_COUNT] = { "completed", "refused", "aborted" };

struct session_summary {
	uint64_t sessions, first_us, last_us;
	uint64_t txns[OUT_COUNT], txn_sessions[OUT_COUNT], no_txn;
	uint64_t mail_refused, rcpts_accepted, rcpts_refused, errors, refusal_sessions;
	uint64_t closed[2][REASONS]; /* [by_client][reason]: sessions */
	uint64_t quirks[32];
	uint64_t firings, fault_sessions, unnamed, unnamed_sessions;
	struct tally rules; /* n[0] firings, n[1] sessions */
	struct tally clients; /* n[0] sessions, n[1] messages */
};

uint32_t session_mail_refused(const struct session_report *r)
{
	uint64_t txns = (uint64_t)r->txn_completed + r->txn_refused + r->txn_aborted;
	uint32_t mails = r->verbs[SMTP_VERB_MAIL];
	return mails > txns ? mails - (uint32_t)txns : 0;
}

bool session_had_refusal(const struct session_report *r)
{
	return r->txn_refused > 0 || r->rcpts_refused > 0 || r->errors > 0 || session_mail_refused(r) > 0;
}

struct session_summary *session_summary_new(void)
{
	return calloc(1, sizeof(struct session_summary));
}

void session_summary_free(struct session_summary *s)
{
	if (s == NULL)
		return;
	tally_free(&s->rules);
	tally_free(&s->clients);
	free(s);
}

static bool add_faults(struct session_summary *s, const struct session_report *r)
{
	s->firings += r->faults;
	s->fault_sessions += r->faults > 0;
	for (uint32_t i = 0; i < r->fault_rule_count; i++) {
		struct tally_row *row = tally_get(&s->rules, r->fault_rules[i].rule.ptr, r->fault_rules[i].rule.len);
		if (row == NULL)
			return false;
		row->n[0] += r->fault_rules[i].count;
		row->n[1]++;
	}
	uint32_t unnamed = session_report_faults_unnamed(r);
	s->unnamed += unnamed;
	s->unnamed_sessions += unnamed > 0;
	return true;
}

bool session_summary_add(struct session_summary *s, const struct session_report *r)
{
	const uint32_t txns[OUT_COUNT] = { r->txn_completed, r->txn_refused, r->txn_aborted };
	if (s->sessions == 0 || r->connect_us < s->first_us)
		s->first_us = r->connect_us;
	if (r->connect_us > s->last_us)
		s->last_us = r->connect_us;
	s->sessions++;
	for (int o = 0; o < OUT_COUNT; o++) {
		s->txns[o] += txns[o];
		s->txn_sessions[o] += txns[o] > 0;
	}
	s->no_txn += txns[OUT_COMPLETED] + txns[OUT_REFUSED] + txns[OUT_ABORTED] == 0;
	s->mail_refused += session_mail_refused(r);
	s->rcpts_accepted += r->rcpts_accepted;
	s->rcpts_refused += r->rcpts_refused;
	s->errors += r->errors;
	s->refusal_sessions += session_had_refusal(r);
	s->closed[r->ended_by_client][r->end_reason]++;
	for (unsigned bit = 0; bit < 32; bit++)
		s->quirks[bit] += (r->quirks >> bit) & 1u;
	uint8_t key[CLIENT_KEY_BYTES] = { r->client_family };
	memcpy(key + 1, r->client_addr, sizeof r->client_addr);
	struct tally_row *row = tally_get(&s->clients, key, sizeof key);
	if (row == NULL)
		return false;
	row->n[0]++;
	row->n[1] += r->txn_completed;
	return add_faults(s, r);
}

/* A reason's name; "?" for one this reader does not know. */
static const char *reason_name(unsigned reason)
{
	const char *name = session_reason_name((uint8_t)reason);
	return name != NULL ? name : "?";
}

/* A quirk's name, or "bitN" in buf. */
static const char *quirk_name(unsigned bit, char *buf, size_t size)
{
	const char *name = session_quirk_name(1u << bit);
	if (name != NULL)
		return name;
	snprintf(buf, size, "bit%u", bit);
	return buf;
}

static void client_addr(const struct tally_row *row, char *buf, size_t size)
{
	msg_addr_text(row->key[0], row->key + 1, buf, size);
	if (buf[0] == '\0')
		snprintf(buf, size, "unix");
}

/* The first and last connect times, to the second or the microsecond. */
static void connect_range(const struct session_summary *s, bool micro, char first[WHEN_TEXT_BYTES],
			  char last[WHEN_TEXT_BYTES])
{
	when_iso(s->first_us, micro, first, WHEN_TEXT_BYTES);
	when_iso(s->last_us, micro, last, WHEN_TEXT_BYTES);
}

/* ---- the table ----------------------------------------------------------- */

static void text_outcomes(FILE *f, const struct session_summary *s)
{
	char first[WHEN_TEXT_BYTES], last[WHEN_TEXT_BYTES];
	connect_range(s, false, first, last);
	fprintf(f, "Sessions: %llu", (unsigned long long)s->sessions);
	if (s->sessions > 0)
		fprintf(f, ", connected %s to %s", first, last);
	fprintf(f, "\n\n%-16s %12s %10s\n", "OUTCOME", "TRANSACTIONS", "SESSIONS");
	for (int o = 0; o < OUT_COUNT; o++)
		fprintf(f, "%-16s %12llu %10llu\n", outcome_names[o], (unsigned long long)s->txns[o],
			(unsigned long long)s->txn_sessions[o]);
	fprintf(f, "%-16s %12s %10llu\n", "no transaction", "-", (unsigned long long)s->no_txn);
	fprintf(f,
		"\nRefused: %llu MAIL, %llu RCPT (%llu accepted), %llu client errors; %llu sessions with a refusal\n",
		(unsigned long long)s->mail_refused, (unsigned long long)s->rcpts_refused,
		(unsigned long long)s->rcpts_accepted, (unsigned long long)s->errors,
		(unsigned long long)s->refusal_sessions);
}

static void text_closed_quirks(FILE *f, const struct session_summary *s)
{
	fprintf(f, "\n%-6s %-16s %10s\n", "CLOSED", "REASON", "SESSIONS");
	for (int by = 1; by >= 0; by--)
		for (unsigned reason = 0; reason < REASONS; reason++)
			if (s->closed[by][reason] != 0)
				fprintf(f, "%-6s %-16s %10llu\n", by ? "client" : "server", reason_name(reason),
					(unsigned long long)s->closed[by][reason]);
	char buf[16];
	fprintf(f, "\n%-24s %10s\n", "QUIRK", "SESSIONS");
	for (unsigned bit = 0; bit < 32; bit++)
		if (s->quirks[bit] != 0)
			fprintf(f, "%-24s %10llu\n", quirk_name(bit, buf, sizeof buf),
				(unsigned long long)s->quirks[bit]);
}

static void text_rules_clients(FILE *f, const struct session_summary *s)
{
	fprintf(f, "\nFault rules: %llu firings in %llu sessions\n%10s %10s  %s\n", (unsigned long long)s->firings,
		(unsigned long long)s->fault_sessions, "FIRINGS", "SESSIONS", "RULE");
	for (size_t i = 0; i < s->rules.count; i++) {
		const struct tally_row *row = &s->rules.rows[i];
		fprintf(f, "%10llu %10llu  ", (unsigned long long)row->n[0], (unsigned long long)row->n[1]);
		text_out_clean(f, row->key, row->len, 0, 0);
		fputc('\n', f);
	}
	if (s->unnamed != 0)
		fprintf(f, "%10llu %10llu  %s\n", (unsigned long long)s->unnamed,
			(unsigned long long)s->unnamed_sessions, UNNAMED_RULE);
	fprintf(f, "\n%10s %10s  %s\n", "SESSIONS", "MESSAGES", "CLIENT");
	for (size_t i = 0; i < s->clients.count; i++) {
		char addr[ADDR_TEXT_BYTES];
		client_addr(&s->clients.rows[i], addr, sizeof addr);
		fprintf(f, "%10llu %10llu  %s\n", (unsigned long long)s->clients.rows[i].n[0],
			(unsigned long long)s->clients.rows[i].n[1], addr);
	}
}

/* ---- JSON ---------------------------------------------------------------- */

static void json_head(FILE *f, const struct session_summary *s)
{
	char first[WHEN_TEXT_BYTES], last[WHEN_TEXT_BYTES];
	connect_range(s, true, first, last);
	fprintf(f, "{\"sessions\":%llu", (unsigned long long)s->sessions);
	if (s->sessions > 0)
		fprintf(f,
			",\"first_connect\":\"%s\",\"first_connect_us\":%llu,\"last_connect\":\"%s\",\"last_connect_"
			"us\":%llu",
			first, (unsigned long long)s->first_us, last, (unsigned long long)s->last_us);
	fputs(",\"outcomes\":{", f);
	for (int o = 0; o < OUT_COUNT; o++)
		fprintf(f, "\"%s\":{\"transactions\":%llu,\"sessions\":%llu},", outcome_names[o],
			(unsigned long long)s->txns[o], (unsigned long long)s->txn_sessions[o]);
	fprintf(f,
		"\"none\":{\"sessions\":%llu}},\"mail_refused\":%llu,\"rcpts_accepted\":%llu,\"rcpts_refused\":%llu,"
		"\"errors\":%llu,\"refused_sessions\":%llu",
		(unsigned long long)s->no_txn, (unsigned long long)s->mail_refused,
		(unsigned long long)s->rcpts_accepted, (unsigned long long)s->rcpts_refused,
		(unsigned long long)s->errors, (unsigned long long)s->refusal_sessions);
}

static void json_closed_quirks(FILE *f, const struct session_summary *s)
{
	fputs(",\"closed\":[", f);
	bool first = true;
	for (int by = 1; by >= 0; by--)
		for (unsigned reason = 0; reason < REASONS; reason++) {
			if (s->closed[by][reason] == 0)
				continue;
			fprintf(f, "%s{\"by\":\"%s\",\"reason\":", first ? "" : ",", by ? "client" : "server");
			const char *name = session_reason_name((uint8_t)reason);
			if (name != NULL)
				fprintf(f, "\"%s\"", name);
			else
				fputs("null", f);
			fprintf(f, ",\"sessions\":%llu}", (unsigned long long)s->closed[by][reason]);
			first = false;
		}
	fputs("],\"quirks\":{", f);
	char buf[16];
	first = true;
	for (unsigned bit = 0; bit < 32; bit++)
		if (s->quirks[bit] != 0) {
			fprintf(f, "%s\"%s\":%llu", first ? "" : ",", quirk_name(bit, buf, sizeof buf),
				(unsigned long long)s->quirks[bit]);
			first = false;
		}
	fputc('}', f);
}

static void json_rules_clients(FILE *f, const struct session_summary *s)
{
	fprintf(f,
		",\"faults\":{\"firings\":%llu,\"sessions\":%llu,\"unnamed\":%llu,\"unnamed_sessions\":%llu,\"rules\":"
		"[",
		(unsigned long long)s->firings, (unsigned long long)s->fault_sessions, (unsigned long long)s->unnamed,
		(unsigned long long)s->unnamed_sessions);
	for (size_t i = 0; i < s->rules.count; i++) {
		const struct tally_row *row = &s->rules.rows[i];
		fputs(i ? ",{\"rule\":" : "{\"rule\":", f);
		json_out_str(f, row->key, row->len);
		fprintf(f, ",\"firings\":%llu,\"sessions\":%llu}", (unsigned long long)row->n[0],
			(unsigned long long)row->n[1]);
	}
	fputs("]},\"clients\":[", f);
	for (size_t i = 0; i < s->clients.count; i++) {
		const struct tally_row *row = &s->clients.rows[i];
		char addr[ADDR_TEXT_BYTES];
		client_addr(row, addr, sizeof addr);
		fprintf(f, "%s{\"family\":\"%s\",\"addr\":\"%s\",\"sessions\":%llu,\"messages\":%llu}", i ? "," : "",
			row->key[0] == 4 ? "ipv4" :
			row->key[0] == 6 ? "ipv6" :
					   "unix",
			row->key[0] ? addr : "", (unsigned long long)row->n[0], (unsigned long long)row->n[1]);
	}
	fputs("]}\n", f);
}

void session_summary_print(FILE *f, struct session_summary *s, bool json)
{
	tally_sort(&s->rules);
	tally_sort(&s->clients);
	if (json) {
		json_head(f, s);
		json_closed_quirks(f, s);
		json_rules_clients(f, s);
		return;
	}
	text_outcomes(f, s);
	text_closed_quirks(f, s);
	text_rules_clients(f, s);
}
