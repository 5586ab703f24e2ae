/*
 * tools/spool/session_find.c - one session report by ID (session_find.h).
 */
#include "session_find.h"

#include "spool_find.h"

int session_find(const struct spool_dir *d, const char *id, struct session_view *v, struct seg_reader *r,
		 const char **why)
{
	struct spool_index_entry e;
	int rc = spool_find(d, id, r, &e);
	if (rc == SPOOL_FIND_BAD_ID)
		return SESSION_BAD_ID;
	if (rc < 0 || rc == SPOOL_FIND_NOT_FOUND)
		return rc < 0 ? rc : SESSION_NOT_FOUND;
	enum msg_status st = e.flags & SPOOL_FLAG_SESSION ? seg_reader_session(r, &e, v) : MSG_OK;
	if (!(e.flags & SPOOL_FLAG_SESSION) || st != MSG_OK)
		seg_reader_close(r);
	*why = msg_status_text(st);
	if (!(e.flags & SPOOL_FLAG_SESSION))
		return SESSION_IS_MESSAGE;
	return st == MSG_OK ? SESSION_FOUND : SESSION_DAMAGED;
}
