/*
 * tools/spool/export.h - writing messages out of the spool, in the formats
 * mail tools read.
 *
 * Owns the three formats:
 *  - eml: DIR/<queue ID>.eml, the message byte-exact.  Written to a
 *    temporary name and renamed, so a reader never sees half a file; an
 *    export repeated into the same DIR replaces the files.
 *  - mbox: one FILE (replaced), mboxrd: each message starts with
 *    "From SENDER DATE" (asctime, UTC; MAILER-DAEMON for the null sender),
 *    every line that matches /^>*From / gets one more '>', and a blank
 *    line follows it.  The From_ line is ASCII: a sender it cannot hold
 *    exactly (8-bit, blanks, controls) is written there with '_' for those
 *    bytes, and the message is preceded by the header
 *    "X-Smtpsink-Envelope-From: <SENDER>".  A message whose last line has
 *    no line end gets a "\n" (mbox cannot say otherwise): reading back and
 *    undoing the '>' quoting (and removing that header when there is one)
 *    gives the message byte-exact in every other case.
 *  - maildir: DIR/{tmp,new,cur}; each message is written in tmp/ and
 *    renamed into new/ as "SECONDS.M<usec>Q<queue ID>.HOST" (the queue ID
 *    makes the name unique; a repeated export replaces the same file).
 * Does not choose which messages (cmd_export.c does) nor verify them: it
 * is handed verified records.
 */
#ifndef SMTPSINK_SPOOL_EXPORT_H
#define SMTPSINK_SPOOL_EXPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "msg.h"

enum export_kind {
	EXPORT_EML,
	EXPORT_MBOX,
	EXPORT_MAILDIR
};

#define EXPORT_HOST_BYTES 64u
/* mbox: the envelope sender, when the From_ line cannot hold it exactly. */
#define EXPORT_ENVELOPE_FROM_HEADER "X-Smtpsink-Envelope-From"

struct exporter {
	enum export_kind kind;
	const char *path;
	int dir_fd; /* eml: DIR; maildir: DIR */
	FILE *mbox;
	char host[EXPORT_HOST_BYTES]; /* maildir names */
	uint64_t count, bytes;
};

/* 0 or -errno (the directory or file cannot be made). */
int export_open(struct exporter *x, enum export_kind kind, const char *path);
/* Can m's queue ID name its file (eml, Maildir)?  Only 0-9A-Za-z: a
 * record salvaged from damage may carry any bytes there. */
bool export_name_ok(const struct msg *m);
/* 0 or -errno. */
int export_write(struct exporter *x, const struct msg *m);
/* Flush and close: 0 or -errno. */
int export_close(struct exporter *x);

#endif
