/*
 * tools/spool/filter.h - which messages a command looks at: --from, --to,
 * --subject (glob patterns) and --since, --until (times).
 *
 * Owns: the filter options (shared by ls, export, follow and wait; the
 * times also by sessions), their
 * checking, and matching a message, reading no more of it than needed:
 * the time comes from the index entry, sender and recipients from the
 * record's metadata, the Subject from the body's first header block only
 * when a --subject pattern or the output asks for it.
 *
 * Patterns are fnmatch(3) globs (*, ?, [...]), matched case-insensitively
 * against the whole value: --to 'bob@example.com' is an exact address,
 * --to '*@example.com' a domain, --subject '*invoice*' a substring.
 * --from matches the reverse-path without <> (the null sender is ''),
 * --to matches if any recipient does, --subject the decoded Subject ('' if
 * the message has none).  --since is inclusive, --until exclusive.
 */
#ifndef SMTPSINK_SPOOL_FILTER_H
#define SMTPSINK_SPOOL_FILTER_H

#include <stdbool.h>
#include <stdint.h>

#include "cli.h"
#include "msg.h"
#include "seg_reader.h"
#include "spool_walk.h"

#define FILTER_HELP_BYTES 96u

struct filter_args {
	const char *from, *to, *subject, *since, *until;
	char help[2][FILTER_HELP_BYTES]; /* --since/--until help texts */
};

struct filter {
	const char *from, *to, *subject; /* NULL: any */
	struct spool_walk_range range;
};

/* Add --from, --to, --subject, --since, --until to a command's table. */
void filter_cli(struct cli *c, struct filter_args *a);
/* Add --to, --from, --subject only (wait: times make no sense there). */
void filter_cli_patterns(struct cli *c, struct filter_args *a);
/* Add --since, --until only; what: "received", "connected" (the help). */
void filter_cli_times(struct cli *c, struct filter_args *a, const char *what);

/* Check the arguments; 0, or -1 after printing what is wrong. */
int filter_compile(struct filter *f, const struct filter_args *a, uint64_t now_us);

enum filter_result {
	FILTER_NO,
	FILTER_YES,
	FILTER_DAMAGED, /* the record could not be read (a warning was printed) */
};

/* Decide about entry e of segment r.  On FILTER_YES, m holds the decoded
 * message (and its Subject if want_subject or a subject pattern). */
/* Session reports (SPOOL_FLAG_SESSION) are never selected: they are not
 * messages. */
enum filter_result filter_select(const struct filter *f, const struct seg_reader *r, const struct spool_index_entry *e,
				 bool want_subject, struct msg *m);

struct remote_row;
/* The same for a --remote node's row (remote_list.h): the time and the
 * Subject only (--from and --to are refused with nodes: cmd_ls.c). */
bool filter_select_remote(const struct filter *f, const struct remote_row *row);

#endif
