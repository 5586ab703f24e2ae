/*
 * tools/spool/remote_list.h - what `ls` and `show`/`cat` read from
 * --remote nodes: the message list (GET /api/v1/messages as NDJSON) and
 * one message's bytes (GET /api/v1/message/ID/raw).
 *
 * Owns: turning the API's summaries (Mailpit's shape) into rows that merge
 * with a local listing, and printing them.  The API carries no envelope:
 * a remote row has no client, MAIL FROM or RCPT TO; its sender and
 * recipients are the message's From: and To: header addresses
 * (header_from, header_to in JSON; client, mail_from and rcpts are null).
 * Its time is the queue ID's (microseconds, as the spool's received time;
 * the API's Created has milliseconds), so rows from spools and nodes sort
 * together.
 *
 * Workload: a listing keeps every row of every node in memory (about 200
 * bytes each plus the strings), since a node sends its list whole; --limit
 * N asks each node for its N newest only.
 */
#ifndef SMTPSINK_SPOOL_REMOTE_LIST_H
#define SMTPSINK_SPOOL_REMOTE_LIST_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "queue_id.h"
#include "remote.h"

struct remote_row {
	char qid[QUEUE_ID_LEN + 1];
	uint64_t received_us;
	uint32_t node, shard;
	uint64_t size;
	char *subject, *from; /* Subject; the first From: address ("" when none) */
	char *first_to; /* the first To: address ("" when none) */
	char *to_json; /* the To: list as the API sent it: [{"Name":..,"Address":..}] */
	uint32_t to_count;
	size_t src; /* the node's index in the command's remotes */
};

struct remote_rows {
	struct remote_row *v;
	size_t n, cap;
};

/* Append node r's messages (its limit newest; 0: all) to rows, as rows of
 * source src: 0, or -1 after saying why (naming the node). */
int remote_list(struct remote *r, size_t src, uint64_t limit, struct remote_rows *rows);
/* Newest first (time, then queue ID), as spool_walk hands out. */
void remote_rows_sort(struct remote_rows *rows);
void remote_rows_free(struct remote_rows *rows);
/* True if a is newer than a local message at received_us with ID qid. */
bool remote_row_newer(const struct remote_row *a, uint64_t received_us, const char *qid);

/* One listing row: the ls table row, or the JSON object with "source". */
void remote_row_print(FILE *f, const struct remote_row *row, bool json, const char *source);

/* Message qid's raw bytes from node r: 0 with *out filled, 1 when the
 * node has no such message, -1 after saying why. */
int remote_raw(struct remote *r, const char *qid, struct remote_body *out);

#endif
