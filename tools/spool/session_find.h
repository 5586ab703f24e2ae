/*
 * tools/spool/session_find.h - one session report by its ID.
 *
 * Owns: finding a session record (spool_find) and decoding it, verified
 * (seg_reader_session), for `smtpsink-spool session ID` and the HTTP
 * API's GET /api/v1/session/{ID}.  Prints nothing.
 */
#ifndef SMTPSINK_SESSION_FIND_H
#define SMTPSINK_SESSION_FIND_H

#include "seg_reader.h"
#include "session_out.h"
#include "spool_dir.h"

enum session_find_result {
	SESSION_FOUND = 0,
	SESSION_NOT_FOUND = 1,
	SESSION_BAD_ID = 2, /* not a queue ID */
	SESSION_IS_MESSAGE = 3, /* the ID is a message's */
	SESSION_DAMAGED = 4, /* the record does not decode: *why says how */
};

/* Fill *v (~20 KiB: the caller's heap; its texts point into the record,
 * so *r stays open on SESSION_FOUND: close it after using *v): a result,
 * or -errno. */
int session_find(const struct spool_dir *d, const char *id, struct session_view *v, struct seg_reader *r,
		 const char **why);

#endif
