/*
 * tools/spool/filter.c - filter options and matching (filter.h).
 *
 * Owns: the cheapest-first order of the tests (time from the index entry,
 * then the envelope from the metadata, then the Subject) and the warning
 * for a record that cannot be read while listing.  Values are matched as
 * NUL-terminated copies cut at FILTER_VALUE_MAX_BYTES (an address is at
 * most 256 octets, RFC 5321 4.5.3.1.3).
 */
#define _GNU_SOURCE
#include "filter.h"

#include "remote_list.h"

#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

#include "report.h"
#include "when.h"

#define FILTER_VALUE_MAX_BYTES 1024u

void filter_cli_patterns(struct cli *c, struct filter_args *a)
{
	cli_add(c, cli_string("from", &a->from, "PAT", "sender matches this glob ('' for the null sender)"));
	cli_add(c, cli_string("to", &a->to, "PAT", "a recipient matches this glob"));
	cli_add(c, cli_string("subject", &a->subject, "PAT", "Subject matches this glob (e.g. '*invoice*')"));
}

void filter_cli_times(struct cli *c, struct filter_args *a, const char *what)
{
	char *since = a->help[0], *until = a->help[1];
	snprintf(since, FILTER_HELP_BYTES, "%s at or after TIME (2026-11-28T12:00:00Z, -2h, epoch)", what);
	snprintf(until, FILTER_HELP_BYTES, "%s before TIME", what);
	cli_add(c, cli_string("since", &a->since, "TIME", since));
	cli_add(c, cli_string("until", &a->until, "TIME", until));
}

void filter_cli(struct cli *c, struct filter_args *a)
{
	filter_cli_patterns(c, a);
	filter_cli_times(c, a, "received");
}

static int parse_time(const char *opt, const char *v, uint64_t now_us, uint64_t *us)
{
	if (when_parse(v, now_us, us) == 0)
		return 0;
	report_error("--%s '%s': not a time (use 2026-11-28T12:00:00Z, 2026-11-28, -10m, -2h, -1d or epoch seconds)",
		     opt, v);
	return -1;
}

int filter_compile(struct filter *f, const struct filter_args *a, uint64_t now_us)
{
	f->from = a->from;
	f->to = a->to;
	f->subject = a->subject;
	f->range.since_us = 0;
	f->range.until_us = UINT64_MAX;
	if (a->since && parse_time("since", a->since, now_us, &f->range.since_us) != 0)
		return -1;
	if (a->until && parse_time("until", a->until, now_us, &f->range.until_us) != 0)
		return -1;
	if (a->until && f->range.until_us > 0)
		f->range.until_us--; /* exclusive; the walk's bound is inclusive */
	if (f->range.since_us > f->range.until_us) {
		report_error("--since is not before --until: nothing can match");
		return -1;
	}
	return 0;
}

static bool glob_match(const char *pat, const uint8_t *p, size_t len)
{
	char v[FILTER_VALUE_MAX_BYTES];
	if (len >= sizeof v)
		len = sizeof v - 1;
	memcpy(v, p, len);
	v[len] = '\0';
	return fnmatch(pat, v, FNM_CASEFOLD) == 0;
}

static bool match_rcpts(const char *pat, const struct msg *m)
{
	size_t pos = 0;
	struct smtp_view addr, params;
	while (msg_rcpt_next(m, &pos, &addr, &params))
		if (glob_match(pat, addr.ptr, addr.len))
			return true;
	return false;
}

enum filter_result filter_select(const struct filter *f, const struct seg_reader *r, const struct spool_index_entry *e,
				 bool want_subject, struct msg *m)
{
	if (e->received_us < f->range.since_us || e->received_us > f->range.until_us)
		return FILTER_NO;
	if (e->flags & SPOOL_FLAG_SESSION)
		return FILTER_NO; /* a session report, not a message */
	enum msg_status st = seg_reader_msg(r, e, false, m);
	if (st != MSG_OK) {
		spool_walk_warn_record(r, e, msg_status_text(st));
		return FILTER_DAMAGED;
	}
	if (f->from && !glob_match(f->from, m->mail_from.ptr, m->mail_from.len))
		return FILTER_NO;
	if (f->to && !match_rcpts(f->to, m))
		return FILTER_NO;
	if (f->subject || want_subject)
		msg_read_subject(m);
	if (f->subject && !glob_match(f->subject, (const uint8_t *)m->subject, m->subject_len))
		return FILTER_NO;
	return FILTER_YES;
}

bool filter_select_remote(const struct filter *f, const struct remote_row *row)
{
	if (row->received_us < f->range.since_us || row->received_us > f->range.until_us)
		return false;
	return f->subject == NULL || glob_match(f->subject, (const uint8_t *)row->subject, strlen(row->subject));
}
